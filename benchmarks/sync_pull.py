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
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from subprocess import Popen

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.push import postgres_unreachable
from benchmarks.zyh365_pull import KEY_ID, SECRET, peak_rss_mb, start_simulator, stop

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


def _run(command: list[str], env: dict[str, str], cwd: str, engine, progress: float,
         analyze: bool = True):
    """Run the sync process to its end: (exit code, its peak RSS in MB, seconds, ANALYZEs).

    The peak is the process's own VmHWM, read every 0.1 s while it lives (the last reading
    falls within 0.1 s of its end). Not ``ru_maxrss``: a child's also counts the copy of
    the parent it was forked from before it exec'd — this benchmark process, about as big
    as the run itself — which would hide the run's own growth. Progress lines meanwhile show
    the records committed and the resident set now and at its peak so far."""
    analyze = AutoAnalyze(engine, analyze)
    with open(Path(cwd) / "run.out", "w") as out, open(Path(cwd) / "run.err", "w") as err:
        proc = Popen(command, env=env, cwd=cwd, stdout=out, stderr=err)
    started = last = checked = time.perf_counter()
    peak = 0.0
    try:
        while proc.poll() is None:
            peak = max(peak, peak_rss_mb(proc.pid) or 0.0)
            time.sleep(0.1)
            now = time.perf_counter()
            if now - checked >= 1:
                checked = now
                analyze.tick(_pulled(engine))
            if progress and now - last >= progress:
                last = now
                done = _pulled(engine)
                rss = peak_rss_mb(proc.pid, "VmRSS") or 0.0
                print(f"    … {done:>10,} records after {now - started:,.0f} s "
                      f"({done / (now - started):,.0f}/s), RSS {rss:,.1f} MB, peak so far {peak:,.1f} MB",
                      flush=True)
        return (proc.returncode, peak, time.perf_counter() - started,
                analyze.times if analyze.active else None)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def measure(count: int, admin_url: str, server: str, progress: float, analyze: bool = True) -> dict:
    """One count, from scratch: the figures of its ``vgw sync run`` process."""
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
            store.upgrade(app)
            sim, base_url, sim_pid = start_simulator(count, server, Path(tmp) / "simulator.log")
            with app.app_context(), store.session_scope(app) as session:
                sources.add_or_update(session, app.extensions["privacy.vault"], sources.SourceSpec(
                    name=SOURCE, adapter="zyh365", entities=["volunteer"],
                    settings={"base_url": base_url, "access_key_id": KEY_ID, "access_key_secret": SECRET}))
            env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
            env.update(GATEWAY_DATABASE_URL=url, GATEWAY_KEYS_DIR=f"{tmp}/keys", GATEWAY_LOG_LEVEL="WARNING")
            engine = app.extensions["store.engine"]
            command = [sys.executable, "-m", "gateway.cli", "sync", "run", SOURCE, "--json"]
            code, peak_mb, wall, analyzed = _run(command, env, tmp, engine, progress, analyze)
            sim_peak = peak_rss_mb(sim_pid)
            output = (Path(tmp) / "run.out").read_text()
            if code != 0:
                error = (Path(tmp) / "run.err").read_text()[-2000:]
                raise SystemExit(f"vgw sync run exited {code}:\n{error}")
            (result,) = json.loads(output)
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
                    "sim_peak_mb": sim_peak, "pages": result["pages"], "analyzed": analyzed}
    finally:
        if sim is not None:
            stop(sim)
        if app is not None:
            app.extensions["store.engine"].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="100000,1000000", help="comma-separated (default 100000,1000000)")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="admin URL of the PostgreSQL server")
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn",
                        help="how the simulator is served")
    parser.add_argument("--progress", type=float, default=60, help="seconds between progress lines (0: none)")
    parser.add_argument("--fresh", action="store_true",
                        help="never ANALYZE: fresh tables as CI's PostgreSQL leaves them (issue 14)")
    args = parser.parse_args(argv)
    counts = sorted(int(c) for c in args.counts.split(","))

    if postgres_unreachable(args.pg_url, "sync pull"):
        return 0

    print(f"sync pull into PostgreSQL: {', '.join(f'{c:,}' for c in counts)} volunteers, each from "
          "scratch, one `vgw sync run` process each (zyh365 adapter, 80-row pages)")
    rows = []
    for count in counts:
        print(f"  {count:,} volunteers …", flush=True)
        rows.append(measure(count, args.pg_url, args.server, args.progress, not args.fresh))
    header = (f"{'records':>10} {'pages':>7} {'run s':>8} {'rec/s':>7} {'process s':>9} "
              f"{'peak RSS':>10} {'sim peak RSS':>12}")
    print(header)
    for r in rows:
        sim = f"{r['sim_peak_mb']:,.1f} MB" if r["sim_peak_mb"] is not None else "n/a"
        print(f"{r['count']:>10,} {r['pages']:>7,} {r['run']:>8,.1f} {r['count'] / r['run']:>7,.0f} "
              f"{r['wall']:>9,.1f} {r['peak_mb']:>7,.1f} MB {sim:>12}")
    if rows[0]["analyzed"] is not None:
        print("autovacuum is off on this server: the benchmark ran ANALYZE as autovacuum's defaults "
              f"would ({', '.join(str(r['analyzed']) for r in rows)} times); see AutoAnalyze")
    rates = [r["count"] / r["run"] for r in rows]
    print(f"target pull >= 6,000 records/s{' on fresh tables' if args.fresh else ''}: "
          f"{min(rates):,.0f}/s at the slowest: {'met' if min(rates) >= 6000 else 'NOT met'}")
    if len(rows) > 1:
        flat = rates[-1] >= 0.9 * rates[0]
        print(f"target same cost per record at {rows[-1]['count']:,} as at {rows[0]['count']:,}: "
              f"{rates[-1] / rates[0]:.2f} of the rate: {'met' if flat else 'NOT met'}")
        first, last = rows[0], rows[-1]
        print(f"peak RSS ratio {last['count']:,} / {first['count']:,} records: "
              f"{last['peak_mb'] / first['peak_mb']:.2f} for {last['count'] / first['count']:.0f}x "
              "the records (flat means close to 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
