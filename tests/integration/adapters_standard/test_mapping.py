"""The standard adapter's mapping: standard records both ways, identity by the sender's number.

No remote is needed for the mapping itself; the adapter is built against an address where
nothing is asked (building one never connects).
"""

from __future__ import annotations

import pytest

from adapters.standard import NUMBER_KEYS, StandardAdapter
from gateway.adapter import AdapterError, MappingError
from gateway.exchange.keys import generate_key_pair
from tests import factories

SETTINGS = {"base_url": "http://127.0.0.1:9", "client_id": "county-gw", "key_id": "k1",
            "private_key_pem": generate_key_pair("ed25519").private_pem.decode("ascii")}


@pytest.fixture
def adapter():
    with StandardAdapter(SETTINGS) as built:
        yield built


@pytest.mark.parametrize("entity", ["volunteer", "team", "project", "service_record", "training"])
def test_our_number_is_our_id_on_the_way_out_and_the_remote_s_on_the_way_in(adapter, entity):
    record = getattr(factories, entity)(source_id=factories.OMIT)
    number = record[NUMBER_KEYS[entity]]
    native = adapter.from_standard(entity, record)
    assert native == {**record, "source_id": number}
    assert adapter.to_standard(entity, native) == record
    assert "source_id" not in record                  # the input is not changed


def test_a_foreign_source_id_does_not_cross(adapter):
    """A local system's id for a record (which a feed publishes for service records) may
    collide with another system's: between gateways the id is the record's number."""
    record = factories.service_record(source_id="sr-1")
    assert adapter.from_standard("service_record", record)["source_id"] == record["record_no"]
    assert "source_id" not in adapter.to_standard("service_record", record)


def test_a_record_without_a_number_keeps_its_source_id(adapter):
    record = factories.volunteer(volunteer_no=factories.OMIT, source_id="vol-1")
    assert adapter.from_standard("volunteer", record) == record
    assert adapter.to_standard("volunteer", record) == record


def test_what_cannot_be_mapped(adapter):
    with pytest.raises(MappingError) as info:
        adapter.to_standard("volunteer", ["not", "an", "object"])    # type: ignore[arg-type]
    assert [(i.pointer, i.rule) for i in info.value.issues] == [("", "mapping.invalid")]
    with pytest.raises(MappingError) as info:
        adapter.from_standard("team", factories.team(team_no=17))
    assert [(i.pointer, i.rule) for i in info.value.issues] == [("/team_no", "mapping.invalid")]
    with pytest.raises(AdapterError):
        adapter.to_standard("membership", {})


def test_records_that_cannot_be_mapped_fail_alone_and_nothing_is_sent(adapter):
    """Nothing listens at the adapter's address: were anything sent, write would raise."""
    results = adapter.write("volunteer", [None, factories.volunteer(volunteer_no=5)])
    assert [r.ok for r in results] == [False, False]
    assert [r.errors[0].pointer for r in results] == ["", "/volunteer_no"]
    assert adapter.write("volunteer", []) == []


def test_it_says_how_the_remote_s_answers_are_verified():
    """Sync runs log this with every batch read: it must be true of the settings."""
    given = {"keys": [{"kid": "gw-1", "kty": "OKP", "crv": "Ed25519",
                       "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}
    for jwks, says in (("fetch", "verified against its JWK set as it publishes it"),
                       (given, "verified against its JWK set given in the settings"),
                       (None, "NOT verified")):
        with StandardAdapter({**SETTINGS, "gateway_jwks": jwks}) as adapter:
            assert says in adapter.verification
