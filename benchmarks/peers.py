"""The gateway's ingestion beside the loaders users know (issue 14, item 4): one table of one run.

    python -m benchmarks.peers [--records 100000] [--rounds 3]
                               [--paths push,pull,naive,dlt,singer,copy] [--million]

Every path loads N volunteers into the same local PostgreSQL (``--admin-url``, default
postgres@127.0.0.1:5432), each run into a database of its own, created for it and dropped
after it: fresh tables (the server's autovacuum setting is printed; this benchmark never
runs ANALYZE). The paths, each run ``--rounds`` times in rotation (push, pull, …, push, pull,
…) so that a slow moment of a shared machine falls on all of them; the table shows each
path's median round:

- ``push``: the gateway's signed push end to end (benchmarks/push.py's machinery: a migrated
  database, client ``bench``, ``vgw serve`` under gunicorn, ``push_all`` from client threads);
- ``pull``: one ``vgw sync run`` from the zyh365 simulator (benchmarks/sync_pull.py's
  ``measure``, never ANALYZE); the simulator serves the same N volunteers as the other
  paths load (benchmarks/push.py ``volunteers``, in the platform's form: the fields it holds,
  see sync_pull.platform_volunteers);
- ``naive``: benchmarks/push.py's naive path (validate, look up, ORM add, commit per record)
  on the first ``--naive-sample`` records;
- ``dlt``: ``dlt[postgres]`` with its defaults (``pipeline.run`` of the records), in its own
  virtual environment under build/peers/ (created with pip on the first run, versions pinned);
- ``singer``: meltanolabs-target-postgres fed the records as a Singer stream on stdin
  (SCHEMA, RECORD…, STATE; key ``source_id``; ``validate_records`` on), own venv likewise;
- ``copy``: ``psql \\copy`` of the same rows (CSV) into a plain table: the ceiling.

push, naive, dlt, singer and copy load the same records (benchmarks/push.py ``volunteers``:
benchmarks/data.py's generator with a distinct citizen ID each), written to files before any
clock starts. records/s is each path's own wall time: push from the first request to the last
answer; pull the sync run's duration (sync_runs); naive its loop; dlt, singer and psql their
process from start to exit (start-up included); their CPU is exact (getrusage of the waited child).

CPU split: while a path runs, a sampler reads every 0.2 s the CPU times (/proc/<pid>/stat)
of this process's descendants — classed as gateway (``gateway.cli``: gunicorn's master and
workers, the sync process), peer (dlt, target-postgres, psql) and simulator — and of the
PostgreSQL backends serving the path's database (pg_stat_activity); client is this process
(the push client threads, the naive loop). A process that ends between two samples loses at
most 0.2 s. Peak RSS is the largest VmHWM of the gateway's (or the peer's) processes.

``--million`` runs push and pull at 100,000 and at 1,000,000 records (one round each) and
compares cost per record (wall and CPU) and peak RSS. Targets (met / NOT met, exit 1 when
one is not met): push ≥ 10,000 records/s and ≥ 2× dlt; pull ≥ 6,000 records/s on fresh
tables; with ``--million``: cost per record at 1,000,000 ≤ at 100,000 and memory flat (peak
RSS at 1,000,000 < 1.5× that at 100,000).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks import push as push_bench
from benchmarks import sync_pull
from benchmarks.zyh365_pull import peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / "build" / "peers"
ALL_PATHS = ("push", "pull", "naive", "dlt", "singer", "copy")
#: The peers' versions, pinned: a figure names what it measured.
PEER_PACKAGES = {"dlt": ["dlt[postgres]==1.31.0"],
                 "singer": ["meltanolabs-target-postgres==0.8.1"]}
STREAM = "volunteers"
CLASSES = ("gateway", "peer", "postgres", "simulator", "client")
TICK = os.sysconf("SC_CLK_TCK")


# -- records as the peers take them ---------------------------------------------------------------

def singer_schema(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The Singer SCHEMA message's JSON Schema for these records: every field seen, string
    or array of strings (as the generator makes them), ``source_id`` required."""
    properties: dict[str, Any] = {}
    for record in records:
        for key, value in record.items():
            if key in properties:
                continue
            if isinstance(value, list):
                properties[key] = {"type": ["array", "null"], "items": {"type": "string"}}
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                properties[key] = {"type": ["string", "null"]}
            else:
                properties[key] = {"type": ["number", "null"]}
    return {"type": "object", "properties": properties, "required": ["source_id"]}


