"""Each volunteer record that comes in is validated once (issue 13, item 1), whichever way it
comes: a signed push, a record of a sync run's page, a row of an uploaded spreadsheet.

The count is taken on the app's real engine: its ``validate`` is wrapped by a counter that
calls the engine itself, keyed by the record's document number, so a record validated again
anywhere on the way (the bulk path's screening, the exchange's upsert, the registration
service) counts twice. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from tests.integration.exchange_push import helpers as push_helpers
from tests.integration.sync_jobs import test_uploads as uploads
from tests.integration.sync_jobs.helpers import add_source, run, volunteers


class Validations(Counter):
    """``{id_number: times validated}`` of volunteer records; ``records[id_number]``: what
    was validated each time."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        self.teams: Counter = Counter()     # {uscc: times validated} of team records

    def clear(self) -> None:
        super().clear()
        self.records.clear()


@pytest.fixture
def validations(store_app, monkeypatch) -> Validations:
    """The volunteer records the app's own engine validates, counted as it validates them."""
    engine = store_app.extensions["standard.engine"]
    real = engine.validate
    counts = Validations()

    def counting(entity: str, record: Any, *args: Any, **kwargs: Any):
        if entity == "volunteer":
            number = record.get("id_number") if isinstance(record, dict) else None
            counts[number] += 1
            counts.records[number].append(dict(record) if isinstance(record, dict) else record)
        elif entity == "team":
            counts.teams[record.get("uscc") if isinstance(record, dict) else None] += 1
        return real(entity, record, *args, **kwargs)

    monkeypatch.setattr(engine, "validate", counting)
    return counts


def test_a_pushed_volunteer_is_validated_once_whatever_becomes_of_it(store_app, server, city,
                                                                    validations):
    people = [push_helpers.volunteer(i) for i in range(4)]
    invalid = push_helpers.volunteer(9, mobile="23800138000")
    first = push_helpers.push(server, city, push_helpers.envelope(
        [push_helpers.item("volunteer", p) for p in (*people, invalid)]))
    assert first.status_code == 200, first.text
    assert [r["status"] for r in first.json()["results"]] == ["created"] * 4 + ["rejected"]
    assert set(validations.values()) == {1} and len(validations) == 5

    validations.clear()
    changed = {**people[1], "email": "changed@example.com",
               "source_updated_at": "2024-04-01T09:00:00"}
    partial = {k: v for k, v in people[2].items() if k != "registration_area"}
    partial.update(email="partial@example.com", source_updated_at="2024-04-02T09:00:00")
    new = push_helpers.volunteer(5)
    second = push_helpers.push(server, city, push_helpers.envelope([
        push_helpers.item("volunteer", people[0]),     # unchanged: answered by the bulk path
        push_helpers.item("volunteer", changed),       # changed: one by one, through the services
        push_helpers.item("volunteer", new),           # new
        push_helpers.item("volunteer", new),           # the same again in the chunk: one by one
        push_helpers.item("volunteer", invalid),       # invalid again
        push_helpers.item("volunteer", partial),       # a field left out: stored + record differ
    ]))
    assert second.status_code == 200, second.text
    assert [r["status"] for r in second.json()["results"]] == [
        "unchanged", "updated", "created", "unchanged", "rejected", "updated"]
    assert validations == {people[0]["id_number"]: 1, people[1]["id_number"]: 1,
                           new["id_number"]: 2, invalid["id_number"]: 1,
                           # the record as sent, and the stored person with its fields (the
                           # left-out one kept): another record, whose rules across fields
                           # (a kept birth date against a new document…) are checked once
                           people[2]["id_number"]: 2}


def test_a_pushed_new_team_is_validated_once(store_app, server, city, validations):
    """The exchange validates the team, the registration service takes it as validated."""
    teams = [push_helpers.team(i) for i in range(2)]
    answer = push_helpers.push(server, city, push_helpers.envelope(
        [push_helpers.item("team", t) for t in teams]))
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["created", "created"]
    assert validations.teams == {t["uscc"]: 1 for t in teams}


def test_a_pulled_volunteer_is_validated_once(sync_app, platform, base_url, validations):
    platform.seed(volunteers=30)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])

    (result,) = run(sync_app, "zyh")

    assert (result.read, result.written) == (30, 30)
    assert len(validations) == 30 and set(validations.values()) == {1}

    validations.clear()
    native = platform.record("volunteer", 7)
    (answer,) = platform.push("volunteer", [{**native, "name": "改名字",
                                             "updatetime": "2025-06-01 08:00:00"}])
    assert answer["code"] == "000"
    (result,) = run(sync_app, "zyh")
    assert (result.read, result.written) == (1, 1)
    # The record as mapped, once; and, as it changes the person, what will be stored: the
    # stored person with the record's fields — another record (zyh365 sends no
    # registered_at: the store's own date is kept), whose rules across fields are checked once.
    ((number, times),) = validations.items()
    assert times == 2
    sent, stored = validations.records[number]
    assert sent["name"] == stored["name"] == "改名字"
    assert "registered_at" not in sent and "registered_at" in stored


def test_an_uploaded_spreadsheet_row_is_validated_once(sync_app, tmp_path, caller, validations):
    uploads._spreadsheet_source(sync_app, tmp_path / "drop", region="1101")
    people = [push_helpers.volunteer(i) for i in range(3)]
    headers = caller(sync_app, "district-office", region="11", perms={"sync": ["write"]})
    answer = sync_app.test_client().put(
        "/api/v1/sync/sources/team-sheet/files/志愿者.csv", data=uploads._csv(people),
        headers={**headers, "Content-Type": "text/csv"})
    assert answer.status_code == 201, answer.get_json()

    (result,) = run(sync_app, "team-sheet")

    assert (result.read, result.written) == (3, 3) and volunteers(sync_app) == 3
    assert validations == {p["id_number"]: 1 for p in people}
