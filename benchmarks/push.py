"""Pushing volunteers to a gateway under gunicorn on PostgreSQL: records/s against the naive
path, and the serving worker's peak memory on one large NDJSON batch.

    python -m benchmarks.push [--count 100000] [--batch 500] [--naive-sample 5000]
                              [--big-mb 200] [--workers 3] [--threads 3]
    python -m benchmarks.push --against main [--sizes 20000,100000] [--rounds 1]
                              [--profile DIR]

Set-up: two fresh PostgreSQL databases (``--admin-url``, default postgres@127.0.0.1:5432),
migrated with ``vgw db upgrade`` (settings through ``GATEWAY_*`` variables); a client
``bench`` with write permission, its Ed25519 key pair generated and registered (the Python
API of ``vgw clients add`` / ``vgw keys add``). The records are distinct valid volunteers
from benchmarks/data.py (a unique citizen ID per record, random real counties), generated
before any clock starts. Both databases are dropped at the end, whatever happens.

Bulk path (what is measured). ``vgw serve`` (gunicorn, ``--workers`` sync workers, long
timeout) on 127.0.0.1; ``--count`` records pushed by :class:`GatewayClient` in signed JSON
batches of ``--batch`` from ``--threads`` threads. records/s is end to end: from the first
request to the last answer, with signing, HTTP, spooling, the message log, idempotency,
validation, the writes (gateway.exchange.bulk) and the signed answers. Every answer must
say ``created`` for every record, and the volunteers table must then hold ``--count`` rows.

Naive path, in the same run. The first ``--naive-sample`` of the same records, written the
straightforward way, in this process, into the second database: per record, validate with
the same engine, look the person up by blind index and by source id, build the same rows a
push writes for a new person — the volunteer (encrypted ID and mobile, masked copies, blind
indexes, a number from its row-locked counter), its volunteer_sources row, its history row
(changes) — ``session.add`` them, add the person to the statistics aggregates, and
``session.commit()``. It does the same work as the bulk path minus HTTP, signatures, the
message log and the answer, which favours it.

Memory. One NDJSON batch of about ``--big-mb`` MB in ONE request (not split), and one of a
tenth of that, each to a freshly started gunicorn with one worker, so the worker's peak
resident set (VmHWM in /proc/<pid>/status) belongs to that batch; both peaks and their
ratio are printed (flat memory: the ratio stays near 1 while the batch grows tenfold).
``--big-mb 0`` skips this part.

Against other code (``--against REF``). Only the bulk path, for each of ``--sizes`` and
``--rounds``, this tree and ``git archive REF`` (e.g. main) in turn, each on its own fresh
database (migrated by that tree's code, no ANALYZE) and its own gunicorn running that tree's
code: records/s and CPU per record (gateway workers + PostgreSQL backends, sampled from
/proc as benchmarks/peers.py does), then the ratios this tree / REF of the same run. The
machine may be loaded: the ratios of one interleaved run are what count. ``--profile DIR``
also records each gunicorn worker with py-spy (bench extra) and prints where their CPU went.

Metrics. While the bulk path pushes, ``/metrics`` of the same gunicorn is scraped about once
a second and ``vgw_records_total{channel="push", outcome="created"}`` is printed beside the
volunteers the store holds at that moment (the store may be a chunk ahead: a chunk is
counted just after its commit); once the pushes are done, one more scrape must show exactly
the store's count and every batch in ``vgw_push_duration_seconds_count``. ``--no-scrape``
leaves this out.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

import orjson
import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from benchmarks.data import VolunteerFactory
from benchmarks.gunicorn_server import Gunicorn

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CLIENT_ID = "bench"
#: Where the records of the memory batches start (the pushed ones start at 0).
BIG_OFFSET, SMALL_OFFSET = 2_000_000, 1_000_000


# -- records -----------------------------------------------------------------------------------------

def volunteers(start: int, count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Valid volunteers ``start`` … ``start + count - 1``, each with its own citizen ID.

    benchmarks/data.py draws the ID's sequence number at random; here the birth date and
    sequence number come from the record's number, so no two records name the same person.
    """
    factory = VolunteerFactory(seed + start)
    for i in range(start, start + count):
        record = factory.volunteer(i)
        born = date(1950, 1, 1) + timedelta(days=i // 500)
        male = record["gender"] == "1"
        body = f"{record['residence_area']}{born:%Y%m%d}{(i % 500) * 2 + male:03d}"
        record["id_number"] = body + _check_digit(body)
        record["birth_date"] = born.isoformat()
        record["source_id"] = f"src-{i}"
        record["email"] = f"v{i}@example.org"
        yield record


def _check_digit(body: str) -> str:
    from stdnum.cn import ric

    return ric.calc_check_digit(body + "0")  # stdnum ignores the last character


def write_ndjson(path: Path, megabytes: int, start: int) -> int:
    """An NDJSON batch of about ``megabytes`` MB (bare volunteer records); its record count."""
    target, size, count = megabytes * 1024 * 1024, 0, 0
    with path.open("wb") as out:
        for record in volunteers(start, 10**9):
            line = orjson.dumps(record) + b"\n"
            out.write(line)
            size += len(line)
            count += 1
            if size >= target:
                return count
    return count


# -- databases ---------------------------------------------------------------------------------------

@dataclass
class Databases:
    admin_url: str
    names: list[str]

    def url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create(self) -> None:
        with _admin(self.admin_url) as conn:
            for name in self.names:
                conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop(self) -> None:
        with _admin(self.admin_url) as conn:
            for name in self.names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_unreachable(admin_url: str, benchmark: str) -> bool:
    """True (and says so) when PostgreSQL at ``admin_url`` cannot be reached: the benchmark
    ``benchmark`` then has nothing to measure and ends with status 0."""
    try:
        with _admin(admin_url) as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connection failure: nothing to measure here
        print(f"{benchmark} benchmark skipped: PostgreSQL not reachable at "
              f"{make_url(admin_url).render_as_string()} ({type(exc).__name__})")
        return True
    return False


class _admin:
    def __init__(self, url: str):
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")

    def __enter__(self):
        self.conn = self.engine.connect()
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()
        self.engine.dispose()


def _env(database_url: str, keys_dir: str, max_push_bytes: int) -> dict[str, str]:
    return {**os.environ, "GATEWAY_DATABASE_URL": database_url, "GATEWAY_KEYS_DIR": keys_dir,
            "GATEWAY_MAX_PUSH_BYTES": str(max_push_bytes), "GATEWAY_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT)}


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "gateway.cli", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)


def register_client(database_url: str, keys_dir: str) -> tuple[str, bytes]:
    """Client ``bench`` (whole country, volunteer read+write) and its new Ed25519 key."""
    from gateway import create_app, store
    from gateway.services.clients import create_client
    from gateway.exchange import keys as client_keys

    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": keys_dir})
    pair = client_keys.generate_key_pair("ed25519")
    with store.session_scope(app) as session:
        client = create_client(session, CLIENT_ID, "push benchmark",
                                      permissions={"volunteer": ["read", "write"]})
        key_id = client_keys.add_key(session, client, pair.public_pem).key_id
    app.extensions["store.engine"].dispose()
    return key_id, pair.private_pem


def count_volunteers(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM volunteers")).scalar_one()
    finally:
        engine.dispose()


# -- the gateway under gunicorn ----------------------------------------------------------------------

def start_gateway(env: dict[str, str], workers: int, log: Path) -> Gunicorn:
    """``vgw serve`` on 127.0.0.1:<free port> with a long worker timeout, stopped by its PID."""
    return Gunicorn(env, log, workers=workers, timeout=3600, keep_alive=30)


# -- metrics: /metrics against the store ------------------------------------------------------------

def scrape_created(url: str) -> tuple[float, float]:
    """(records created by pushes, pushes answered) as /metrics of the gateway says."""
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(url + "/metrics", timeout=30).text
    created = answered = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "vgw_records_total" and sample.labels.get("channel") == "push" \
                    and sample.labels.get("outcome") == "created":
                created += sample.value
            elif sample.name == "vgw_push_duration_seconds_count":
                answered += sample.value
    return created, answered


class Scraper(threading.Thread):
    """Scrapes /metrics and counts the store's volunteers about once a second, until stopped."""

    def __init__(self, url: str, database_url: str):
        super().__init__(daemon=True)
        self.url, self.database_url = url, database_url
        self.done = threading.Event()
        self.seen: list[tuple[float, float, int]] = []   # (seconds, metrics, store)

    def run(self) -> None:
        engine = create_engine(self.database_url)
        started = time.perf_counter()
        try:
            while not self.done.wait(1.0):
                created, _ = scrape_created(self.url)
                with engine.connect() as conn:
                    stored = conn.execute(text("SELECT count(*) FROM volunteers")).scalar_one()
                self.seen.append((time.perf_counter() - started, created, stored))
        finally:
            engine.dispose()


def _client(url: str, key_id: str, private_pem: bytes):
    from gateway.exchange.client import GatewayClient

    return GatewayClient(url, CLIENT_ID, key_id, private_pem, timeout=(10, 3600), retries=3)


# -- the bulk path: signed batches over HTTP ---------------------------------------------------------

def push_all(url: str, key_id: str, private_pem: bytes, records: list[dict[str, Any]],
             batch: int, threads: int) -> tuple[float, dict[str, int]]:
    """Push ``records`` in batches from ``threads`` threads: (seconds, summed summary)."""
    batches = iter([records[i:i + batch] for i in range(0, len(records), batch)])
    lock = threading.Lock()
    totals: dict[str, int] = {}
    errors: list[BaseException] = []

    def work() -> None:
        client = _client(url, key_id, private_pem)
        try:
            while True:
                with lock:
                    chunk = next(batches, None)
                if chunk is None or errors:
                    return
                result = client.push(chunk, entity="volunteer", batch_size=batch)
                with lock:
                    for key, value in result.summary.items():
                        totals[key] = totals.get(key, 0) + value
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            client.session.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, totals


# -- the naive path: one ORM add and commit per record -----------------------------------------------

def naive(database_url: str, keys_dir: str, records: list[dict[str, Any]]) -> float:
    """Write ``records`` the straightforward way (see the module docstring); seconds taken."""
    from gateway import create_app, privacy, standard
    from gateway.caller import Caller
    from gateway.exchange.bulk import RememberingVault
    from gateway.exchange.upserts import Source, SourcePriority, new_provenance
    from gateway.services import registration
    from gateway.services.aggregates import count_volunteer
    from gateway.services.context import ServiceContext
    from gateway.store.models import Change, Volunteer, VolunteerSource

    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": keys_dir})
    caller = Caller(CLIENT_ID, permissions={"volunteer": frozenset({"read", "write"})})
    with app.app_context():
        session = app.extensions["store.sessionmaker"]()
        # The history is built from the plaintext just encrypted, as on the bulk path.
        ctx = ServiceContext(session=session, caller=caller, engine=standard.engine(),
                             vault=RememberingVault(privacy.vault()), config=app.config)
        source = Source(CLIENT_ID, ctx.now, SourcePriority(), "naive")
        started = time.perf_counter()
        for data in records:
            record = {k: v for k, v in data.items() if k not in ("total_hours", "star_level")}
            ctx.validate("volunteer", record)
            (index,) = registration.find_volunteers_by_number(ctx, record["id_number"],
                                                              record["id_type"])
            key = record.get("source_id") or record.get("volunteer_no")
            if session.scalar(select(Volunteer.id).where(Volunteer.id_index == index)) is not None \
                    or session.scalar(select(VolunteerSource.id).where(
                        VolunteerSource.source_system == CLIENT_ID,
                        VolunteerSource.source_id == key)) is not None:
                raise SystemExit("naive path: a record names a person already stored")
            volunteer = registration.build_volunteer(ctx, record, CLIENT_ID, record.get("source_id"))
            volunteer.provenance = new_provenance(source.stamp(ctx, data), data)
            volunteer.volunteer_no = ctx.volunteer_no(volunteer.area_code)
            session.add(volunteer)
            session.flush()  # the volunteer's id, for its source row
            source_no = record.get("volunteer_no")
            session.add(VolunteerSource(**registration.source_row_values(
                ctx, volunteer, CLIENT_ID, record.get("source_id"), source_no)))
            session.add(Change(**registration.creation_change_values(ctx, volunteer, CLIENT_ID,
                                                                     source_no)))
            count_volunteer(session, volunteer, +1)
            session.commit()
        elapsed = time.perf_counter() - started
        stored = session.scalar(select(func.count()).select_from(Volunteer))
        session.close()
    app.extensions["store.engine"].dispose()
    if stored != len(records):
        raise SystemExit(f"naive path: {stored} rows for {len(records)} records")
    return elapsed


# -- memory: one large NDJSON batch ------------------------------------------------------------------

def one_batch(env: dict[str, str], key_id: str, private_pem: bytes, path: Path, records: int,
              log: Path) -> tuple[float, float, float]:
    """Push the NDJSON file as ONE request to a fresh one-worker gunicorn:
    (worker peak RSS MB before, after, seconds)."""
    gateway = start_gateway(env, 1, log)
    try:
        (pid,) = gateway.worker_pids()
        before = gateway.peak_rss_mb(pid)
        client = _client(gateway.url, key_id, private_pem)
        started = time.perf_counter()
        # (each line grows by the {"entity", "op", "data"} wrapping: room for all of them)
        result = client.push_ndjson(path, entity="volunteer", chunk_bytes=2 * path.stat().st_size,
                                    keep="rejected")
        elapsed = time.perf_counter() - started
        client.session.close()
        if len(result.batches) != 1 or result.summary["created"] != records:
            raise SystemExit(f"the {path.name} batch: {len(result.batches)} request(s), "
                             f"summary {result.summary}")
        return before, gateway.peak_rss_mb(pid), elapsed
    finally:
        gateway.stop()


# -- against other code: this tree and REF's, interleaved ------------------------------------------

def _profilers(workers: list[int], into: Path) -> list[subprocess.Popen]:
    """py-spy recording each worker (collapsed stacks, raw format) until it is stopped."""
    spy = str(Path(sys.executable).parent / "py-spy")
    return [subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "100",
                              "--nonblocking", "--output", str(into.with_suffix(f".{pid}.txt"))],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for pid in workers]


def push_once(admin_url: str, code: Path | None, count: int, batch: int, workers: int,
              threads: int, profile: Path | None = None) -> dict[str, Any]:
    """One bulk push of ``count`` records to a fresh database with ``code``'s gateway (None:
    this tree): seconds and CPU seconds of the gateway and of PostgreSQL."""
    from benchmarks.peers import Sampler  # (peers imports this module)

    name = f"vgw_bench_push_{uuid.uuid4().hex[:8]}"
    databases = Databases(admin_url, [name])
    databases.create()
    try:
        with tempfile.TemporaryDirectory(prefix="vgw-bench-push-") as tmp:
            keys_dir = f"{tmp}/keys"
            env = _env(databases.url(name), keys_dir, 256 * 1024 * 1024)
            cwd = ROOT
            if code is not None:
                env["PYTHONPATH"], cwd = str(code), code
            subprocess.run([sys.executable, "-m", "gateway.cli", "db", "upgrade"], cwd=cwd,
                           env=env, check=True, stdout=subprocess.DEVNULL)
            key_id, private_pem = register_client(databases.url(name), keys_dir)
            records = list(volunteers(0, count))
            gateway = Gunicorn(env, Path(tmp) / "gunicorn.log", workers=workers, timeout=3600,
                               keep_alive=30, cwd=cwd, ready_seconds=300)
            spies: list[subprocess.Popen] = []
            try:
                if profile is not None:
                    spies = _profilers(gateway.worker_pids(), profile)
                    time.sleep(1.0)  # attached before the first request
                with Sampler(admin_url, name) as sampler:
                    seconds, summary = push_all(gateway.url, key_id, private_pem, records,
                                                batch, threads)
            finally:
                for spy in spies:
                    spy.send_signal(signal.SIGINT)
                for spy in spies:
                    try:
                        spy.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        spy.kill()
                        spy.wait()
                gateway.stop()
            stored = count_volunteers(databases.url(name))
            if summary.get("created") != count or stored != count:
                raise SystemExit(f"push: summary {summary}, {stored} volunteers for {count}")
            cpu = sampler.split()
            return {"seconds": seconds, "gateway": cpu.get("gateway") or 0.0,
                    "postgres": cpu.get("postgres") or 0.0}
    finally:
        databases.drop()


def against(args: argparse.Namespace) -> int:
    """``--against REF``: this tree and REF's code, interleaved, at each of ``--sizes``."""
    from benchmarks.sync_pull import export_tree, summarize_profile

    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[dict[str, Any]] = []
    print(f"push benchmark, this tree against {args.against}: {args.sizes} records, "
          f"{args.rounds} round(s), batches of {args.batch} from {args.threads} threads, "
          f"{args.workers} workers; fresh tables (no ANALYZE); load average "
          f"{os.getloadavg()[0]:.2f} at the start", flush=True)
    with tempfile.TemporaryDirectory(prefix="vgw-bench-codes-") as codes:
        trees: dict[str, Path | None] = {"this tree": None,
                                         args.against: export_tree(args.against, Path(codes))}
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            for round_ in range(args.rounds):
                order = list(trees.items())
                if round_ % 2:
                    order.reverse()
                for label, code in order:
                    profile = (args.profile / f"push-{label.replace(' ', '_').replace('/', '_')}"
                               f"-{size}-{round_ + 1}" if args.profile else None)
                    row = push_once(args.admin_url, code, size, args.batch, args.workers,
                                    args.threads, profile)
                    cpu = row["gateway"] + row["postgres"]
                    print(f"  {label:>10} {size:>9,}: {size / row['seconds']:>7,.0f} records/s, "
                          f"CPU {cpu / size * 1e6:,.0f} us/record (gateway "
                          f"{row['gateway'] / size * 1e6:,.0f}, PostgreSQL "
                          f"{row['postgres'] / size * 1e6:,.0f}); load {os.getloadavg()[0]:.2f}",
                          flush=True)
                    rows.append({**row, "code": label, "size": size, "profile": profile})
    print("\n| code | records | records/s | CPU us/rec | gateway us/rec | PostgreSQL us/rec |")
    print("|---|---|---|---|---|---|")
    best: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:
        key = (r["code"], r["size"])
        if key not in best or r["seconds"] < best[key]["seconds"]:
            best[key] = r
    for (label, size), r in best.items():
        print(f"| {label} | {size:,} | {size / r['seconds']:,.0f} | "
              f"{(r['gateway'] + r['postgres']) / size * 1e6:,.0f} | "
              f"{r['gateway'] / size * 1e6:,.0f} | {r['postgres'] / size * 1e6:,.0f} |")
    for size in sizes:
        mine, theirs = best[("this tree", size)], best[(args.against, size)]
        speed = theirs["seconds"] / mine["seconds"]
        cpu = ((theirs["gateway"] + theirs["postgres"]) / (mine["gateway"] + mine["postgres"]))
        print(f"{size:,} records (best of {args.rounds}): this tree {speed:.2f}x {args.against}'s "
              f"records/s, {cpu:.2f}x less CPU per record")
    if args.profile:
        for r in rows:
            for path in sorted(args.profile.glob(f"{r['profile'].name}.*.txt")):
                print(f"\n  where a worker's CPU went ({r['code']}, {r['size']:,}; {path}):")
                print("\n".join(summarize_profile(path)))
    rate = max(r["size"] / r["seconds"] for r in rows if r["code"] == "this tree")
    print(f"target signed push >= 10,000 records/s end to end (issue 14), this tree's best: "
          f"{rate:,.0f}/s: {'met' if rate >= 10_000 else 'NOT met'}")
    return 0


# -- the whole run -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--naive-sample", type=int, default=5_000,
                        help="records written by the naive path (the first of the same records)")
    parser.add_argument("--big-mb", type=int, default=200,
                        help="size of the large NDJSON batch (0: skip the memory part)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=3, help="client threads pushing batches")
    parser.add_argument("--no-scrape", dest="scrape", action="store_false",
                        help="do not scrape /metrics during and after the pushes")
    parser.add_argument("--admin-url", default=ADMIN_URL,
                        help="PostgreSQL URL to create the databases with")
    parser.add_argument("--against", metavar="REF", default=None,
                        help="only the bulk path: this tree and REF's code (git archive, e.g. "
                             "main), interleaved, at each of --sizes")
    parser.add_argument("--sizes", default="20000,100000",
                        help="with --against: comma-separated record counts")
    parser.add_argument("--rounds", type=int, default=1, help="with --against: rounds per size")
    parser.add_argument("--profile", metavar="DIR", type=Path, default=None,
                        help="with --against: py-spy each gunicorn worker into DIR")
    args = parser.parse_args(argv)
    # A SIGTERM (timeout, Ctrl-C from a supervisor) still stops the gateway and drops the
    # databases: the finally blocks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if postgres_unreachable(args.admin_url, "push"):
        return 0
    if args.against:
        return against(args)

    suffix = uuid.uuid4().hex[:8]
    push_db, naive_db = f"vgw_bench_push_{suffix}", f"vgw_bench_naive_{suffix}"
    databases = Databases(args.admin_url, [push_db, naive_db])
    sample = min(args.naive_sample, args.count)
    cores = os.cpu_count()
    print(f"push benchmark: {args.count:,} volunteers in signed batches of {args.batch} "
          f"({args.threads} client threads) to gunicorn ({args.workers} sync workers) on "
          f"127.0.0.1, PostgreSQL; {cores} CPU cores shared by client, gateway and database "
          f"(load average {os.getloadavg()[0]:.2f} at the start: other work slows both paths)")
    ok = True
    databases.create()
    try:
        with tempfile.TemporaryDirectory(prefix="vgw-bench-push-") as tmp:
            work = Path(tmp)
            keys_dir = str(work / "keys")
            limit = max(256, args.big_mb * 2) * 1024 * 1024
            env = _env(databases.url(push_db), keys_dir, limit)
            migrate(env)
            migrate(_env(databases.url(naive_db), keys_dir, limit))
            key_id, private_pem = register_client(databases.url(push_db), keys_dir)
            records = list(volunteers(0, args.count))

            gateway = start_gateway(env, args.workers, work / "gunicorn.log")
            scraper = Scraper(gateway.url, databases.url(push_db)) if args.scrape else None
            try:
                if scraper:
                    scraper.start()
                seconds, summary = push_all(gateway.url, key_id, private_pem, records,
                                            args.batch, args.threads)
                if scraper:
                    scraper.done.set()
                    scraper.join(timeout=60)
                    final = scrape_created(gateway.url)
            finally:
                gateway.stop()
            stored = count_volunteers(databases.url(push_db))
            all_created = summary.get("created") == args.count == summary.get("total")
            bulk_rate = args.count / seconds
            print(f"\nbulk path, HTTP end to end: {args.count:,} records in {seconds:.1f} s = "
                  f"{bulk_rate:,.0f} records/s; every answer 'created': "
                  f"{'yes' if all_created else f'NO {summary}'}; volunteers in the store: "
                  f"{stored:,}")
            ok &= all_created and stored == args.count
            print(f"target signed push >= 10,000 records/s end to end (issue 14): "
                  f"{bulk_rate:,.0f}/s: {'met' if bulk_rate >= 10_000 else 'NOT met'}")
            if scraper:
                batches = -(-args.count // args.batch)
                print(f"\n/metrics scraped during the pushes ({args.workers} workers, "
                      f"multiprocess mode): vgw_records_total{{channel=\"push\",outcome=\"created\"}}"
                      f" against the store's volunteers")
                for at, created, in_store in scraper.seen:
                    print(f"  {at:6.1f} s: metrics {created:>9,.0f}   store {in_store:>9,}")
                same = final[0] == stored and final[1] == batches
                print(f"  after the last answer: metrics {final[0]:,.0f} created in {final[1]:,.0f} "
                      f"pushes; store {stored:,} volunteers, {batches:,} batches sent — "
                      f"metrics show the store's counts: {'met' if same else 'NOT met'}")
                ok &= same

            naive_seconds = naive(databases.url(naive_db), keys_dir, records[:sample])
            naive_rate = sample / naive_seconds
            print(f"naive path, in-process (validate, look up, ORM add, commit per record; no "
                  f"HTTP), sample of the first {sample:,} records: {naive_seconds:.1f} s = "
                  f"{naive_rate:,.0f} records/s")
            ratio = bulk_rate / naive_rate
            print(f"ratio: {ratio:.1f}x — target >= 15x: {'met' if ratio >= 15 else 'NOT met'}")
            ok &= ratio >= 15
            del records

            if args.big_mb:
                small_mb = max(1, args.big_mb // 10)
                print("\nmemory: one NDJSON batch per freshly started gunicorn (1 sync worker), "
                      "ONE request each; the worker's VmHWM")
                peaks = []
                for megabytes, start in ((small_mb, SMALL_OFFSET), (args.big_mb, BIG_OFFSET)):
                    path = work / f"batch-{megabytes}mb.ndjson"
                    count = write_ndjson(path, megabytes, start)
                    before, peak, took = one_batch(env, key_id, private_pem, path, count,
                                                   work / f"gunicorn-{megabytes}.log")
                    size = path.stat().st_size / 2**20
                    path.unlink()
                    peaks.append(peak)
                    print(f"  {size:6.1f} MB ({count:,} records, {count / took:,.0f} records/s): "
                          f"worker peak RSS {peak:.1f} MB (after start-up {before:.1f} MB)")
                growth = peaks[1] / peaks[0]
                print(f"  peak ratio {args.big_mb} MB / {small_mb} MB batch: {growth:.2f} — "
                      f"memory flat: {'yes' if growth < 1.5 else 'NO'}")
                ok &= growth < 1.5
    finally:
        databases.drop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
