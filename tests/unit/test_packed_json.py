"""The stored forms of a person's provenance and of a history row's changes
(gateway/store/models/common.py, FieldProvenance and FieldChanges): whatever goes in comes
back equal; the usual values — every field from one stamp, a creation — in the small form;
anything the small form cannot hold is kept as it is."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.store.models.common import FieldChanges, pack_provenance, unpack_provenance

STAMPS = (st.text(max_size=8)
          | st.fixed_dictionaries({"source": st.text(max_size=8) | st.none(),
                                   "at": st.none() | st.sampled_from(
                                       ["2024-03-01T02:00:00+00:00", "2025-01-01T00:00:00+00:00"])}))
NAMES = st.text(max_size=12) | st.sampled_from(["name", "email", "v2:a", "a b", "", " "])


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.tuples(NAMES, st.integers(0, 3)), max_size=25), st.lists(STAMPS, min_size=4, max_size=4),
       st.booleans())
def test_what_is_packed_reads_back_equal(fields, stamps, copies):
    # fields share stamp objects (as provenance built by the merge does) or hold equal copies
    provenance = {name: (dict(stamps[i]) if copies and isinstance(stamps[i], dict) else stamps[i])
                  for name, i in fields}
    packed = pack_provenance(provenance)
    stored = orjson.loads(orjson.dumps(packed))  # through the database as JSON
    assert unpack_provenance(stored) == provenance
    if provenance and not any(" " in name for name in provenance):
        assert isinstance(packed, list)
        # one entry per distinct stamp
        distinct = []
        for stamp in provenance.values():
            if stamp not in distinct:
                distinct.append(stamp)
        assert len(packed) == len(distinct)


def test_one_source_for_every_field_is_one_entry_a_quarter_the_size():
    stamp = {"source": "city-01", "at": None}
    fields = ["name", "id_type", "id_number", "gender", "mobile", "birth_date", "email",
              "address", "nationality", "ethnicity", "education", "service_area"]
    provenance = {name: stamp for name in fields}
    packed = pack_provenance(provenance)
    assert packed == [[stamp, " ".join(fields)]]
    assert len(orjson.dumps(packed)) * 3 < len(orjson.dumps(provenance))


def test_mappings_stored_before_and_other_values_read_as_they_are():
    before = {"name": {"source": "a", "at": None}, "email": "b"}  # a bare string: older form
    assert unpack_provenance(before) == before
    assert unpack_provenance(None) is None and pack_provenance(None) is None
    assert pack_provenance({}) == {} and unpack_provenance({}) == {}
    spaced = {"a b": "x", "c": "x"}
    assert pack_provenance(spaced) == spaced  # kept whole: the joined form would split it


CHANGE_VALUES = st.none() | st.text(max_size=6) | st.lists(st.text(max_size=3), max_size=3)


@settings(max_examples=300, deadline=None, database=None)
@given(st.dictionaries(st.text(max_size=10), st.tuples(CHANGE_VALUES, CHANGE_VALUES), max_size=20))
def test_history_changes_read_back_equal(fields):
    changes = {name: {"old": old, "new": new} for name, (old, new) in fields.items()}
    packed = FieldChanges.pack(changes)
    assert FieldChanges.unpack(orjson.loads(orjson.dumps(packed))) == changes
    creation = bool(changes) and all(c["old"] is None for c in changes.values())
    assert isinstance(packed, list) == creation  # a creation's: the new values alone


def test_changes_of_another_shape_are_kept_as_they_are():
    for value in ({}, None, {"a": {"new": 1}}, {"a": {"old": None, "new": 1, "x": 2}},
                  {"a": "b"}, {"a": {"old": None, "neu": 1}}):
        assert FieldChanges.pack(value) == value and FieldChanges.unpack(value) == value