def singer_messages(records: list[dict[str, Any]], stream: str = STREAM) -> Iterator[bytes]:
    """The Singer stream of ``records``: one SCHEMA (key ``source_id``), one RECORD each, and
    a STATE naming the last ``source_id``; one JSON line each."""
    yield orjson.dumps({"type": "SCHEMA", "stream": stream, "schema": singer_schema(records),
                        "key_properties": ["source_id"]}) + b"\n"
    for record in records:
        yield orjson.dumps({"type": "RECORD", "stream": stream, "record": record}) + b"\n"
    last = records[-1]["source_id"] if records else None
    yield orjson.dumps({"type": "STATE", "value": {"bookmarks": {stream: {"source_id": last}}}}) + b"\n"


def copy_columns(records: list[dict[str, Any]]) -> list[str]:
    """The COPY table's columns: every field of the records, in first-seen order."""
    return list(dict.fromkeys(key for record in records for key in record))


def write_csv(path: Path, records: list[dict[str, Any]], columns: list[str]) -> None:
    """The rows for COPY (CSV): lists as JSON text (a jsonb column), absent fields empty (NULL)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        for record in records:
            writer.writerow([orjson.dumps(v).decode() if isinstance(v, list) else
                             ("" if v is None else v) for v in (record.get(c) for c in columns)])


# -- figures: one result per path and round; the table and the targets ---------------------------

@dataclass
class Result:
    path: str
    records: int
    seconds: float
    cpu: dict[str, float | None] = field(default_factory=dict)   # seconds per class
    peak_rss_mb: float | None = None

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_record_us(self) -> float:
        return sum(v for v in self.cpu.values() if v) / self.records * 1e6 if self.records else 0.0


def median_result(results: list[Result]) -> Result:
    """The round whose records/s is the median (the lower one of an even count)."""
    ordered = sorted(results, key=lambda r: r.rate)
    return ordered[(len(ordered) - 1) // 2]


def ratio(value: float | None, against: float | None) -> str:
    return f"{value / against:.2f}x" if value and against else "–"


def _share(seconds: float | None, total: float) -> str:
    return "–" if seconds is None else f"{seconds:.1f} ({100 * seconds / total:.0f}%)"


def table(rows: dict[str, Result]) -> str:
    """One line per path: records/s, ratios against dlt and COPY, CPU split, peak RSS."""
    dlt = rows["dlt"].rate if "dlt" in rows else None
    copy = rows["copy"].rate if "copy" in rows else None
    head = (f"| {'path':<7} | {'records':>9} | {'records/s':>9} | {'x dlt':>6} | {'x COPY':>6} | "
            + " | ".join(f"{c + ' CPU s':>15}" for c in CLASSES)
            + f" | {'CPU us/rec':>10} | {'peak RSS MB':>11} |")
    lines = [head, "|" + "|".join("-" * (len(cell)) for cell in head.split("|")[1:-1]) + "|"]
    for name, r in rows.items():
        cpu = r.cpu
        total = sum(v for v in cpu.values() if v) or 1.0
        cells = [_share(cpu.get(c), total) for c in CLASSES]
        rss = f"{r.peak_rss_mb:,.1f}" if r.peak_rss_mb is not None else "–"
        lines.append(f"| {name:<7} | {r.records:>9,} | {r.rate:>9,.0f} | {ratio(r.rate, dlt):>6} | "
                     f"{ratio(r.rate, copy):>6} | " + " | ".join(f"{c:>15}" for c in cells)
                     + f" | {r.cpu_per_record_us:>10,.0f} | {rss:>11} |")
    return "\n".join(lines)


def targets(rows: dict[str, Result],
            scale: dict[str, tuple[Result, Result]] | None = None) -> list[tuple[str, str, bool | None]]:
    """(target, what was measured, met: True / False / None when not measured)."""
    out: list[tuple[str, str, bool | None]] = []
    push, pull, dlt = rows.get("push"), rows.get("pull"), rows.get("dlt")
    out.append(("push >= 10,000 records/s", f"{push.rate:,.0f}/s" if push else "not run",
                push.rate >= 10_000 if push else None))
    out.append(("push >= 2x dlt in the same run",
                f"{push.rate / dlt.rate:.2f}x" if push and dlt else "push or dlt not run",
                push.rate >= 2 * dlt.rate if push and dlt else None))
    out.append(("pull >= 6,000 records/s, fresh tables", f"{pull.rate:,.0f}/s" if pull else "not run",
                pull.rate >= 6_000 if pull else None))
    for name in ("pull", "push"):
        pair = (scale or {}).get(name)
        if not pair:
            out.append((f"{name}: cost per record at 1,000,000 <= at 100,000", "needs --million", None))
            out.append((f"{name}: memory flat 100,000 -> 1,000,000", "needs --million", None))
            continue
        small, big = pair
        wall_small, wall_big = small.seconds / small.records, big.seconds / big.records
        out.append((f"{name}: cost per record at {big.records:,} <= at {small.records:,}",
                    f"{wall_big * 1e6:,.0f} vs {wall_small * 1e6:,.0f} us wall, "
                    f"{big.cpu_per_record_us:,.0f} vs {small.cpu_per_record_us:,.0f} us CPU",
                    wall_big <= wall_small))
        if small.peak_rss_mb and big.peak_rss_mb:
            growth = big.peak_rss_mb / small.peak_rss_mb
            out.append((f"{name}: memory flat {small.records:,} -> {big.records:,}",
                        f"peak RSS {small.peak_rss_mb:,.1f} -> {big.peak_rss_mb:,.1f} MB ({growth:.2f}x)",
                        growth < 1.5))
    return out


def verdicts(items: list[tuple[str, str, bool | None]]) -> str:
    word = {True: "met", False: "NOT met", None: "not measured"}
    return "\n".join(f"  {name}: {seen} — {word[met]}" for name, seen, met in items)


# -- CPU and memory of the processes involved ---------------------------------------------------

def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (/proc/<pid>/stat), seconds; None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            ppid = int(raw[raw.rindex(b")") + 2:].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _children_of(pid: int) -> list[int] | None:
    """A process's children from /proc/<pid>/task/*/children (None where the kernel lacks it)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out: list[int] = []
    for task in tasks:
        try:
            out.extend(int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        except FileNotFoundError:
            if not Path(f"/proc/{pid}/task/{task}").exists():
                continue
            return None
        except OSError:
            continue
    return out


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (cheap: its children files, else a walk of /proc)."""
    out, todo = [], [pid]
    tree: dict[int, list[int]] | None = None
    while todo:
        parent = todo.pop()
        children = _children_of(parent) if tree is None else None
        if children is None:
            tree = tree or _children()
            children = tree.get(parent, [])
        out.extend(children)
        todo.extend(children)
    return out


def local_ports(pids: list[int]) -> set[int]:
    """The local TCP ports of these processes' sockets (/proc/<pid>/fd against /proc/net/tcp)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports = set()
    for table_path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table_path).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def classify(cmdline: str) -> str | None:
    if "tests.simulators.zyh365" in cmdline:
        return "simulator"
    if "gateway.cli" in cmdline:
        return "gateway"
    if str(PEERS_DIR) in cmdline or "target-postgres" in cmdline or cmdline.startswith("psql"):
        return "peer"
    return None


