"""Gateways federating through the standard adapter, against real gateways on 127.0.0.1.

``remote`` runs on SQLite and on PostgreSQL (``store_app``). A local system pushes into a
county gateway and this adapter reads the county's feed; this adapter writes into a remote
gateway and reads its records back; a county's records travel up into a provincial gateway
with their links. Every request is signed and every answer verified for real.
"""

from __future__ import annotations

import pytest

from adapters.standard import NUMBER_KEYS, StandardAdapter
from gateway.adapter import NativeItem, ReadOnlyAdapter
from gateway.adapter_contract import contract_engine, read_all
from tests import factories
from tests.integration.adapters_standard.support import (canon, in_sender_terms, push_natives,
                                                         sample_records, wait_for_items)
from tests.integration.exchange_client.support import volunteers

ORDER = ("volunteer", "team", "project", "service_record")


def latest(items: list[NativeItem]) -> dict[str, NativeItem]:
    """The last change of each record (a record changed twice appears twice in a feed)."""
    return {item.source_id: item for item in items}


def test_reads_what_a_local_system_pushed_page_by_page_with_tombstones(remote, adapters):
    city = remote.register("city-system", region="11", pii="masked")
    pushed = list(volunteers(5, prefix="city"))
    keys = push_natives(remote, city, "volunteer", pushed)
    adapter = adapters(remote, remote.register("province-gw"), entities=["volunteer"])
    wait_for_items(adapter, "volunteer", 5)

    pages, cursor = [], None
    while True:
        page = adapter.read("volunteer", cursor, 2)
        pages.append(page)
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert [len(p.items) for p in pages] == [2, 2, 1]
    items = [item for page in pages for item in page.items]
    assert [i.source_id for i in items] == keys        # the county's numbers, in feed order
    assert all(i.op == "upsert" and i.location == f"volunteer {i.source_id}" for i in items)
    for item, sent in zip(items, pushed):
        record = adapter.to_standard("volunteer", item.native)
        assert record["volunteer_no"] == item.source_id and "source_id" not in record
        assert record["id_number"] == sent["id_number"]   # personal data in full: storable
        assert contract_engine().validate("volunteer", record).valid
    end = adapter.read("volunteer", cursor, 2)
    assert (end.items, end.next_cursor, end.has_more) == ([], cursor, False)

    gone = {"entity": "volunteer", "op": "delete", "data": {"source_id": pushed[1]["source_id"]}}
    push_natives(remote, city, "volunteer", [gone])
    with StandardAdapter(adapter.settings) as restarted:          # a new run, from the cursor
        (tombstone,) = wait_for_items(restarted, "volunteer", 1, cursor)
        assert (tombstone.op, tombstone.source_id, tombstone.native) == (
            "delete", keys[1], {"key": keys[1]})
        _, final, _ = read_all(restarted, "volunteer", cursor)
        assert final != cursor
        assert restarted.read("volunteer", final, 10).items == []


def test_writes_records_with_their_links_and_reads_them_back(remote, adapters):
    keys = remote.register("county-gw")
    adapter = adapters(remote, keys, read_own_writes=True)   # reads back what it wrote
    samples = sample_records()
    written = {}
    for entity in ORDER:
        results = adapter.write(entity, samples[entity])
        assert all(r.ok for r in results), [r.errors for r in results]
        written[entity] = [r.native_id for r in results]
        if entity == "team":
            remote.approve_teams(written["team"])
    # The remote found each record by our number, and gave it its own.
    ours = remote.sender_ids("county-gw")
    for entity, numbers in written.items():
        key = NUMBER_KEYS[entity]
        assert [ours[n] for n in numbers] == [r[key] for r in samples[entity]]
        assert not set(numbers) & {r[key] for r in samples[entity]}

    records = latest(wait_for_items(adapter, "service_record", 3))
    for number, sample in zip(written["service_record"], samples["service_record"]):
        native = records[number].native
        # Links name the remote's own records, which it translated from our numbers.
        for link, entity in (("volunteer_no", "volunteer"), ("project_no", "project"),
                             ("team_no", "team")):
            assert native[link] in written[entity] and ours[native[link]] == sample[link]
        assert adapter.to_standard("service_record",
                                   in_sender_terms(native, "service_record", ours)) == sample

    # Writing again (in other batches, so processed anew rather than replayed) changes nothing.
    changes = remote.change_count()
    with StandardAdapter({**adapter.settings, "batch_size": 1}) as again:
        for entity in ORDER:
            results = again.write(entity, samples[entity])
            assert [r.native_id for r in results] == written[entity]
    assert remote.change_count() == changes


def test_a_county_syncs_up_into_the_province(remote, remote_sqlite, adapters):
    """Records a local system pushed into the county travel, read from the county's feed and
    written into the province, with their links; the province knows them by the county's
    numbers."""
    county, province = remote, remote_sqlite
    city = county.register("city-system")
    samples = sample_records()
    for entity in ORDER:       # the local system's own numbers; the county translates links
        county_keys = push_natives(county, city, entity, samples[entity])
        if entity == "team":
            county.approve_teams(county_keys)
    from_county = adapters(county, county.register("province-gw"))
    into_province = adapters(province, province.register("county-gw"), read_own_writes=True)

    for entity in ORDER:
        items = latest(wait_for_items(from_county, entity, 3)).values()
        records = [from_county.to_standard(entity, item.native) for item in items]
        results = into_province.write(entity, records)
        assert all(r.ok for r in results), [r.errors for r in results]
        if entity == "team":
            province.approve_teams(r.native_id for r in results)
        # In the province, each record is the county's, in the county's numbers (less what
        # each gateway derives itself: a volunteer's total hours).
        ids = province.sender_ids("county-gw")
        back = latest(wait_for_items(into_province, entity, 3)).values()
        assert sorted(canon(into_province.to_standard(entity, in_sender_terms(i.native, entity, ids)))
                      for i in back) == \
            sorted(canon(in_sender_terms(r, entity, {})) for r in records)


def test_a_record_outside_the_clients_scope_is_refused_on_its_own(remote, adapters):
    adapter = adapters(remote, remote.register("beijing-gw", region="11"))
    volunteers_ = sample_records()["volunteer"]      # two in 110105, one in 440305 (Shenzhen)
    results = adapter.write("volunteer", volunteers_)
    assert [r.ok for r in results] == [True, True, False]
    (issue,) = results[2].errors
    assert (issue.pointer, issue.rule) == ("", "exchange.out_of_scope")
    assert issue.message_zh and issue.message_en
    assert all(r.native_id for r in results[:2]) and results[2].native_id is None


def test_a_rejected_record_points_into_the_record(remote, adapters):
    adapter = adapters(remote, remote.register("county-gw"))
    good, bad = sample_records()["volunteer"][:2]
    bad["mobile"] = "23800138000"
    results = adapter.write("volunteer", [bad, good])
    assert [r.ok for r in results] == [False, True]
    assert "/mobile" in [i.pointer for i in results[0].errors]
    assert all(i.rule for i in results[0].errors)


def test_an_unpushable_entity_is_refused_before_sending(remote_sqlite, adapters):
    adapter = adapters(remote_sqlite, remote_sqlite.register("county-gw"))
    with pytest.raises(ReadOnlyAdapter):
        adapter.write("certificate", [factories.certificate()])
    page = adapter.read("certificate", None, 10)       # the feed publishes them
    assert page.items == [] and page.has_more is False
