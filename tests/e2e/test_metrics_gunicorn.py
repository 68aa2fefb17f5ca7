"""/metrics and JSON logs of a real ``vgw serve``: gunicorn with 2 workers on 127.0.0.1.

Signed pushes from several threads land on both workers (each worker's multiprocess file is
checked); a scrape, whichever worker answers it, shows the totals the store shows, and still
does after a worker is killed and replaced. The gunicorn log (LOG_FORMAT = json) is one JSON
object per line; the request lines carry the request id, client id and batch id, and no
personal data.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from gateway.exchange.client import GatewayClient
from gateway.store.models import MessageLog, Volunteer
from tests.conftest import _KEYS_DIR, _make_app, known_personal_data
from tests.e2e.gunicorn_support import Gunicorn
from tests.integration.exchange.helpers import register_client
from tests.integration.exchange_push import helpers as push_helpers

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _sum(found: dict, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and wanted <= ls)


@pytest.fixture(scope="module")
def gateway(sqlite_template, tmp_path_factory):
    work = tmp_path_factory.mktemp("metrics-gunicorn")
    database = work / "store.sqlite3"
    shutil.copy(sqlite_template, database)
    app = _make_app(f"sqlite:///{database}")
    keys = register_client(app, "city-01")
    folder = work / "multiproc"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"left by an earlier start")  # must be wiped
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_DATABASE_URL=app.config["DATABASE_URL"], GATEWAY_KEYS_DIR=_KEYS_DIR[0],
               GATEWAY_LOG_FORMAT="json", GATEWAY_METRICS_MULTIPROC_DIR=str(folder),
               PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    # the access log on: the test reads its request lines
    server = Gunicorn(env, work / "gunicorn.log", workers=WORKERS, timeout=None, access_log=True,
                      cwd=work)
    try:
        yield app, keys, server, folder
    finally:
        server.stop()
        app.extensions["store.engine"].dispose()


def _push_spread(app, keys, server, folder) -> None:
    """Batches from 4 threads until both workers have recorded records (at most 40)."""
    numbers = iter(range(1, 10_000))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def both_recorded() -> bool:
        return all((folder / f"counter_{pid}.db").exists() for pid in server.worker_pids())

    def work() -> None:
        client = GatewayClient(server.url, keys.client_id, keys.key_id, keys.private_pem,
                               timeout=(5, 60))
        try:
            for _ in range(10):
                with lock:
                    if errors or both_recorded():
                        return
                    batch = [next(numbers) for _ in range(6)]
                records = [push_helpers.item("volunteer", push_helpers.volunteer(i)) for i in batch]
                records.append(push_helpers.item("volunteer", push_helpers.volunteer(
                    batch[0] + 5000, gender="x")))  # rejected: schema.enum or code.unknown
                client.push(records)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            client.session.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    assert both_recorded(), (server.worker_pids(), sorted(p.name for p in folder.iterdir()))


def _store_totals(app) -> tuple[int, int, int]:
    """(volunteers, rejected records, done pushes) as the store has them."""
    with app.extensions["store.sessionmaker"]() as session:
        stored = session.scalar(select(func.count()).select_from(Volunteer))
        done = session.execute(select(MessageLog.summary).where(
            MessageLog.direction == "in", MessageLog.status == "done")).scalars().all()
    return stored, sum(s["rejected"] for s in done), len(done)


def _scrape(url: str) -> dict:
    answer = requests.get(url + "/metrics", timeout=30)
    assert answer.status_code == 200, answer.text
    return _samples(answer.text)


def test_pushes_over_both_workers_are_counted_as_the_store_counts_them(gateway):
    app, keys, server, folder = gateway
    assert not (folder / "counter_1.db").exists(), "the multiprocess folder was not wiped"
    _push_spread(app, keys, server, folder)
    stored, rejected, pushes = _store_totals(app)
    push = dict(channel="push", source="city-01", entity="volunteer")
    for _ in range(4):  # whichever worker answers
        found = _scrape(server.url)
        assert _sum(found, "vgw_records_total", outcome="created", **push) == stored > 0
        assert _sum(found, "vgw_records_total", outcome="rejected", **push) == rejected > 0
        assert _sum(found, "vgw_rejections_total", **push) >= rejected
        assert _sum(found, "vgw_push_duration_seconds_count", result="done") == pushes

    # A worker killed: gunicorn replaces it (child_exit marks it dead); its counts stay.
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while len(server.worker_pids()) < WORKERS + 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    server.wait_ready()
    found = _scrape(server.url)
    assert _sum(found, "vgw_records_total", outcome="created", **push) == stored


def test_requests_carry_an_id_and_log_json_lines_without_personal_data(gateway):
    app, keys, server, _folder = gateway
    sent = requests.get(server.url + "/readyz", headers={"X-Request-Id": "probe-0001"}, timeout=10)
    made = requests.get(server.url + "/readyz", timeout=10)
    odd = requests.get(server.url + "/readyz", headers={"X-Request-Id": "bad id\u00e9"}, timeout=10)
    assert sent.headers["X-Request-Id"] == "probe-0001"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])
    assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["X-Request-Id"])

    client = GatewayClient(server.url, keys.client_id, keys.key_id, keys.private_pem)
    client.session.headers["X-Request-Id"] = "push-req-0001"
    batch_id = f"b-{uuid.uuid4().hex[:12]}"
    client.push([push_helpers.item("volunteer", push_helpers.volunteer(9001))], batch_id=batch_id)
    client.session.close()

    deadline = time.monotonic() + 10
    lines: list[dict] = []
    while time.monotonic() < deadline:
        text = server.output()
        lines = [json.loads(line) for line in text.splitlines()
                 if line.strip()]
        if any(line.get("request_id") == "push-req-0001" for line in lines):
            break
        time.sleep(0.2)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    (pushed,) = [line for line in lines if line.get("request_id") == "push-req-0001"
                 and line["logger"] == "gateway.http"]
    assert (pushed["client_id"], pushed["batch_id"]) == ("city-01", batch_id)
    assert (pushed["route"], pushed["status"]) == ("/api/v1/exchange/batches", 200)
    assert any(line.get("request_id") == "probe-0001" for line in lines)
    assert any("Booting worker" in line["message"] for line in lines)  # the master's lines too
    text = server.output()
    assert not [s for s in known_personal_data() if s in text]
    assert push_helpers.citizen_id(9001) not in text
