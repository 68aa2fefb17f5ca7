"""Records are retained, not hard-deleted (《志愿服务记录与证明出具办法（试行）》 2020, Art. 13:
corrections keep the history): a pushed delete of a training, commendation, evaluation or
complaint leaves the row as a tombstone (``deleted_at``) and a ``delete`` entry in the
history; the same delete again is ``unchanged``; pushing the record again brings it back
with a ``restore`` entry. Real signed pushes to a gateway on 127.0.0.1, SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.store.models import Change, Commendation, Complaint, Evaluation, Training
from tests import factories
from tests.integration.exchange_push import helpers as h

MODELS = {"training": (Training, "training_no"), "commendation": (Commendation, "commendation_no"),
          "evaluation": (Evaluation, "evaluation_no"), "complaint": (Complaint, "complaint_no")}


@pytest.fixture
def linked(store_app, server, city, seeder):
    team_no = seeder.approved_team()
    out = h.push(server, city, h.envelope([
        h.item("project", factories.project(team_no=team_no, source_id="proj-r")),
        h.item("volunteer", h.volunteer(97)),
    ])).json()["results"]
    return {"team_no": team_no, "project_no": out[0]["key"], "volunteer_no": out[1]["key"]}


def _record(entity: str, links: dict) -> dict:
    make = getattr(factories, entity)
    if entity == "training":
        return make(volunteer_no=links["volunteer_no"], team_no=links["team_no"])
    if entity == "commendation":
        return make(volunteer_no=links["volunteer_no"], team_no=links["team_no"])
    return make(volunteer_no=links["volunteer_no"], project_no=links["project_no"],
                team_no=links["team_no"])


@pytest.mark.parametrize("entity", sorted(MODELS))
def test_a_pushed_delete_leaves_a_tombstone_and_history(store_app, server, city, linked, entity):
    model, number = MODELS[entity]
    record = _record(entity, linked)
    created = h.push(server, city, h.envelope([h.item(entity, record)])).json()["results"][0]
    assert created["status"] == "created", created
    key = created["key"]
    column = getattr(model, number)

    delete = h.envelope([h.item(entity, {number: record[number]}, op="delete")])
    deleted = h.push(server, city, delete).json()["results"][0]
    assert (deleted["status"], deleted["key"]) == ("deleted", key)
    # the row is kept, marked; its data is still there
    (deleted_at, data), = h.rows(store_app, select(model.deleted_at, model.data).where(column == key))
    assert deleted_at is not None and data
    assert h.count(store_app, Change, Change.entity == entity, Change.entity_no == key,
                   Change.action == "delete") == 1
    # deleting it again: nothing more happens
    again = h.push(server, city, delete).json()["results"][0]
    assert (again["status"], again["note"]) == ("unchanged", "already deleted")
    assert h.count(store_app, Change, Change.entity == entity, Change.entity_no == key,
                   Change.action == "delete") == 1
    # pushed again: back, with a restore in the history, under the same number
    back = h.push(server, city, h.envelope([h.item(entity, record)])).json()["results"][0]
    assert (back["status"], back["key"]) == ("updated", key)
    (deleted_at,), = h.rows(store_app, select(model.deleted_at).where(column == key))
    assert deleted_at is None
    actions = [a for (a,) in h.rows(store_app, select(Change.action).where(
        Change.entity == entity, Change.entity_no == key).order_by(Change.id))]
    assert actions == ["create", "delete", "restore"]
    assert h.count(store_app, model) == 1
