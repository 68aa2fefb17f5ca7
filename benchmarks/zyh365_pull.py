"""Pull N volunteers from the simulated zyh365-style platform: records/s and peak memory.

    python -m benchmarks.zyh365_pull [--count 1000000] [--page-size 80] [--tracemalloc]
                                     [--server gunicorn|werkzeug]

The simulated platform (tests/simulators/zyh365.py) runs as a separate process on
127.0.0.1 (gunicorn, one gthread worker; or werkzeug with threads), stopped by its PID at
the end, and generates its records from their ids, so it holds no data set. Every record
goes through the adapter's signed ``read()`` (80-row pages, maxid cursor), ``to_standard()``
and the gateway's validation engine: everything before the store (benchmarks/sync_pull.py
measures whole sync runs into PostgreSQL). Figures are printed at 100,000 records and at
the end, to show that memory stays flat as the count grows: peak RSS (ru_maxrss) of this
process, the simulator's peak RSS (VmHWM), and with ``--tracemalloc`` the peak of Python
allocations (slower).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import subprocess
import tempfile
import sys
import time
import tracemalloc
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.zyh365 import Zyh365Adapter
from gateway.adapter import MappingError
from gateway.standard.engine import Engine
from gateway.standard.regions import Regions

ROOT = Path(__file__).resolve().parent.parent
KEY_ID, SECRET = "bench-gateway", "bench-secret"


def start_simulator(count: int, server: str, log: Path,
                    volunteer_records: str = "") -> tuple[subprocess.Popen, str, int]:
    """Start the simulator as its own process: (process, base URL, pid serving requests).

    ``volunteer_records``: ``"module:function"`` making the volunteers it serves instead of
    its own (tests/simulators/zyh365.py ``Zyh365Platform.seed``)."""
    if server == "gunicorn":
        # One gthread worker (the platform keeps its nonces in memory) with keep-alive.
        app = (f"tests.simulators.zyh365:wsgi_app(volunteers={count}, access_key_id={KEY_ID!r}, "
               f"access_key_secret={SECRET!r}, volunteer_records={volunteer_records!r})")
        command = [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4",
                   "-b", "127.0.0.1:0", "--no-control-socket", "--log-level", "info", app]
    else:
        command = [sys.executable, "-m", "tests.simulators.zyh365", "--port", "0", "--volunteers",
                   str(count), "--access-key-id", KEY_ID, "--access-key-secret", SECRET,
                   "--volunteer-records", volunteer_records]
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        text = log.read_text()
        url = re.search(r"(?:Listening at:|listening on) (http://127\.0\.0\.1:[0-9]+)", text)
        worker = re.search(r"Booting worker with pid: ([0-9]+)", text)
        if url and (server != "gunicorn" or worker):
            return proc, url.group(1), int(worker.group(1)) if worker else proc.pid
        time.sleep(0.1)
    stop(proc)
    raise SystemExit(f"the simulator did not start:\n{log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    """End the simulator by its PID: SIGTERM (gunicorn's master stops its worker), then SIGKILL."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def peak_rss_mb(pid: int, field: str = "VmHWM") -> float | None:
    """Another process's peak resident set (VmHWM; ``field="VmRSS"``: its resident set now),
    in MB (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _own_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=80)
    parser.add_argument("--checkpoint", type=int, default=100_000,
                        help="print figures at this count too (default 100000)")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations")
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn",
                        help="how the simulator is served (werkzeug closes every connection)")
    args = parser.parse_args(argv)

    print(f"zyh365-style pull: {args.count:,} volunteers, read() + to_standard() + validation "
          "(no store: python -m benchmarks.sync_pull measures the whole run)")
    engine = Engine(Regions.load(), ZoneInfo("Asia/Shanghai"))
    log = Path(tempfile.mkstemp(prefix="zyh365-sim-", suffix=".log")[1])
    proc, url, sim_pid = start_simulator(args.count, args.server, log)
    print(f"simulator: separate process ({args.server}, pid {proc.pid}, serving pid {sim_pid}) at {url}")
    try:
        adapter = Zyh365Adapter({"base_url": url, "access_key_id": KEY_ID, "access_key_secret": SECRET,
                                 "page_size": min(args.page_size, 80), "since": "20000101"})
        if args.tracemalloc:
            tracemalloc.start()
        ctx = engine.context()
        cursor, done, invalid, unmapped, pages = None, 0, 0, 0, 0
        checkpoints = sorted({c for c in (args.checkpoint, args.count) if 0 < c <= args.count})
        print(f"{'records':>10} {'rec/s':>8} {'pages':>7} {'invalid':>7} {'unmapped':>8} "
              f"{'gw peak RSS':>12} {'sim peak RSS':>13}" + (f" {'py peak (tracemalloc)':>22}" if args.tracemalloc else ""))
        started = time.perf_counter()
        while checkpoints:
            page = adapter.read("volunteer", cursor, args.page_size)
            pages += 1
            for item in page.items:
                try:
                    record = adapter.to_standard("volunteer", item.native)
                except MappingError:
                    unmapped += 1
                    continue
                if not engine.validate("volunteer", record, ctx=ctx).valid:
                    invalid += 1
            done += len(page.items)
            cursor = page.next_cursor
            if done >= checkpoints[0] or not page.has_more:
                elapsed = time.perf_counter() - started
                sim_peak = peak_rss_mb(sim_pid)
                line = (f"{done:>10,} {done / elapsed:>8,.0f} {pages:>7,} {invalid:>7,} {unmapped:>8,} "
                        f"{_own_peak_rss_mb():>9,.1f} MB "
                        f"{(f'{sim_peak:,.1f} MB' if sim_peak is not None else 'n/a'):>13}")
                if args.tracemalloc:
                    line += f" {tracemalloc.get_traced_memory()[1] / 2**20:>19,.1f} MB"
                print(line, flush=True)
                while checkpoints and done >= checkpoints[0]:
                    checkpoints.pop(0)
                if not page.has_more:
                    break
        adapter.close()
        if done != args.count:
            raise SystemExit(f"expected {args.count:,} records, read {done:,}")
    finally:
        stop(proc)
        log.unlink(missing_ok=True)


if __name__ == "__main__":
    main(sys.argv[1:])
