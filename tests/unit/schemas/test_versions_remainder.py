"""schemas.versions: a v2 record = its v1 projection + the remainder kept beside it."""

from __future__ import annotations

import copy

from schemas.versions import (BY, ITEMS, join_parts, split_personal, to_v2, v1_projection,
                              v2_remainder)


def _project() -> dict:
    return {"name": "助老", "service_categories": ["0001", "1101"],
            "contact": {"name": "张伟", "email": "e@example.org"},
            "posts": [{"post_no": "P1", "name": "陪伴", "headcount": 3, "conditions": "健康"},
                      {"post_no": "P2", "name": "代购", "headcount": 2}],
            "checkin_points": [{"lng": 116.4, "lat": 39.9, "radius_m": 100, "type": "1",
                                "address": "建国门外大街1号"}],
            "links": {"team": "nid:8a8a0002"}, "albx0041": "x"}


def test_projection_and_remainder_give_the_record_back():
    record = _project()
    projected, _ = v1_projection("project", record)
    rest = v2_remainder("project", record)
    assert "conditions" not in projected["posts"][0] and "email" not in projected["contact"]
    assert rest["posts"] == {BY: "post_no", ITEMS: {"P1": {"conditions": "健康"}}}
    assert rest["checkin_points"] == {ITEMS: [{"type": "1", "address": "建国门外大街1号"}]}
    plain, sealed = split_personal("project", rest)
    assert "albx0041" in sealed and "contact" in sealed          # x-personal, or holds one
    assert "links" in plain and "service_categories" in plain
    back = to_v2("project", projected, join_parts(plain, sealed))
    assert back == {**record, "service_category": "0001"}


def test_posts_find_their_members_by_number_whatever_the_order():
    record = _project()
    projected, _ = v1_projection("project", record)
    projected["posts"].reverse()
    back = to_v2("project", projected, v2_remainder("project", record))
    assert {p["post_no"]: p.get("conditions") for p in back["posts"]} == {"P1": "健康", "P2": None}


def test_positional_members_lapse_when_the_array_changed_since():
    record = _project()
    projected, _ = v1_projection("project", record)
    rest = v2_remainder("project", record)
    projected["checkin_points"].append({"lng": 1.0, "lat": 2.0, "radius_m": 5})
    assert "type" not in to_v2("project", copy.deepcopy(projected), rest)["checkin_points"][0]


def test_codes_v1_lacks_stay_with_v2_and_v1_keeps_the_rest():
    volunteer = {"name": "王", "service_categories": ["0001", "1101"]}
    projected, _ = v1_projection("volunteer", volunteer)
    assert projected["service_categories"] == ["0001"]
    assert v2_remainder("volunteer", volunteer) == {"service_categories": ["0001", "1101"]}
    assert to_v2("volunteer", projected, v2_remainder("volunteer", volunteer)) == volunteer
    same = {"name": "王", "service_categories": ["0001"]}
    assert v2_remainder("volunteer", same) == {}


def test_complaint_keys_that_changed_meaning_come_back_under_v2s_names():
    complaint = {"category": "1", "kind": "2", "content": "c"}
    projected, _ = v1_projection("complaint", complaint)
    assert projected["kind"] == "1" and "category" not in projected
    assert to_v2("complaint", projected, v2_remainder("complaint", complaint)) == complaint
