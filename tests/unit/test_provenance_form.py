"""The stored form of a person's provenance (gateway/store/models/common.py, FieldProvenance):
whatever mapping goes in comes back equal, the usual one — every field from one stamp —
as a single entry, and a mapping the joined form cannot hold is kept as it is."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.store.models.common import pack_provenance, unpack_provenance

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