def _waited_children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Sampler(threading.Thread):
    """CPU seconds per class and the gateway's / peer's peak RSS while a path runs.

    :param database: the path's database, or a callable answering it once it exists.
    """

    def __init__(self, admin_url: str, database: str | Callable[[], str | None], interval: float = 0.2):
        super().__init__(daemon=True)
        self.admin_url, self.database, self.interval = admin_url, database, interval
        self.done = threading.Event()
        self.first: dict[int, float] = {}       # pid -> CPU seconds when first seen
        self.last: dict[int, tuple[str, float]] = {}
        self.peak_rss: float | None = None
        self.baseline = True

    def __enter__(self) -> "Sampler":
        self.client_start = sum(os.times()[:2])
        self.children_start = _waited_children_cpu()
        self.own_cpu = 0.0
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join(timeout=30)
        self.client = sum(os.times()[:2]) - self.client_start - self.own_cpu
        #: CPU of the children that ended and were waited for meanwhile (exact, unlike samples)
        self.waited = _waited_children_cpu() - self.children_start

    def _postgres(self, conn) -> list[int]:
        name = self.database if isinstance(self.database, str) else self.database()
        if name is None:
            return []
        self.database = name
        return list(conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d "
                                      "AND pid <> pg_backend_pid()"), {"d": name}).scalars())

    def sample(self, conn) -> None:
        seen: list[tuple[int, str]] = [(pid, "postgres") for pid in self._postgres(conn)]
        for pid in descendants(os.getpid()):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            kind = classify(cmd)
            if kind:
                seen.append((pid, kind))
                if kind in ("gateway", "peer"):
                    peak = peak_rss_mb(pid)
                    if peak is not None:
                        self.peak_rss = max(self.peak_rss or 0.0, peak)
        for pid, kind in seen:
            cpu = proc_cpu_seconds(pid)
            if cpu is None:
                continue
            if pid not in self.first:
                self.first[pid] = cpu if self.baseline else 0.0
            self.last[pid] = (kind, cpu)
        self.baseline = False

    def run(self) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", pool_size=1)
        try:
            with engine.connect() as conn:
                while True:
                    self.sample(conn)
                    if self.done.wait(self.interval):
                        self.sample(conn)
                        return
        finally:
            engine.dispose()
            self.own_cpu = time.thread_time()   # the sampler's own CPU: not the client's

    def split(self, client: bool = True) -> dict[str, float | None]:
        out: dict[str, float | None] = {c: None for c in CLASSES}
        for pid, (kind, cpu) in self.last.items():
            out[kind] = (out[kind] or 0.0) + cpu - self.first[pid]
        out["client"] = self.client if client else None
        return out


