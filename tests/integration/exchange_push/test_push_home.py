"""A push item's ``home`` (docs/protocol.md, Federation identity), through signed HTTP.

A malformed home is refused per item with a pointer under ``/home`` and nothing stored; a
home naming this gateway applies the record to that record of ours — whichever client sends
it — and an unknown or out-of-scope home number is a per-item error, never a new record.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway import store
from gateway.store.models import Team
from tests.integration.exchange_push import helpers as h

GATEWAY = "gw-home-test"


@pytest.fixture
def identified(store_app):
    store_app.config["GATEWAY_ID"] = GATEWAY
    return store_app


def _results(answer) -> list[dict]:
    assert answer.status_code == 200, answer.text[:500]
    return answer.json()["results"]


def _team_item(team_no_at_sender: str, name: str, home, area: str = h.AREA) -> dict:
    record = h.team(7, area=area, source_id=team_no_at_sender, team_no=team_no_at_sender, name=name)
    # Its credit code is no stored team's: it is found by its home alone. No source time, as
    # a gateway's feed gives none: the later write wins.
    record.pop("source_updated_at", None)
    item = h.item("team", record)
    item["home"] = home
    return item


@pytest.mark.parametrize("home, where", [
    ({"gateway": 5, "key": "T1"}, "/home/gateway"),
    ({"gateway": GATEWAY}, "/home/key"),
    ({"gateway": GATEWAY, "key": "T1", "extra": 1}, "/home/extra"),
    ({"gateway": GATEWAY, "key": "T1", "links": [{"field": "nope_no", "gateway": "g", "key": "k"}]},
     "/home/links/0"),
    ("T1", "/home"),
])
def test_a_malformed_home_is_refused_with_its_pointer(identified, server, city, home, where):
    before = h.count(identified, Team)
    (result,) = _results(h.push(server, city, h.envelope([_team_item("LT1", "队伍", home)])))
    assert result["status"] == "rejected"
    assert [(e["pointer"], e["rule"]) for e in result["errors"]] == [(where, "exchange.home")]
    assert h.count(identified, Team) == before


def test_a_home_naming_this_gateway_updates_that_record(identified, server, city, seeder):
    ours = seeder.approved_team()
    other_sender_number = "LT-AT-PEER-1"     # the number another gateway knows it by
    (result,) = _results(h.push(server, city, h.envelope([
        _team_item(other_sender_number, "改名后的队伍", {"gateway": GATEWAY, "key": ours})])))
    assert (result["status"], result["key"]) == ("updated", ours), result["errors"]
    with store.session_scope(identified) as session:
        team = session.execute(select(Team).where(Team.team_no == ours)).scalar_one()
        assert team.name == "改名后的队伍"
        assert team.source_system == "seed"           # still its first sender's
    # The same again changes nothing.
    (again,) = _results(h.push(server, city, h.envelope([
        _team_item(other_sender_number, "改名后的队伍", {"gateway": GATEWAY, "key": ours})])))
    assert (again["status"], again["key"]) == ("unchanged", ours)


def test_an_unknown_or_out_of_scope_home_is_an_error_never_a_new_record(identified, server, city,
                                                                        seeder):
    elsewhere = seeder.approved_team(area="440305")   # city-01 may act in region 11 only
    before = h.count(identified, Team)
    results = _results(h.push(server, city, h.envelope([
        _team_item("LT-X", "队伍甲", {"gateway": GATEWAY, "key": "T9999999999"}),
        _team_item("LT-Y", "队伍乙", {"gateway": GATEWAY, "key": elsewhere}),
        h.item("team", {"source_id": "LT-Z"}, op="delete") | {
            "home": {"gateway": GATEWAY, "key": "T9999999999"}},
    ])))
    assert [(r["status"], [(e["pointer"], e["rule"]) for e in r["errors"]]) for r in results] == [
        ("rejected", [("/home/key", "exchange.home_not_found")]),
        ("rejected", [("/home/key", "exchange.out_of_scope")]),
        ("rejected", [("/home/key", "exchange.home_not_found")]),
    ]
    assert h.count(identified, Team) == before
    with store.session_scope(identified) as session:
        assert session.execute(select(Team.name).where(Team.team_no == elsewhere)).scalar_one() \
            != "队伍乙"
