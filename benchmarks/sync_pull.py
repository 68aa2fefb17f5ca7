"""Pull N volunteers from the simulated zyh365-style platform into PostgreSQL through the
sync-run engine: records/s and peak memory, at 100,000 and at 1,000,000 records.

    python -m benchmarks.sync_pull [--counts 100000,1000000] [--pg-url URL]
                                   [--server gunicorn|werkzeug] [--progress 60]

For each count, from scratch: a new PostgreSQL database (migrated; dropped at the end), the
simulated platform seeded with that many volunteers in a process of its own
(benchmarks/zyh365_pull.py starts it), a zyh365 source, and ONE ``vgw sync run`` process
that pulls everything the way the scheduler does (80-row pages; per page: map, validate,
upsert, message log, cursor, in one transaction). The run's peak RSS is that process's
own high-water mark (VmHWM), so each count's figure is its own run's; memory is flat when
the peaks stay close while the count grows tenfold. Each result is checked (the run
succeeded, N volunteers with N source rows, the cursor at the last id) before its figures
count. Every process is stopped by its PID. On a server without autovacuum the benchmark
runs ANALYZE as autovacuum would (AutoAnalyze).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
import subprocess
from subprocess import Popen
from typing import Callable, Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.push import postgres_unreachable
from benchmarks.zyh365_pull import ROOT, KEY_ID, SECRET, peak_rss_mb, start_simulator, stop

DEFAULT_PG = os.environ.get("GATEWAY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SOURCE = "bench-zyh365"


def _scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _pulled(engine) -> int:
    cursor = _scalar(engine, "SELECT cursor FROM sync_cursors "
                             "WHERE direction = 'pull' AND entity = 'volunteer'")
    return int(cursor.rsplit(":", 1)[1]) if cursor else 0


class AutoAnalyze:
    """ANALYZE the way autovacuum's defaults would, when the server runs without autovacuum.

    Without statistics the planner misjudges the store's look-ups on a fresh database (a
    source's rows all share one ``source_system``, which it cannot know): the engine's
    per-page look-up of the source's rows then reads every row the source has, and a pull
    slows down as it goes. A server with autovacuum (the default) analyzes a table once
    50 + 10% of its rows changed, at most every ``autovacuum_naptime``; CI servers often
    switch it off (autovacuum = off here), so the benchmark does that job itself and says so.
    """

    def __init__(self, engine, enabled: bool = True):
        self.engine = engine
        with engine.connect() as conn:
            setting = {name: value for name, value in conn.execute(text(
                "SELECT name, setting FROM pg_settings WHERE name IN ('autovacuum', "
                "'autovacuum_naptime', 'autovacuum_analyze_threshold', "
                "'autovacuum_analyze_scale_factor')"))}
        self.active = enabled and setting["autovacuum"] == "off"
        self.naptime = float(setting["autovacuum_naptime"])
        self.threshold = int(setting["autovacuum_analyze_threshold"])
        self.scale = float(setting["autovacuum_analyze_scale_factor"])
        self.rows = 0
        self.last = time.perf_counter()
        self.times = 0

    def tick(self, rows: int) -> None:
        """``rows``: records in the store now."""
        now = time.perf_counter()
        if (self.active and now - self.last >= self.naptime
                and rows - self.rows > self.threshold + self.scale * self.rows):
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
            self.rows, self.last, self.times = rows, now, self.times + 1


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (Linux /proc), or None once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuSplit:
    """CPU seconds of the run's processes: the sync process (with its reader thread), the
    simulator's serving process, and every PostgreSQL backend that connected to the run's
    database after the run started (pg_stat_activity; read while they live, so a backend
    that ends is counted up to its last reading, within one tick of its end). The
    benchmark's own readings are not counted (their backend's pid is left out)."""

    def __init__(self, engine, database: str, sync_pid: int, sim_pid: int):
        self.engine, self.database = engine, database
        self.pids = {"gateway": sync_pid, "simulator": sim_pid}
        self.start = {name: cpu_seconds(pid) or 0.0 for name, pid in self.pids.items()}
        self.last = dict.fromkeys(self.pids, 0.0)
        self.backends: dict[int, float] = {}
        self.own: set[int] = set()
        with engine.connect() as conn:
            self.since = conn.execute(text("SELECT now()")).scalar()

    def tick(self) -> None:
        for name, pid in self.pids.items():
            now = cpu_seconds(pid)
            if now is not None:
                self.last[name] = now - self.start[name]
        with self.engine.connect() as conn:
            self.own.add(conn.execute(text("SELECT pg_backend_pid()")).scalar())
            pids = conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :d AND backend_type = "
                "'client backend' AND backend_start >= :since"),
                {"d": self.database, "since": self.since}).scalars().all()
        for pid in pids:
            now = cpu_seconds(pid)
            if now is not None:
                self.backends[pid] = now

    def figures(self) -> dict[str, float]:
        postgres = sum(v for pid, v in self.backends.items() if pid not in self.own)
        return {"gateway": self.last["gateway"], "postgres": postgres,
                "simulator": self.last["simulator"]}


def _python_pid(proc: Popen) -> int:
    """The pid of the sync process itself: ``proc``'s, or under py-spy (``--profile``) its child's."""
    if Path(proc.args[0]).name != "py-spy":
        return proc.pid
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        with contextlib.suppress(OSError):
            if pids := children.read_text().split():
                return int(pids[0])
        time.sleep(0.01)
    raise SystemExit("py-spy started no process")


def _run(command: list[str], env: dict[str, str], cwd: str, engine, progress: float,
         analyze: bool = True, split: Callable[[int], CpuSplit] | None = None):
    """Run the sync process to its end: (exit code, its peak RSS in MB, seconds, ANALYZEs).

    The peak is the process's own VmHWM, read every 0.1 s while it lives (the last reading
    falls within 0.1 s of its end). Not ``ru_maxrss``: a child's also counts the copy of
    the parent it was forked from before it exec'd — this benchmark process, about as big
    as the run itself — which would hide the run's own growth. Progress lines meanwhile show
    the records committed and the resident set now and at its peak so far."""
    analyze = AutoAnalyze(engine, analyze)
    with open(Path(cwd) / "run.out", "w") as out, open(Path(cwd) / "run.err", "w") as err:
        proc = Popen(command, env=env, cwd=cwd, stdout=out, stderr=err)
    pid = _python_pid(proc)
    cpu = split(pid) if split else None
    started = last = checked = time.perf_counter()
    peak = 0.0
    try:
        while proc.poll() is None:
            peak = max(peak, peak_rss_mb(pid) or 0.0)
            time.sleep(0.1)
            now = time.perf_counter()
            if now - checked >= 1:
                checked = now
                analyze.tick(_pulled(engine))
                if cpu:
                    cpu.tick()
            if progress and now - last >= progress:
                last = now
                done = _pulled(engine)
                rss = peak_rss_mb(pid, "VmRSS") or 0.0
                print(f"    … {done:>10,} records after {now - started:,.0f} s "
                      f"({done / (now - started):,.0f}/s), RSS {rss:,.1f} MB, peak so far {peak:,.1f} MB",
                      flush=True)
        return (proc.returncode, peak, time.perf_counter() - started,
                analyze.times if analyze.active else None, cpu.figures() if cpu else None)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


#: ``--records``: whose volunteers the simulator serves
RECORDS = {"push": "benchmarks.sync_pull:platform_volunteers", "simulator": ""}


def platform_volunteers(count: int) -> Iterator[dict]:
    """benchmarks/push.py's ``volunteers(0, count)`` — the records every other path of
    benchmarks/peers.py loads — in the platform's form (the zyh365 adapter's
    ``from_standard``), for the simulator to serve (it stamps ``id`` and ``updatetime``).

    The same people, with what the platform's form holds: name, document, gender, birth
    date, mobile, e-mail, address, education, employment, political status and service area.
    It has no place for nationality, ethnicity, residence area, service categories, skills,
    languages, the registration date or the sender's ``source_id``, nor for a code its own
    lists lack (such a field is left out of that record: the education of about one record
    in five); the platform's record
    key is its ``vcode``, empty here as in the pushed records, so the gateway numbers them
    as it numbers pushed ones)."""
    from adapters.zyh365 import Zyh365Adapter
    from benchmarks.push import volunteers
    from gateway.adapter import MappingError

    adapter = Zyh365Adapter({"base_url": "http://127.0.0.1:9", "access_key_id": KEY_ID,
                             "access_key_secret": SECRET})
    for record in volunteers(0, count):
        while True:
            try:
                yield adapter.from_standard("volunteer", record)
                break
            except MappingError as exc:
                # a code the platform's own list has no counterpart for: sent without it
                record = {k: v for k, v in record.items()
                          if k not in {issue.pointer.lstrip("/") for issue in exc.issues}}


def measure(count: int, admin_url: str, server: str, progress: float, analyze: bool = True,
            code: Path | None = None, profile: Path | None = None, records: str = "push") -> dict:
    """One count, from scratch: the figures of its ``vgw sync run`` process.

    ``code``: a tree of other code (``--against``) that migrates the database and runs the
    sync process instead of this one's (first on PYTHONPATH). ``profile``: where py-spy
    writes the sync process's profile (collapsed stacks). ``records``: ``push`` — the
    simulator serves benchmarks/push.py's volunteers (:func:`platform_volunteers`), as the
    other paths of benchmarks/peers.py load; ``simulator`` — its own generated ones."""
    from gateway import create_app, store
    from sync_jobs import sources

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"vgw_bench_sync_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    app = sim = None
    try:
        with tempfile.TemporaryDirectory(prefix="vgw-bench-sync-") as tmp:
            app = create_app({"DATABASE_URL": url, "KEYS_DIR": f"{tmp}/keys", "LOG_LEVEL": "WARNING"})
            env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
            env.update(GATEWAY_DATABASE_URL=url, GATEWAY_KEYS_DIR=f"{tmp}/keys", GATEWAY_LOG_LEVEL="WARNING")
            if code is None:
                store.upgrade(app)
            else:
                env["PYTHONPATH"] = str(code)
                subprocess.run([sys.executable, "-m", "gateway.cli", "db", "upgrade"], env=env,
                               cwd=tmp, check=True, stdout=subprocess.DEVNULL)
            sim, base_url, sim_pid = start_simulator(count, server, Path(tmp) / "simulator.log",
                                                     RECORDS[records])
            with app.app_context(), store.session_scope(app) as session:
                sources.add_or_update(session, app.extensions["privacy.vault"], sources.SourceSpec(
                    name=SOURCE, adapter="zyh365", entities=["volunteer"],
                    settings={"base_url": base_url, "access_key_id": KEY_ID, "access_key_secret": SECRET}))
            engine = app.extensions["store.engine"]
            command = [sys.executable, "-m", "gateway.cli", "sync", "run", SOURCE, "--json"]
            if profile is not None:
                command = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw",
                           "--rate", "200", "--output", str(profile), "--", *command]
            rc, peak_mb, wall, analyzed, cpu = _run(
                command, env, tmp, engine, progress, analyze,
                lambda pid: CpuSplit(engine, name, pid, sim_pid))
            sim_peak = peak_rss_mb(sim_pid)
            output = (Path(tmp) / "run.out").read_text()
            if rc != 0:
                error = (Path(tmp) / "run.err").read_text()[-2000:]
                raise SystemExit(f"vgw sync run exited {rc}:\n{error}")
            # under py-spy its own lines come first
            (result,) = json.loads(output[output.index("["):output.rindex("]") + 1])
            run_seconds = _scalar(engine, "SELECT extract(epoch FROM finished_at - started_at) "
                                          "FROM sync_runs WHERE id = :id", id=result["run_id"])
            checks = {"run succeeded": result["status"] == "succeeded" and result["caught_up"],
                      "written": result["written"] == count,
                      "volunteers": _scalar(engine, "SELECT count(*) FROM volunteers") == count,
                      "source rows": _scalar(engine, "SELECT count(DISTINCT source_id) "
                                                     "FROM volunteer_sources WHERE source_system = :s",
                                             s=SOURCE) == count,
                      "cursor": _pulled(engine) == count}
            failed = [k for k, ok in checks.items() if not ok]
            if failed:
                raise SystemExit(f"{count:,} records: check failed: {', '.join(failed)} ({result})")
            return {"count": count, "wall": wall, "run": float(run_seconds), "peak_mb": peak_mb,
                    "sim_peak_mb": sim_peak, "pages": result["pages"], "analyzed": analyzed, "cpu": cpu}
    finally:
        if sim is not None:
            stop(sim)
        if app is not None:
            app.extensions["store.engine"].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def export_tree(ref: str, into: Path) -> Path:
    """``git archive`` of ``ref`` (e.g. main) under ``into``, to run its code beside this one's."""
    tree = into / f"code-{ref.replace('/', '_')}"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def summarize_profile(path: Path, top: int = 25) -> list[str]:
    """py-spy's collapsed stacks as lines: the share of samples by area of the code, then the
    functions with the most samples in them (self + callees), gateway code only."""
    areas: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        count = int(n)
        total += count
        frames = stack.split(";")
        leaf = frames[-1]
        areas[_area(frames)] += count
        for frame in set(frames):
            if any(f"({p}/" in frame for p in ("gateway", "sync_jobs", "adapters")):
                inclusive[frame.split(" (")[0] + " " + frame.split("/", 1)[-1].split(":")[0]] += count
        del leaf
    out = [f"    {total:,} samples"]
    out += [f"    {n / total:6.1%}  {area}" for area, n in areas.most_common()]
    out.append("    functions (incl. callees):")
    out += [f"    {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    return out


#: (area, a frame marker): the first marker found from the leaf upwards names a sample's area
AREAS = (("reading the simulator (HTTP, signature)", "_read ("),
         ("waiting for / talking to PostgreSQL (psycopg)", "psycopg"),
         ("SQLAlchemy (building, compiling statements, ORM)", "sqlalchemy"),
         ("encryption, blind index", "privacy.py"),
         ("validation engine", "standard/"),
         ("mapping (adapter to_standard)", "to_standard"),
         ("message log", "message_log.py"),
         ("bulk ingestion rows", "bulk.py"),
         ("upserts", "upserts.py"),
         ("sync engine", "sync_jobs/"))


def _area(frames: list[str]) -> str:
    for frame in reversed(frames):
        for area, marker in AREAS:
            if marker in frame:
                return area
    return "other (start-up, interpreter)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="100000,1000000", help="comma-separated (default 100000,1000000)")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="admin URL of the PostgreSQL server")
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn",
                        help="how the simulator is served")
    parser.add_argument("--progress", type=float, default=60, help="seconds between progress lines (0: none)")
    parser.add_argument("--fresh", action="store_true",
                        help="never ANALYZE: fresh tables as CI's PostgreSQL leaves them (issue 14)")
    parser.add_argument("--against", metavar="REF", default=None,
                        help="also run REF's code (git archive, e.g. main), interleaved with this "
                             "tree's, and print the ratio")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each code per count (default 1)")
    parser.add_argument("--records", choices=tuple(RECORDS), default="push",
                        help="whose volunteers the simulator serves: push — benchmarks/push.py's, "
                             "the records of the other paths of benchmarks/peers.py (default); "
                             "simulator — its own generated ones")
    parser.add_argument("--profile", metavar="DIR", type=Path, default=None,
                        help="profile each sync process with py-spy (bench extra) into DIR and "
                             "print where its time went")
    args = parser.parse_args(argv)
    counts = sorted(int(c) for c in args.counts.split(","))

    if postgres_unreachable(args.pg_url, "sync pull"):
        return 0

    print(f"sync pull into PostgreSQL: {', '.join(f'{c:,}' for c in counts)} volunteers, each from "
          "scratch, one `vgw sync run` process each (zyh365 adapter, 80-row pages)"
          + (", never ANALYZEd (fresh tables)" if args.fresh else "")
          + (", benchmarks/push.py's volunteers" if args.records == "push"
             else ", the simulator's own volunteers"))
    with tempfile.TemporaryDirectory(prefix="vgw-bench-code-") as codes:
        trees: dict[str, Path | None] = {"this tree": None}
        if args.against:
            trees[args.against] = export_tree(args.against, Path(codes))
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
        rows = []
        for count in counts:
            for round_ in range(args.rounds):
                for label, code in trees.items():
                    print(f"  {count:,} volunteers, {label} (round {round_ + 1}) …", flush=True)
                    profile = (args.profile / f"sync-{label.replace(' ', '_')}-{count}-{round_ + 1}.txt"
                               if args.profile else None)
                    row = measure(count, args.pg_url, args.server, args.progress, not args.fresh,
                                  code, profile, args.records)
                    rows.append({**row, "code": label, "profile": profile})
    header = (f"{'code':>10} {'records':>10} {'pages':>7} {'run s':>8} {'rec/s':>7} {'process s':>9} "
              f"{'peak RSS':>10} {'sim peak RSS':>12}  CPU s: {'gateway':>8} {'postgres':>8} {'simulator':>9}")
    print(header)
    for r in rows:
        sim = f"{r['sim_peak_mb']:,.1f} MB" if r["sim_peak_mb"] is not None else "n/a"
        cpu = r["cpu"]
        print(f"{r['code'][:10]:>10} {r['count']:>10,} {r['pages']:>7,} {r['run']:>8,.1f} "
              f"{r['count'] / r['run']:>7,.0f} {r['wall']:>9,.1f} {r['peak_mb']:>7,.1f} MB {sim:>12}"
              f"         {cpu['gateway']:>8,.1f} {cpu['postgres']:>8,.1f} {cpu['simulator']:>9,.1f}")
    for r in rows:
        if r["profile"] is not None and r["profile"].exists():
            print(f"  where the sync process's CPU went ({r['code']}, {r['count']:,}; py-spy, {r['profile']}):")
            print("\n".join(summarize_profile(r["profile"])))
    if rows[0]["analyzed"] is not None:
        print("autovacuum is off on this server: the benchmark ran ANALYZE as autovacuum's defaults "
              f"would ({', '.join(str(r['analyzed']) for r in rows)} times); see AutoAnalyze")
    ours = [r for r in rows if r["code"] == "this tree"]
    rates = {c: max(r["count"] / r["run"] for r in ours if r["count"] == c) for c in counts}
    if args.against:
        for c in counts:
            theirs = max(r["count"] / r["run"] for r in rows if r["code"] == args.against and r["count"] == c)
            print(f"{c:,} records: this tree {rates[c]:,.0f}/s, {args.against} {theirs:,.0f}/s: "
                  f"{rates[c] / theirs:.2f}x (best of {args.rounds} each, interleaved)")
    slowest = min(rates.values())
    print(f"target pull >= 6,000 records/s{' on fresh tables' if args.fresh else ''}: "
          f"{slowest:,.0f}/s at the slowest: {'met' if slowest >= 6000 else 'NOT met'}")
    if len(counts) > 1:
        first, last = counts[0], counts[-1]
        flat = rates[last] >= 0.9 * rates[first]
        print(f"target same cost per record at {last:,} as at {first:,}: "
              f"{rates[last] / rates[first]:.2f} of the rate: {'met' if flat else 'NOT met'}")
        peak = {c: max(r["peak_mb"] for r in ours if r["count"] == c) for c in counts}
        print(f"peak RSS ratio {last:,} / {first:,} records: {peak[last] / peak[first]:.2f} for "
              f"{last / first:.0f}x the records (flat means close to 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
