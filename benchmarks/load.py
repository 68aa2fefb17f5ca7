"""Load held: concurrent signed pushers and change-feed readers against gunicorn on PostgreSQL.

    python -m benchmarks.load [--duration 150] [--pushers 20] [--readers 5] [--batch 20]
                              [--workers 4] [--port 0] [--admin-url URL]

Set-up: a fresh PostgreSQL database (``--admin-url``, default postgres@127.0.0.1:5432),
migrated with ``vgw db upgrade``; two clients with Ed25519 keys: ``load-push`` (volunteer
read + write) and ``load-feed`` (volunteer read), both country-wide. ``vgw serve``
(gunicorn, ``--workers`` sync workers; benchmarks/gunicorn_server.py) on 127.0.0.1. The
database is dropped and gunicorn stopped by its PID at the end, whatever happens.

For ``--duration`` seconds, ``--pushers`` threads each push signed JSON batches of
``--batch`` new, distinct volunteers (benchmarks/push.py's records: a unique citizen ID and
source id each) through :class:`gateway.exchange.client.GatewayClient`, one request after
the other, and ``--readers`` threads each follow the change feed (``GET
/api/v1/exchange/changes``, pages of up to 500) from the beginning, as a consumer would.
Clients make ONE attempt per request (``retries=1``): every failure is counted as an error,
none is hidden by a retry. When the time is up the pushers finish their request in hand
and the readers read the feed to its end.

Printed: requests, records, p50 / p99 / max latency per operation, errors per operation
(with the first few), and the checks:

- every pushed record is in the store exactly once (the volunteers, their source ids,
  one history entry each) and every answer said ``created``;
- every reader saw every change exactly once (each volunteer's creation, no change twice,
  none missing);
- thresholds: 0 errors, p99 of a push under ``--p99-push`` s, of a feed page under
  ``--p99-feed`` s — printed as met / NOT met. The exit status is 1 when a correctness
  check (errors, exactly once) fails; the latency thresholds are only printed (the figures
  depend on the machine and what else runs on it).
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.gunicorn_server import Gunicorn
from benchmarks.push import ADMIN_URL, Databases, _env, migrate, postgres_unreachable, volunteers

PUSH_CLIENT, FEED_CLIENT = "load-push", "load-feed"
FEED_PAGE = 500


# -- set-up -------------------------------------------------------------------------------------------

def register_clients(database_url: str, keys_dir: str) -> dict[str, tuple[str, bytes]]:
    """The pushers' and the readers' clients and their new Ed25519 keys: id → (key id, PEM)."""
    from gateway import create_app, store
    from gateway.services import clients
    from gateway.exchange import keys as client_keys

    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": keys_dir})
    found = {}
    with store.session_scope(app) as session:
        for client_id, perms in ((PUSH_CLIENT, ["read", "write"]), (FEED_CLIENT, ["read"])):
            pair = client_keys.generate_key_pair("ed25519")
            client = clients.create_client(session, client_id, f"load benchmark ({client_id})",
                                          permissions={"volunteer": perms})
            found[client_id] = (client_keys.add_key(session, client, pair.public_pem).key_id,
                                pair.private_pem)
    app.extensions["store.engine"].dispose()
    return found


def _client(url: str, client_id: str, keys: dict[str, tuple[str, bytes]]):
    from gateway.exchange.client import GatewayClient

    key_id, pem = keys[client_id]
    return GatewayClient(url, client_id, key_id, pem, timeout=(10, 120), retries=1)


# -- the workload -------------------------------------------------------------------------------------

@dataclass
class Operation:
    """Latencies and errors of one kind of request, from every thread."""

    name: str
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, started: float, error: str | None = None) -> None:
        took = time.perf_counter() - started
        with self.lock:
            self.seconds.append(took)
            if error is not None:
                self.errors.append(error)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.seconds)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Pushers:
    """``count`` threads pushing new volunteers until ``stop`` is set."""

    def __init__(self, url: str, keys, count: int, batch: int, stop: threading.Event):
        self.url, self.keys, self.batch, self.stop = url, keys, batch, stop
        self.op = Operation("push")
        self.records = volunteers(0, 10**7)
        self.lock = threading.Lock()
        self.pushed: list[str] = []      # source ids of the records answered "created"
        self.sent = 0
        self.not_created: Counter[str] = Counter()
        self.threads = [threading.Thread(target=self.work, name=f"pusher-{i}", daemon=True)
                        for i in range(count)]

    def work(self) -> None:
        client = _client(self.url, PUSH_CLIENT, self.keys)
        try:
            while not self.stop.is_set():
                with self.lock:
                    chunk = list(itertools.islice(self.records, self.batch))
                    self.sent += len(chunk)
                started = time.perf_counter()
                try:
                    result = client.push(chunk, entity="volunteer", batch_size=self.batch)
                except Exception as exc:  # noqa: BLE001 - counted and reported, not raised
                    self.op.record(started, f"{type(exc).__name__}: {str(exc)[:200]}")
                    continue
                self.op.record(started)
                with self.lock:
                    for record, row in zip(chunk, result.results):
                        if row.get("status") == "created":
                            self.pushed.append(record["source_id"])
                        else:
                            self.not_created[row.get("status", "?")] += 1
        finally:
            client.session.close()


class Reader(threading.Thread):
    """Follows the change feed from the beginning; once ``done`` (every push has been
    answered), reads it to its end."""

    def __init__(self, url: str, keys, number: int, done: threading.Event, op: Operation):
        super().__init__(name=f"reader-{number}", daemon=True)
        self.url, self.keys, self.done, self.op = url, keys, done, op
        self.seen: Counter[str] = Counter()         # volunteer_no → changes seen
        self.cursors: Counter[str] = Counter()      # change cursor → times seen
        self.drained = False

    def run(self) -> None:
        client = _client(self.url, FEED_CLIENT, self.keys)
        cursor = None
        try:
            while True:
                stopping = self.done.is_set()
                started = time.perf_counter()
                try:
                    page = client.changes_page(cursor, entity="volunteer", limit=FEED_PAGE)
                except Exception as exc:  # noqa: BLE001 - counted and reported, not raised
                    self.op.record(started, f"{type(exc).__name__}: {str(exc)[:200]}")
                    time.sleep(0.5)
                    continue
                self.op.record(started)
                for change in page.changes:
                    self.seen[change["key"]] += 1
                    self.cursors[change["cursor"]] += 1
                if page.next_cursor is not None:
                    cursor = page.next_cursor
                if not page.has_more:
                    if stopping:  # every push had ended before this page was asked for
                        self.drained = True
                        return
                    time.sleep(0.2)
        finally:
            client.session.close()


# -- the checks ---------------------------------------------------------------------------------------

def store_state(database_url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            scalar = lambda sql: conn.execute(text(sql)).scalar_one()  # noqa: E731
            return {
                "volunteers": scalar("SELECT count(*) FROM volunteers"),
                "people": scalar("SELECT count(DISTINCT id_index) FROM volunteers"),
                "source_ids": set(conn.execute(text(
                    "SELECT source_id FROM volunteer_sources WHERE source_system = :s"),
                    {"s": PUSH_CLIENT}).scalars()),
                "source_rows": scalar("SELECT count(*) FROM volunteer_sources"),
                "history": scalar("SELECT count(*) FROM changes WHERE entity = 'volunteer'"),
                "numbers": set(conn.execute(text("SELECT volunteer_no FROM volunteers")).scalars()),
            }
    finally:
        engine.dispose()


def _line(op: Operation, duration: float) -> str:
    n = len(op.seconds)
    return (f"  {op.name:<5} {n:>7,} requests ({n / duration:6.1f}/s)   p50 {op.percentile(50) * 1000:8.1f} ms"
            f"   p99 {op.percentile(99) * 1000:8.1f} ms   max {max(op.seconds, default=0) * 1000:8.1f} ms"
            f"   errors {len(op.errors)}")


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=150, help="seconds of load")
    parser.add_argument("--pushers", type=int, default=20, help="concurrent signed pushers")
    parser.add_argument("--readers", type=int, default=5, help="concurrent change-feed readers")
    parser.add_argument("--batch", type=int, default=20, help="volunteers per push")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=0, help="port to serve on (0: any free one)")
    parser.add_argument("--p99-push", type=float, default=10.0, help="threshold, seconds")
    parser.add_argument("--p99-feed", type=float, default=5.0, help="threshold, seconds")
    parser.add_argument("--admin-url", default=ADMIN_URL,
                        help="PostgreSQL URL to create the database with")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally blocks still run

    if postgres_unreachable(args.admin_url, "load"):
        return 0

    name = f"vgw_bench_load_{uuid.uuid4().hex[:8]}"
    databases = Databases(args.admin_url, [name])
    print(f"load benchmark: {args.pushers} signed pushers (batches of {args.batch} new "
          f"volunteers) and {args.readers} change-feed readers for {args.duration:.0f} s against "
          f"gunicorn ({args.workers} sync workers) on 127.0.0.1, PostgreSQL (fresh database); "
          f"{os.cpu_count()} CPU cores shared by clients, gateway and database (load average "
          f"{os.getloadavg()[0]:.2f} at the start)")
    databases.create()
    try:
        with tempfile.TemporaryDirectory(prefix="vgw-bench-load-") as tmp:
            work = Path(tmp)
            keys_dir = str(work / "keys")
            env = _env(databases.url(name), keys_dir, 64 << 20)
            migrate(env)
            keys = register_clients(databases.url(name), keys_dir)
            server = Gunicorn(env, work / "gunicorn.log", workers=args.workers, timeout=300,
                              keep_alive=30, port=args.port)
            try:
                ok = run(args, server.url, keys, databases.url(name))
            finally:
                server.stop()
    finally:
        databases.drop()
    return 0 if ok else 1


def run(args, url: str, keys, database_url: str) -> bool:
    stop, pushed_all = threading.Event(), threading.Event()
    pushers = Pushers(url, keys, args.pushers, args.batch, stop)
    feed_op = Operation("feed")
    readers = [Reader(url, keys, i, pushed_all, feed_op) for i in range(args.readers)]
    started = time.perf_counter()
    for thread in [*pushers.threads, *readers]:
        thread.start()
    time.sleep(args.duration)
    stop.set()
    for thread in pushers.threads:
        thread.join(timeout=180)
    load_seconds = time.perf_counter() - started
    pushed_all.set()
    for reader in readers:
        reader.join(timeout=180)
    state = store_state(database_url)

    print(f"\n{load_seconds:.1f} s of load; {pushers.sent:,} volunteers sent, "
          f"{len(pushers.pushed):,} answered 'created' "
          f"({len(pushers.pushed) / load_seconds:,.0f} records/s)")
    print(_line(pushers.op, load_seconds))
    print(_line(feed_op, load_seconds))
    for op in (pushers.op, feed_op):
        for error in op.errors[:5]:
            print(f"    {op.name} error: {error}")

    pushed = set(pushers.pushed)
    in_store_once = (len(pushed) == len(pushers.pushed) == state["volunteers"] == state["people"]
                     == state["source_rows"] == state["history"] and state["source_ids"] == pushed
                     and not pushers.not_created)
    print(f"\nevery pushed record in the store exactly once: {_verdict(in_store_once)} "
          f"(answered created {len(pushers.pushed):,}, other answers {dict(pushers.not_created)}; "
          f"store: {state['volunteers']:,} volunteers, {state['people']:,} people, "
          f"{state['source_rows']:,} source rows, {state['history']:,} history entries)")
    readers_ok = True
    for reader in readers:
        twice = sum(1 for n in reader.cursors.values() if n > 1) + \
            sum(1 for n in reader.seen.values() if n > 1)
        missing = len(state["numbers"] - set(reader.seen))
        extra = len(set(reader.seen) - state["numbers"])
        good = reader.drained and not twice and not missing and not extra
        readers_ok &= good
        print(f"  {reader.name}: {sum(reader.seen.values()):,} changes, {missing} missing, "
              f"{twice} seen twice, {extra} unknown{'' if reader.drained else ', NOT read to the end'}")
    print(f"every reader saw every change exactly once: {_verdict(readers_ok)}")
    no_errors = not pushers.op.errors and not feed_op.errors
    print(f"\nthresholds: 0 errors: {_verdict(no_errors)}; "
          f"p99 push < {args.p99_push:g} s: {_verdict(pushers.op.percentile(99) < args.p99_push)}; "
          f"p99 feed page < {args.p99_feed:g} s: {_verdict(feed_op.percentile(99) < args.p99_feed)}")
    return in_store_once and readers_ok and no_errors


if __name__ == "__main__":
    sys.exit(main())
