"""Issue 11, finding 7: the public verification limit holds across gunicorn workers.

A real ``vgw serve`` with two sync workers; the limit of verification requests on each
worker in turn (the other one held on a stalled connection, so each worker surely serves
its share).
With the default storage (a SQLite file shared on the host) and with Redis (db 2) exactly
the limit gets through; with ``memory://`` — the old default, kept as the control that shows
the requests really are spread — more do, and ``vgw serve`` warns at start.
"""

from __future__ import annotations

import socket
import time

import pytest
import requests

from tests.e2e.gunicorn_support import Gunicorn
from tests.e2e.sync_support import child_env

pytestmark = pytest.mark.slow

LIMIT = 5
REDIS_URI = "redis://127.0.0.1:6379/2"  # this branch's Redis database


def _verify(server: Gunicorn, i: int) -> requests.Response:
    # A new connection each time (no keep-alive): whichever worker is free accepts it.
    return requests.get(f"{server.url}/verify/C110105000{i:03d}?code=AAAAAAAA",
                        headers={"Accept": "application/json", "Connection": "close"}, timeout=30)


def _stall(server: Gunicorn) -> socket.socket:
    """Hold one free sync worker: it accepts this connection and waits for the rest of the
    request line (gunicorn's sync worker reads one request at a time)."""
    port = int(server.url.rsplit(":", 1)[1])
    held = socket.create_connection(("127.0.0.1", port), timeout=30)
    held.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    time.sleep(0.5)  # accepted by now
    return held


def _release(held: socket.socket) -> None:
    held.sendall(b"Connection: close\r\n\r\n")
    assert held.recv(100).startswith(b"HTTP/1.1 200")
    held.close()


def _spend(server: Gunicorn, per_worker: int) -> list[requests.Response]:
    """``per_worker`` verifications on each of the two workers, the other one held meanwhile:
    worker B while A waits on a stalled connection, then A while B waits on another."""
    first = _stall(server)                       # worker A held
    answers = [_verify(server, i) for i in range(per_worker)]             # all on B
    second = _stall(server)                      # B (the free one) held
    _release(first)                              # A free again
    answers += [_verify(server, per_worker + i) for i in range(per_worker)]  # all on A
    _release(second)
    return answers


def _serve(app, tmp_path, name: str, port: int, **settings) -> Gunicorn:
    env = child_env(app, VERIFY_RATE_LIMIT=f"{LIMIT} per minute", **settings)
    return Gunicorn(env, tmp_path / f"{name}.log", workers=2, port=port)


def _through(answers: list[requests.Response]) -> int:
    assert {a.status_code for a in answers} <= {200, 404, 429}, [a.status_code for a in answers]
    limited = [a for a in answers if a.status_code == 429]
    for answer in limited:
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert int(answer.headers["Retry-After"]) >= 1
    return len(answers) - len(limited)


@pytest.mark.parametrize("storage", ["default", "redis"])
def test_the_limit_holds_across_two_workers(app, tmp_path, storage):
    settings = {}
    if storage == "redis":
        redis = pytest.importorskip("redis")
        client = redis.Redis.from_url(REDIS_URI)
        try:
            client.flushdb()  # db 2 is this branch's alone
        except redis.ConnectionError:
            pytest.skip("no Redis on 127.0.0.1:6379")
        settings["RATELIMIT_STORAGE_URI"] = REDIS_URI
    server = _serve(app, tmp_path, storage, 22110 if storage == "default" else 22111, **settings)
    try:
        assert len(server.live_workers()) == 2
        answers = _spend(server, LIMIT)
    finally:
        server.stop()
    assert _through(answers) == LIMIT
    assert "counts in each of the" not in server.output()  # no warning: the store is shared
    if storage == "redis":
        assert any(b"vgw/127.0.0.1/public.verify" in k for k in client.keys("*")), client.keys("*")
        client.flushdb()


def test_memory_storage_multiplies_the_limit_and_serve_warns(app, tmp_path):
    server = _serve(app, tmp_path, "memory", 22112, RATELIMIT_STORAGE_URI="memory://")
    try:
        answers = _spend(server, LIMIT)
    finally:
        server.stop()
    assert _through(answers) == 2 * LIMIT  # each worker counted its own: the defect, caught
    assert "RATELIMIT_STORAGE_URI=memory:// counts in each of the 2 workers" in server.output()
