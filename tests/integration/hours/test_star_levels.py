"""Star levels (星级) derive from cumulative effective hours: 100 / 300 / 600 / 1000 / 1500."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from gateway.services import hours
from tests.integration.hours import helpers

URL = "/api/v1/service-records"


@pytest.mark.parametrize("total,level", [
    ("0", 0), ("99.99", 0), ("100", 1), ("100.00", 1), ("299.99", 1), ("300", 2), ("599.99", 2),
    ("600", 3), ("999.99", 3), ("1000", 4), ("1499.99", 4), ("1500", 5), ("12000.50", 5)])
def test_star_level_thresholds(total, level):
    assert hours.star_level(Decimal(total)) == level


def test_thresholds_are_the_standards():
    assert hours.STAR_THRESHOLDS == tuple(Decimal(h) for h in (100, 300, 600, 1000, 1500))
    assert [hours.star_label(n) for n in range(6)] == [None, "一星级", "二星级", "三星级", "四星级", "五星级"]


def _seed_full_days(app, world, days: int, first=date(2024, 4, 1)):
    """``days`` effective records of 24 hours (00:00 to 24:00), entered through the service."""
    with helpers.service_ctx(app) as ctx:
        for n in range(days):
            day = (first + timedelta(days=n)).isoformat()
            hours.record_hours(ctx, helpers.record(world, day=day, start="00:00", end="24:00"))


def _totals(http, world, headers):
    return http.get(f"/api/v1/volunteers/{world.volunteer_no}/hours", headers=headers).get_json()


def test_crossing_100_hours_gives_one_star(store_app, http, world, team):
    _seed_full_days(store_app, world, 4)  # 96 h
    totals = _totals(http, world, team)
    assert totals["total_hours"] == "96.00" and totals["star_level"] is None
    answer = http.post(URL, json=helpers.record(world, day="2024-05-10", start="08:00", end="12:00"),
                       headers=team)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    totals = _totals(http, world, team)
    assert totals["total_hours"] == "100.00"
    assert totals["star_level"] == "1" and totals["star_label"] == "一星级"
    assert totals["effective_records"] == 5
    # Deleting the record that crossed the line takes the star back.
    http.delete(f"{URL}/{answer.get_json()['record_no']}", json={"reason": "录错"}, headers=team)
    totals = _totals(http, world, team)
    assert totals["total_hours"] == "96.00" and totals["star_level"] is None
    row = helpers.volunteer_row(store_app, world.volunteer_no)
    assert (row.total_hours, row.star_level) == (Decimal("96.00"), 0)


def test_crossing_1500_hours_gives_five_stars(store_app, http, world, team):
    _seed_full_days(store_app, world, 62)  # 1488 h
    assert _totals(http, world, team)["star_level"] == "4"
    answer = http.post(URL, json=helpers.record(world, day="2024-06-10", start="08:00", end="20:00"),
                       headers=team)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    totals = _totals(http, world, team)
    assert totals["total_hours"] == "1500.00"
    assert totals["star_level"] == "5" and totals["star_label"] == "五星级"
    assert totals["by_project"][0]["hours"] == "1500.00" and totals["by_project"][0]["records"] == 63


def test_totals_sent_with_a_volunteer_are_never_trusted(store_app, http, caller):
    from gateway.services import registration
    from tests import factories

    registry = caller(store_app, "registry", region="11", perms={"volunteer": ["read", "write"]})
    sent = factories.volunteer(total_hours=5000, star_level="5")
    answer = http.post("/api/v1/volunteers", json=sent, headers=registry)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    number = answer.get_json()["volunteer_no"]
    row = helpers.volunteer_row(store_app, number)
    assert (row.total_hours, row.star_level) == (Decimal("0"), 0)

    world = helpers.seed(store_app, existing_volunteer=number)
    team = caller(store_app, "team", region="11", perms=helpers.HOURS_PERMS, teams=(world.team_no,))
    assert http.post(URL, json=helpers.record(world), headers=team).status_code == 201

    # Another system sends the same person again with its own idea of the totals.
    with helpers.service_ctx(store_app, "other-system") as ctx:
        registration.upsert_volunteer(ctx, factories.volunteer(total_hours=9999, star_level="5",
                                                               address="北京市朝阳区光华路1号"),
                                      source_system="other-system", source_id="other-1")
    totals = _totals(http, world, team)
    assert totals["total_hours"] == "3.50" and totals["star_level"] is None
    row = helpers.volunteer_row(store_app, number)
    assert (row.total_hours, row.star_level) == (Decimal("3.50"), 0)

