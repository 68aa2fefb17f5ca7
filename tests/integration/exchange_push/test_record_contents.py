"""办法 (2020) Art. 7: a service record holds 地点 and 活动负责人 (``place``,
``person_in_charge``); Art. 8: a training record holds its content (``content``). Pushed,
stored, shown and carried through a correction; signed pushes, SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from gateway.store.models import ServiceRecord, Training
from tests import factories
from tests.integration.exchange_push import helpers as h


def test_place_and_person_in_charge_are_kept_and_survive_a_correction(store_app, server, city,
                                                                      seeder):
    team_no = seeder.approved_team()
    out = h.push(server, city, h.envelope([
        h.item("project", factories.project(team_no=team_no, source_id="proj-a7",
                                            recruit_scope="5")),
        h.item("volunteer", h.volunteer(98))])).json()["results"]
    record = factories.service_record(
        volunteer_no=out[1]["key"], project_no=out[0]["key"], team_no=team_no,
        place="建外街道社区服务站", person_in_charge="刘强", recorded_at="2024-05-02",
        source_updated_at="2024-05-01T18:00:00")
    first = h.push(server, city, h.envelope([h.item("service_record", record)])).json()["results"][0]
    assert first["status"] == "created", first
    # a correction of the times keeps them (the sender sends them again)
    corrected = dict(record, ended_at="2024-05-01T12:00:00", hours=3,
                     source_updated_at="2024-05-02T09:00:00")
    second = h.push(server, city, h.envelope([h.item("service_record", corrected)])).json()["results"][0]
    assert second["status"] == "updated", second
    rows = dict((no, (place, person)) for no, place, person in h.rows(store_app, select(
        ServiceRecord.record_no, ServiceRecord.place, ServiceRecord.person_in_charge)))
    assert rows == {first["key"]: ("建外街道社区服务站", "刘强"),
                    second["key"]: ("建外街道社区服务站", "刘强")}
    # a new place alone is a change too
    moved = dict(corrected, place="朝阳区图书馆", source_updated_at="2024-05-03T09:00:00")
    third = h.push(server, city, h.envelope([h.item("service_record", moved)])).json()["results"][0]
    assert third["status"] == "updated"


def test_a_person_in_charge_of_a_wrong_shape_is_rejected(store_app, server, city, seeder):
    record = factories.service_record(person_in_charge="刘强123")
    result = h.push(server, city, h.envelope([h.item("service_record", record)])).json()["results"][0]
    assert result["status"] == "rejected"
    assert ("/data/person_in_charge", "schema.pattern") in {
        (e["pointer"], e["rule"]) for e in result["errors"]}


def test_a_trainings_content_is_kept(store_app, server, city, seeder):
    team_no = seeder.approved_team()
    volunteer_no = h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(99))])
                          ).json()["results"][0]["key"]
    training = factories.training(volunteer_no=volunteer_no, team_no=team_no,
                                  content="志愿服务理念、安全常识与助老服务技能")
    result = h.push(server, city, h.envelope([h.item("training", training)])).json()["results"][0]
    assert result["status"] == "created", result
    (data,), = h.rows(store_app, select(Training.data))
    assert data["content"] == "志愿服务理念、安全常识与助老服务技能"