# -- the peers' virtual environments ------------------------------------------------------------

DLT_SCRIPT = """\
import json, sys
import dlt

path, url, workdir = sys.argv[1:4]


def rows():
    with open(path, "rb") as lines:
        for line in lines:
            yield json.loads(line)


pipeline = dlt.pipeline(pipeline_name="peers", destination=dlt.destinations.postgres(url),
                        pipelines_dir=workdir)
info = pipeline.run(rows(), table_name="volunteers")
print(info)
"""


def peer_python(name: str, peers_dir: Path = PEERS_DIR) -> Path:
    """The peer's own venv under build/peers/ (created with pip on first use, versions pinned)."""
    venv = peers_dir / name
    stamp = venv / ".installed-stamp"
    if not stamp.exists():
        print(f"  installing {', '.join(PEER_PACKAGES[name])} into {venv} (first run) …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        log = peers_dir / f"{name}-install.log"
        with log.open("wb") as out:
            code = subprocess.run([str(venv / "bin" / "pip"), "install", *PEER_PACKAGES[name]],
                                  stdout=out, stderr=subprocess.STDOUT).returncode
        if code != 0:
            raise SystemExit(f"pip install {' '.join(PEER_PACKAGES[name])} failed ({code}):\n"
                             f"{log.read_text(errors='replace')[-3000:]}")
        stamp.write_text("\n".join(PEER_PACKAGES[name]) + "\n")
    elif stamp.read_text().split() != PEER_PACKAGES[name]:
        raise SystemExit(f"{venv} holds {stamp.read_text().split()}, not {PEER_PACKAGES[name]}: "
                         "remove it to re-create it")
    return venv / "bin" / "python"


# -- the paths ------------------------------------------------------------------------------------

@dataclass
class Context:
    admin_url: str
    count: int
    work: Path
    workers: int
    threads: int
    batch: int
    naive_sample: int
    files: dict[str, Path] = field(default_factory=dict)
    _records: list[dict[str, Any]] | None = None

    @property
    def records(self) -> list[dict[str, Any]]:
        """The N records (benchmarks/push.py ``volunteers``), made on first use (the pull
        does not need them: the simulator makes the same ones in its own process)."""
        if self._records is None:
            self._records = list(push_bench.volunteers(0, self.count))
        return self._records

    def file(self, kind: str) -> Path:
        """The records as ``kind`` (ndjson, singer, csv), written once, before any clock."""
        if kind not in self.files:
            path = self.work / f"records.{kind}"
            if kind == "csv":
                write_csv(path, self.records, copy_columns(self.records))
            else:
                lines = (singer_messages(self.records) if kind == "singer" else
                         (orjson.dumps(r) + b"\n" for r in self.records))
                with path.open("wb") as out:
                    out.writelines(lines)
            self.files[kind] = path
        return self.files[kind]


def _database(ctx: Context, path: str) -> tuple[push_bench.Databases, str]:
    name = f"vgw_peers_{path}_{uuid.uuid4().hex[:8]}"
    databases = push_bench.Databases(ctx.admin_url, [name])
    databases.create()
    return databases, name


def _count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def run_push(ctx: Context) -> Result:
    databases, name = _database(ctx, "push")
    n = len(ctx.records)
    try:
        with tempfile.TemporaryDirectory(prefix="vgw-peers-push-") as tmp:
            keys_dir = f"{tmp}/keys"
            env = push_bench._env(databases.url(name), keys_dir, 256 * 1024 * 1024)
            push_bench.migrate(env)
            key_id, private_pem = push_bench.register_client(databases.url(name), keys_dir)
            gateway = push_bench.start_gateway(env, ctx.workers, Path(tmp) / "gunicorn.log")
            try:
                with Sampler(ctx.admin_url, name) as sampler:
                    seconds, summary = push_bench.push_all(gateway.url, key_id, private_pem,
                                                           ctx.records, ctx.batch, ctx.threads)
            finally:
                gateway.stop()
            stored = push_bench.count_volunteers(databases.url(name))
            if summary.get("created") != n or stored != n:
                raise SystemExit(f"push: summary {summary}, {stored} volunteers for {n} records")
            return Result("push", n, seconds, sampler.split(), sampler.peak_rss)
    finally:
        databases.drop()


def run_pull(ctx: Context) -> Result:
    n = ctx.count
    admin = create_engine(ctx.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        before = set(conn.execute(text("SELECT datname FROM pg_database")).scalars())

    def database() -> str | None:
        """measure() names its database itself: the new one this process is connected to
        (other benchmarks may be making theirs by the same pattern meanwhile)."""
        with admin.connect() as conn:
            found = conn.execute(text("SELECT datname, client_port FROM pg_stat_activity "
                                      "WHERE datname LIKE 'vgw_bench_sync_%'")).all()
        ours = local_ports([os.getpid(), *descendants(os.getpid())])
        names = {name for name, port in found if name not in before and port in ours}
        return names.pop() if len(names) == 1 else None

    try:
        with Sampler(ctx.admin_url, database) as sampler:
            figures = sync_pull.measure(n, ctx.admin_url, "gunicorn", 0, analyze=False)
    finally:
        admin.dispose()
    return Result("pull", n, figures["run"], sampler.split(client=False), figures["peak_mb"])


def run_naive(ctx: Context) -> Result:
    databases, name = _database(ctx, "naive")
    sample = ctx.records[:ctx.naive_sample]
    try:
        with tempfile.TemporaryDirectory(prefix="vgw-peers-naive-") as tmp:
            push_bench.migrate(push_bench._env(databases.url(name), f"{tmp}/keys", 1 << 20))
            with Sampler(ctx.admin_url, name) as sampler:
                seconds = push_bench.naive(databases.url(name), f"{tmp}/keys", sample)
            return Result("naive", len(sample), seconds, sampler.split())
    finally:
        databases.drop()


def _subprocess_path(ctx: Context, path: str, command: list[str], stdin: Path | None,
                     check_sql: str, prepare: Callable[[str], None] | None = None) -> Result:
    """A peer as its own process: wall time from start to exit, its rows counted after."""
    databases, name = _database(ctx, path)
    n = len(ctx.records)
    try:
        url = databases.url(name)
        # (dlt insists on a password; trust authentication ignores it)
        plain = make_url(url).set(drivername="postgresql", password=make_url(url).password or "unused")
        command = [part.replace("{db}", name).replace("{url}", plain.render_as_string(hide_password=False))
                   for part in command]
        log = ctx.work / f"{path}.log"
        if prepare:
            prepare(name)
        with Sampler(ctx.admin_url, name) as sampler, log.open("wb") as out:
            started = time.perf_counter()
            with (stdin.open("rb") if stdin else open(os.devnull, "rb")) as source:
                code = subprocess.run(command, stdin=source, stdout=out, stderr=subprocess.STDOUT,
                                      cwd=ctx.work).returncode
            seconds = time.perf_counter() - started
        if code != 0:
            raise SystemExit(f"{path} exited {code}:\n{log.read_text(errors='replace')[-3000:]}")
        stored = _count(url, check_sql)
        if stored != n:
            raise SystemExit(f"{path}: {stored} rows for {n} records")
        cpu = sampler.split()
        cpu["peer"] = sampler.waited   # the peer ran as our child, waited for: its exact CPU
        return Result(path, n, seconds, cpu, sampler.peak_rss)
    finally:
        databases.drop()


def run_dlt(ctx: Context) -> Result:
    python = peer_python("dlt")
    script = ctx.work / "dlt_load.py"
    script.write_text(DLT_SCRIPT)
    return _subprocess_path(ctx, "dlt", [str(python), str(script), str(ctx.file("ndjson")), "{url}",
                                         str(ctx.work / "dlt-pipelines")], None,
                            "SELECT count(*) FROM peers_dataset.volunteers")


def run_singer(ctx: Context) -> Result:
    python = peer_python("singer")
    config = ctx.work / "target-postgres.json"

    def configure(database: str) -> None:
        config.write_bytes(orjson.dumps({
            "host": "127.0.0.1", "port": 5432, "user": "postgres", "password": "",
            "database": database, "default_target_schema": "public", "validate_records": True}))

    return _subprocess_path(ctx, "singer", [str(python.parent / "target-postgres"), "--config",
                                            str(config)], ctx.file("singer"),
                            f"SELECT count(*) FROM public.{STREAM}", configure)


def run_copy(ctx: Context) -> Result:
    columns = copy_columns(ctx.records)
    arrays = {c for c in columns if any(isinstance(r.get(c), list) for r in ctx.records)}
    ddl = ", ".join(f"{c} {'jsonb' if c in arrays else 'text'}" for c in columns)
    script = ctx.work / "copy.sql"
    script.write_text(f"CREATE TABLE volunteers ({ddl}) WITH (autovacuum_enabled = off);\n"
                      f"\\copy volunteers FROM '{ctx.file('csv')}' WITH (FORMAT csv)\n")
    return _subprocess_path(ctx, "copy", ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
                                          "127.0.0.1", "-U", "postgres", "-d", "{db}", "-f",
                                          str(script)], None, "SELECT count(*) FROM volunteers")


RUNNERS: dict[str, Callable[[Context], Result]] = {
    "push": run_push, "pull": run_pull, "naive": run_naive, "dlt": run_dlt,
    "singer": run_singer, "copy": run_copy}


# -- the whole run --------------------------------------------------------------------------------

def run_rounds(ctx: Context, paths: list[str], rounds: int) -> dict[str, Result]:
    """Every path ``rounds`` times, in rotation; each path's median round."""
    results: dict[str, list[Result]] = {p: [] for p in paths}
    for number in range(1, rounds + 1):
        for path in paths:
            print(f"  round {number}/{rounds}: {path} …", flush=True)
            result = RUNNERS[path](ctx)
            print(f"    {result.records:,} records in {result.seconds:,.1f} s = {result.rate:,.0f}/s",
                  flush=True)
            results[path].append(result)
    return {p: median_result(rs) for p, rs in results.items()}


def _autovacuum(admin_url: str) -> str:
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW autovacuum")).scalar_one())
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each path, in rotation")
    parser.add_argument("--paths", default=",".join(ALL_PATHS),
                        help=f"comma-separated, of {','.join(ALL_PATHS)}")
    parser.add_argument("--million", action="store_true",
                        help="push and pull at 100,000 and 1,000,000 records: cost per record, RSS")
    parser.add_argument("--scale", default="100000,1000000",
                        help="the two counts --million compares (default 100000,1000000)")
    parser.add_argument("--naive-sample", type=int, default=5_000,
                        help="records written by the naive path (the first of the same records)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (push)")
    parser.add_argument("--threads", type=int, default=3, help="client threads (push)")
    parser.add_argument("--batch", type=int, default=500, help="records per signed push")
    parser.add_argument("--admin-url", default=push_bench.ADMIN_URL)
    args = parser.parse_args(argv)
    paths = [p for p in args.paths.split(",") if p]
    unknown = set(paths) - set(ALL_PATHS)
    if unknown:
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    if push_bench.postgres_unreachable(args.admin_url, "peers"):
        return 0

    autovacuum = _autovacuum(args.admin_url)
    print(f"ingestion beside the peers: PostgreSQL at 127.0.0.1:5432 (autovacuum {autovacuum}"
          f"{'' if autovacuum == 'off' else ': NOT fresh tables for the gateway and the peers'}; "
          f"no ANALYZE), a database per run; {os.cpu_count()} CPU cores, load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory(prefix="vgw-peers-") as tmp:
        def context(n: int) -> Context:
            return Context(args.admin_url, n, Path(tmp),
                           args.workers, args.threads, args.batch, min(args.naive_sample, n))

        if args.million:
            chosen = [p for p in paths if p in ("push", "pull")] or ["push", "pull"]
            scale: dict[str, tuple[Result, Result]] = {}
            rows: dict[str, Result] = {}
            small, big = sorted(int(c) for c in args.scale.split(","))
            for n in (small, big):
                print(f"\n{n:,} records: {', '.join(chosen)}, one round", flush=True)
                found = run_rounds(context(n), chosen, 1)
                print(table(found))
                for path, result in found.items():
                    rows.setdefault(path, result)
                    if n == big:
                        scale[path] = (rows[path], result)
            items = targets(rows, scale)
        else:
            print(f"{args.records:,} records, paths {', '.join(paths)}, {args.rounds} round(s) "
                  "in rotation; the median round of each", flush=True)
            rows = run_rounds(context(args.records), paths, args.rounds)
            print(f"\n{args.records:,} records ({'naive: first ' + format(min(args.naive_sample, args.records), ',') + ', ' if 'naive' in paths else ''}"
                  f"pull: the same volunteers in the platform's form), median of {args.rounds} round(s):")
            print(table(rows))
            items = targets(rows)
    print("\ntargets (issue 14):")
    print(verdicts(items))
    ok = all(met is not False for _, _, met in items)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
