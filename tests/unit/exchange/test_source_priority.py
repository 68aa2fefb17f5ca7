"""The conflict policy between sources as pure functions (gateway/exchange/upserts.py):
SourcePriority decides whose write wins, merge_volunteer applies it field by field. No store,
no app: the rules of the module docstring ("Conflicts between sources"), one by one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gateway.exchange.upserts import Source, SourcePriority, Stamp, merge_volunteer, new_provenance

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
LATER = T0 + timedelta(hours=1)
POLICY = SourcePriority.from_setting(" national , city-01,, ")


def test_the_setting_lists_clients_highest_first_and_the_rest_rank_equal_below():
    assert POLICY.order == ["national", "city-01"]
    assert POLICY.rank("national") == 0 and POLICY.rank("city-01") == 1
    assert POLICY.rank("county-07") == POLICY.rank("other") == POLICY.rank(None) == 2
    assert SourcePriority.from_setting("").order == [] and SourcePriority().rank("any") == 0


@pytest.mark.parametrize("new, old, wins", [
    # nothing stored, or stored without a source: the write wins
    (Stamp("county-07", None), None, True),
    (Stamp("county-07", T0), Stamp(None, LATER), True),
    # a higher rank wins whatever the times say; a lower one loses whatever they say
    (Stamp("national", T0), Stamp("city-01", LATER), True),
    (Stamp("city-01", LATER), Stamp("national", T0), False),
    (Stamp("city-01", T0), Stamp("county-07", LATER), True),
    (Stamp("county-07", LATER), Stamp("city-01", T0), False),
    # equal rank (the same client, or two unlisted ones): strictly newer wins
    (Stamp("city-01", LATER), Stamp("city-01", T0), True),
    (Stamp("city-01", T0), Stamp("city-01", T0), False),
    (Stamp("city-01", T0), Stamp("city-01", LATER), False),
    (Stamp("county-07", LATER), Stamp("county-08", T0), True),
    (Stamp("county-07", T0), Stamp("county-08", LATER), False),
    # equal rank and a time missing on either side: they cannot be ordered, the later write wins
    (Stamp("county-07", None), Stamp("county-08", LATER), True),
    (Stamp("county-07", T0), Stamp("county-08", None), True),
])
def test_whose_write_wins(new, old, wins):
    assert POLICY.wins(new, old) is wins


def test_stamps_round_trip_and_read_the_older_bare_string_form():
    stamp = Stamp("city-01", datetime(2026, 5, 1, 16, 0, tzinfo=timezone(timedelta(hours=8))))
    assert stamp.as_json() == {"source": "city-01", "at": "2026-05-01T08:00:00+00:00"}
    assert Stamp.from_json(stamp.as_json()) == Stamp("city-01", T0)
    assert Stamp.from_json("national") == Stamp("national", None)
    assert Stamp.from_json({"source": "x", "at": "not a time"}) == Stamp("x", None)
    assert Stamp.from_json(None) is None and Stamp.from_json(7) is None


SOURCE = Source("city-01", LATER, POLICY, "batch-1")


def test_a_new_person_is_provided_by_the_sender_for_every_field_it_sent():
    data = {"name": "张三", "mobile": "13800138000", "volunteer_no": "X1", "source_id": "s1",
            "source_updated_at": "2026-05-01T16:00:00+08:00", "total_hours": "9", "star_level": "1"}
    stamp = Stamp("city-01", T0)
    assert new_provenance(stamp, data) == {"name": stamp.as_json(), "mobile": stamp.as_json()}


def test_fields_a_higher_source_provided_are_kept_the_rest_are_taken():
    old = {"name": "张三", "mobile": "13800138000", "email": "a@example.cn"}
    provenance = {"name": Stamp("national", T0).as_json(), "mobile": Stamp("city-01", T0).as_json()}
    stamp = Stamp("city-01", LATER)
    data = {"name": "张叁", "mobile": "13900139000", "email": "a@example.cn", "address": "北京",
            "source_id": "s1"}
    merge = merge_volunteer(SOURCE, stamp, data, old, provenance)
    # name: national ranks higher, kept; mobile: the same source, newer, taken; email: no stored
    # stamp, taken; address: not stored before, taken
    assert merge.record == {**data, "name": "张三"}
    assert merge.winning == ["mobile", "email", "address"]
    assert merge.note == "1 field(s) kept as provided by a higher-priority or newer source: name"
    merged = merge.provenance(provenance, stamp)
    assert merged["name"] == provenance["name"]
    assert merged["mobile"] == merged["email"] == merged["address"] == stamp.as_json()
    assert provenance["mobile"] == Stamp("city-01", T0).as_json()  # the stored one is not changed


def test_an_older_write_of_the_same_source_changes_nothing_and_says_so_only_for_differences():
    old = {"name": "张三", "mobile": "13800138000"}
    provenance = {f: Stamp("city-01", LATER).as_json() for f in old}
    stale = Stamp("city-01", T0)
    same = merge_volunteer(SOURCE, stale, dict(old), old, provenance)
    assert same.record == old and same.winning == [] and same.note is None
    differs = merge_volunteer(SOURCE, stale, {"name": "李四", "mobile": "13800138000"}, old, provenance)
    assert differs.record == old and differs.winning == []
    assert differs.note.endswith(": name")


def test_without_provenance_every_field_is_taken():
    old = {"name": "张三"}
    merge = merge_volunteer(SOURCE, Stamp("county-07", None), {"name": "李四"}, old, None)
    assert merge.record == {"name": "李四"} and merge.winning == ["name"] and merge.note is None
