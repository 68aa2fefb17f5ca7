"""A batch in schema version 2 (envelope ``schema_version: "2"``): each record is validated
against v2 (every national code, the national required flags), stored in the store's form
(v1) with the v2 members v1 cannot hold kept beside it (gateway/exchange/national.py)."""

from __future__ import annotations

from sqlalchemy import select

from gateway.store.models import Volunteer
from tests.integration.exchange_push import helpers as h


def _v2(record, **fields):
    out = dict(record, **fields)
    return out


def test_a_v2_batch_is_validated_against_v2_and_kept_as_v1(store_app, server, city):
    good = _v2(h.volunteer(21), service_fields=["0003", "1301"], wechat="wx_21",
               service_categories=["0001", "1101"])
    missing_national = h.volunteer(22)
    del missing_national["service_area"]                 # the national forms require it
    envelope = dict(h.envelope([h.item("volunteer", good), h.item("volunteer", missing_national)]),
                    schema_version="2")
    answer = h.push(server, city, envelope)
    assert answer.status_code == 200, answer.text
    results = {r["index"]: r for r in answer.json()["results"]}
    assert results[1]["status"] == "rejected"
    assert {(e["pointer"], e["rule"]) for e in results[1]["errors"]} == {
        ("/data/service_area", "schema.required")}
    # the first passes v2 and is kept: the v1 columns hold its v1 projection (the local
    # service category 1101, which v1's table lacks, left out there) and the rest of it is
    # kept beside them (test_v2_kept.py reads it back)
    assert results[0]["status"] == "created", results[0]
    assert "note" not in results[0]
    (national,), = h.rows(store_app, select(Volunteer.national).where(
        Volunteer.volunteer_no == results[0]["key"]))
    assert national["service_categories"] == ["0001", "1101"]
    assert national["service_fields"] == ["0003", "1301"]


def test_a_v2_batch_with_relaxed_national_requirements_reports_warnings(store_app, server, city):
    store_app.extensions["standard.engine"] = type(store_app.extensions["standard.engine"])(
        store_app.extensions["standard.engine"].regions, store_app.extensions["standard.engine"].tz,
        national_required="warn")
    record = h.volunteer(31)
    del record["service_area"]
    answer = h.push(server, city, dict(h.envelope([h.item("volunteer", record)]), schema_version="2"))
    [result] = answer.json()["results"]
    assert result["status"] == "created", result
    assert "/data/service_area (national.required)" in result["note"]


def test_a_v1_batch_is_as_before(store_app, server, city):
    answer = h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(41))]))
    [result] = answer.json()["results"]
    assert result["status"] == "created" and "note" not in result
