"""``vgw validate`` on growing NDJSON files: peak memory must stay flat as the size grows.

    python -m benchmarks.cli_memory [--sizes-mb 20,100] [--keep]

Each file is generated (5% invalid records), then validated by ``vgw validate`` in a child
process; the child's peak RSS (ru_maxrss) and its rate are printed. Pass ``--sizes-mb
20,1024`` for the 1 GB check (takes several minutes and ~1 GB of disk in /tmp).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.data import volunteers


def _write_file(path: Path, megabytes: int) -> int:
    target = megabytes * 1024 * 1024
    written = count = 0
    with path.open("wb") as fh:
        # Reuse a generated block so a 1 GB file takes seconds, not minutes.
        block = b"".join(orjson.dumps(r) + b"\n" for r, _ in volunteers(20_000))
        lines = block.count(b"\n")
        while written < target:
            fh.write(block)
            written += len(block)
            count += lines
    return count


def _run(path: Path) -> tuple[float, int, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "validate", "--entity", "volunteer",
                           "--format", "json", "--no-progress", str(path)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode not in (0, 1):
        raise SystemExit(f"vgw validate failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    # ru_maxrss of children is the largest of any child so far; sizes run small to large.
    return elapsed, max(peak_kb, before), proc.returncode


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="20,100")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes_mb.split(","))
    peaks = []
    with tempfile.TemporaryDirectory(prefix="vgw-bench-") as tmp:
        for mb in sizes:
            path = Path(tmp) / f"volunteers-{mb}mb.ndjson"
            count = _write_file(path, mb)
            elapsed, peak_kb, _ = _run(path)
            peaks.append(peak_kb)
            print(f"{mb:>6} MB  {count:>10,} records  {count / elapsed:>10,.0f} records/s  "
                  f"peak RSS {peak_kb / 1024:8.1f} MB", flush=True)
            if not args.keep:
                os.unlink(path)
    if len(peaks) > 1:
        print(f"peak memory ratio largest/smallest file: {peaks[-1] / peaks[0]:.2f} "
              f"for a {sizes[-1] / sizes[0]:.0f}x larger file (flat means close to 1)")


if __name__ == "__main__":
    main()
