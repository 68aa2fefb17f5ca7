"""``GET /metrics`` in one process (the Flask test client over store_app: SQLite and PostgreSQL):
what pushes, refusals and sync runs count, what the store collector reads, who may scrape.

The counters live in this test process's registry for the whole session, so every test
compares the values after its own work with those before it.
"""

from __future__ import annotations

import re
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from gateway.store.models import DeadLetter, SyncRun, SyncSource, Volunteer
from tests import factories
from tests.conftest import known_personal_data, make_caller
from tests.integration.exchange_push import helpers as push_helpers
from tests.integration.sync_jobs.helpers import add_source, run, volunteers
from tests.simulators import zyh365 as sim

URL = "/api/v1/exchange/batches"
#: Every label name the gateway may use: bounded sets only (gateway/metrics.py).
LABELS = {"channel", "source", "entity", "outcome", "rule", "problem", "result", "direction",
          "status", "le"}


def scrape(client, **environ) -> dict[tuple[str, frozenset], float]:
    answer = client.get("/metrics", environ_base=environ or {})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    return samples(answer.get_data(as_text=True))


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and wanted <= ls)


def push(client, headers, records, batch_id=None):
    body = push_helpers.envelope(records, sender="metrics-city", batch_id=batch_id)
    answer = client.post(URL, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["summary"]


def test_pushed_records_are_counted_by_outcome_and_rejections_by_rule(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "metrics-city", perms={"*": ["read", "write"]})
    before = scrape(client)
    good = [push_helpers.item("volunteer", push_helpers.volunteer(i)) for i in range(1, 6)]
    bad_id = push_helpers.volunteer(7, id_number=factories.CITIZEN_ID[:-1] + "9")  # check digit
    bad = [push_helpers.item("volunteer", bad_id),
           push_helpers.item("volunteer", push_helpers.volunteer(8, gender="x"))]
    first = push(client, headers, good + bad)
    again = push(client, headers, good[:2])          # the same people: unchanged
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    with store_app.extensions["store.sessionmaker"]() as session:
        stored = session.scalar(select(func.count()).select_from(Volunteer))
    assert (first["created"], first["rejected"], again["unchanged"]) == (5, 2, 2)
    push_labels = dict(channel="push", source="metrics-city", entity="volunteer")
    assert delta("vgw_records_total", outcome="created", **push_labels) == stored == 5
    assert delta("vgw_records_total", outcome="rejected", **push_labels) == 2
    assert delta("vgw_records_total", outcome="unchanged", **push_labels) == 2
    rules = {dict(ls)["rule"]: v - before.get((n, ls), 0) for (n, ls), v in after.items()
             if n == "vgw_rejections_total" and dict(ls).get("source") == "metrics-city"}
    assert sum(1 for v in rules.values() if v > 0) >= 2, rules
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", rule) for rule in rules)
    assert delta("vgw_push_duration_seconds_count", result="done") == 2
    assert delta("vgw_push_duration_seconds_sum", result="done") > 0


def test_signature_refusals_are_counted_by_problem_type(app):
    client = app.test_client()
    before = scrape(client)
    unsigned = client.get("/api/v1/volunteers")
    garbled = client.post(URL, data=b"{}", headers={
        "Content-Type": "application/json", "Idempotency-Key": "k-1",
        "Signature-Input": "sig1=();created=1", "Signature": "sig1=:AAAA:", "Client-Id": "nobody"})
    after = scrape(client)
    assert unsigned.status_code == garbled.status_code == 401
    problems = [r.get_json()["type"].rsplit("/", 1)[1] for r in (unsigned, garbled)]
    for problem in set(problems):
        found = (value(after, "vgw_signature_refusals_total", problem=problem)
                 - value(before, "vgw_signature_refusals_total", problem=problem))
        assert found == problems.count(problem), (problem, found)
    assert (value(after, "vgw_push_duration_seconds_count", result="refused")
            - value(before, "vgw_push_duration_seconds_count", result="refused")) == 1


def test_sync_runs_records_dead_letters_and_last_success(store_app):
    """A pull from the simulated zyh365 platform with a narrow scope: some records written,
    the rest dead-lettered as out of scope; the metrics say what the store says."""
    store_app.config.update(SYNC_RETRY_BACKOFF_SECONDS=0, SYNC_RETRY_MAX_BACKOFF_SECONDS=0)
    client = store_app.test_client()
    platform = sim.Zyh365Platform(step_seconds=3600).seed(volunteers=24)
    before = scrape(client)
    with sim.running(platform) as base_url:
        add_source(store_app, "zyh-metrics", base_url, entities=["volunteer"],
                   scope={"region_prefix": "330102", "pii": "full"})
        (result,) = run(store_app, "zyh-metrics")
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    with store_app.extensions["store.sessionmaker"]() as session:
        pending = session.scalar(select(func.count()).select_from(DeadLetter)
                                 .where(DeadLetter.status == "pending"))
        finished = session.scalar(select(SyncRun.finished_at).join(SyncSource)
                                  .where(SyncSource.name == "zyh-metrics"))
    source = dict(channel="sync_pull", source="zyh-metrics", entity="volunteer")
    assert result.status == "partial" and 0 < volunteers(store_app) < 24
    assert delta("vgw_records_total", outcome="created", **source) == volunteers(store_app)
    assert delta("vgw_records_total", outcome="rejected", **source) == pending == result.dead_lettered
    assert delta("vgw_rejections_total", rule="exchange.out_of_scope", **source) == pending
    assert delta("vgw_sync_runs_total", source="zyh-metrics", direction="pull",
                 status="partial") == 1
    assert delta("vgw_sync_run_duration_seconds_count", source="zyh-metrics") == 1
    assert value(after, "vgw_dead_letters_pending", source="zyh-metrics") == pending
    stamp = value(after, "vgw_sync_last_success_timestamp_seconds", source="zyh-metrics",
                  direction="pull")
    assert abs(stamp - finished.replace(tzinfo=finished.tzinfo or __import__("datetime").timezone.utc)
               .timestamp()) < 1
    assert value(after, "vgw_store_up") == 1
    assert_no_personal_data(client.get("/metrics").get_data(as_text=True))

    # A replay of every dead letter (still out of scope) counts each record rejected again.
    from sync_jobs import dead_letters

    with sim.running(platform):
        summary = dead_letters.replay(store_app, dead_letters.Filter(source="zyh-metrics"),
                                      sleep=lambda _s: None)
    replayed = scrape(client)
    assert summary.failed == pending
    assert (value(replayed, "vgw_records_total", outcome="rejected", **source)
            - value(after, "vgw_records_total", outcome="rejected", **source)) == pending
    assert value(replayed, "vgw_sync_runs_total", source="zyh-metrics", status="partial") \
        == value(after, "vgw_sync_runs_total", source="zyh-metrics", status="partial") + 1


def assert_no_personal_data(text: str) -> None:
    """No known ID or mobile number, nothing shaped like one, no batch or record id, and only
    the bounded label names."""
    for secret in known_personal_data():
        assert secret not in text
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("vgw_"):
            assert family.name.startswith(("process_", "python_")), family.name  # the library's
            continue
        for sample in family.samples:
            assert set(sample.labels) <= LABELS, sample
            for label in sample.labels.values():
                assert not re.search(r"\d{11}", label), sample
                # the tests' own batch and record ids (b-…, vol-…, src-… and a number); a client
                # id such as "vol-only" of another module's test is a bounded label
                assert not re.match(r"(b|vol|src)-\d", label), sample


def test_labels_carry_no_personal_data_or_client_text(app):
    """Entities, rule ids and batch ids are the client's text: only bounded values become labels."""
    client = app.test_client()
    headers = make_caller(app, "metrics-city", perms={"*": ["read", "write"]})
    odd = [{"entity": factories.CITIZEN_ID, "op": "upsert", "data": {}},
           {"entity": "volunteer", "op": "upsert",
            "data": push_helpers.volunteer(3, mobile="13800138000", name="王淑兰",
                                           id_number=factories.CITIZEN_ID)},
           {"entity": "volunteer", "op": "upsert", "data": {"13800138000": 1}}]
    push(client, headers, odd, batch_id=f"b-{factories.CITIZEN_ID}")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'entity="other"' in text
    assert_no_personal_data(text)


@pytest.mark.parametrize(("settings", "environ", "headers", "status"), [
    ({}, {"REMOTE_ADDR": "127.0.0.1"}, {}, 200),
    ({}, {"REMOTE_ADDR": "203.0.113.9"}, {}, 403),
    ({}, {"REMOTE_ADDR": "203.0.113.9"}, {"X-Forwarded-For": "127.0.0.1"}, 403),  # not trusted
    ({"PROXY_FIX": 1}, {"REMOTE_ADDR": "127.0.0.1"}, {"X-Forwarded-For": "203.0.113.9"}, 403),
    ({"PROXY_FIX": 1}, {"REMOTE_ADDR": "10.0.0.2"}, {"X-Forwarded-For": "127.0.0.1"}, 200),
    ({"METRICS_ALLOW": "10.0.0.0/8"}, {"REMOTE_ADDR": "10.20.30.40"}, {}, 200),
    ({"METRICS_ALLOW": "10.0.0.0/8"}, {"REMOTE_ADDR": "127.0.0.1"}, {}, 403),
    ({"METRICS_ALLOW": ""}, {"REMOTE_ADDR": "127.0.0.1"}, {}, 403),
])
def test_only_allowed_addresses_may_scrape(sqlite_template, tmp_path, settings, environ,
                                           headers, status):
    import shutil

    from tests.conftest import _make_app

    path = tmp_path / "store.sqlite3"
    shutil.copy(sqlite_template, path)
    app = _make_app(f"sqlite:///{path}", **settings)
    try:
        answer = app.test_client().get("/metrics", environ_base=environ, headers=headers)
        assert answer.status_code == status
        if status == 403:
            assert answer.headers["Content-Type"] == "application/problem+json"
            assert answer.get_json()["type"] == "/problems/metrics-not-allowed"
            assert "vgw_" not in answer.get_data(as_text=True)
    finally:
        app.extensions["store.engine"].dispose()


def test_settings_refuse_a_bad_network(tmp_path):
    from gateway.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="METRICS_ALLOW"):
        load_settings(str(tmp_path), overrides={"METRICS_ALLOW": "127.0.0.1/33"}, environ={})
    with pytest.raises(SettingsError, match="LOG_FORMAT"):
        load_settings(str(tmp_path), overrides={"LOG_FORMAT": "xml"}, environ={})


def test_the_scheduler_endpoint_refuses_addresses_not_allowed():
    """The scheduler's own /metrics (gateway.metrics.wsgi_app), called as its server calls it."""
    from gateway.metrics import wsgi_app

    served = wsgi_app("10.0.0.0/8, ::1")
    answers = []

    def call(address: str, path: str = "/metrics") -> tuple[str, bytes]:
        def start_response(status, headers):
            answers.append((status, dict(headers)))
        body = b"".join(served({"REMOTE_ADDR": address, "PATH_INFO": path,
                                "REQUEST_METHOD": "GET"}, start_response))
        return answers[-1][0], body

    status, body = call("127.0.0.1")
    assert status.startswith("403") and b"metrics-not-allowed" in body
    assert answers[-1][1]["Content-Type"] == "application/problem+json"
    status, body = call("10.1.1.1")
    assert status.startswith("200") and b"# HELP" in body
    assert call("::1")[0].startswith("200")
    assert call("10.1.1.1", "/elsewhere")[0].startswith("404")
