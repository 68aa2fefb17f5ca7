"""Body limits on a 500-record NDJSON push: the old walk of each parsed line vs the text scan.

Both read every line as ``exchange.push`` does (``jsonio.loads`` with the push's limits):

- walk: orjson parse, then :func:`gateway.jsonio.shape_error` (depth, members, string
  lengths in one Python walk of the parsed value) and the repeated-key count by walking the
  value's objects — the code before issue 14;
- text: orjson parse, then the same limits and key count read from the line's text in C
  (:func:`gateway.jsonio.text_shape_error`, ``_key_count`` through ``orjson.dumps``) — now.

The two run interleaved, ``--rounds`` times each over the same body; the fastest round of
each counts. Both must accept the same lines with the same values. Target: text at least as
fast as walk (ratio ≥ 1.0; the walk was 4% of a push worker's CPU). ``parse`` (orjson
alone) is printed as the floor.

    python -m benchmarks.body_limits [--records 500] [--rounds 30]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import orjson

from benchmarks.data import volunteers
from gateway import jsonio

LIMITS = jsonio.Limits()  # the settings' defaults: depth 32, 64 KiB values, 1000 members


def walk_loads(data: bytes, line: int) -> Any:
    """jsonio.loads as it was: parse, walk for the limits, walk for the key count."""
    value = orjson.loads(data)
    problem = jsonio.shape_error(value, LIMITS, line)
    if problem is not None and problem.slug == "too-deep":
        raise problem
    if b":" in data and jsonio._member_count(data) != jsonio._key_count_walk(value):
        raise ValueError("duplicate key")
    if problem is not None:
        raise problem
    return value


def text_loads(data: bytes, line: int) -> Any:
    return jsonio.loads(data, LIMITS.max_depth, line, LIMITS)


def parse_only(data: bytes, line: int) -> Any:
    """The floor: the parse alone, no limits, no repeated-key check."""
    return orjson.loads(data)


def _round(read, lines: list[bytes]) -> float:
    started = time.perf_counter()
    for number, raw in enumerate(lines, start=2):
        read(raw, number)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    lines = [orjson.dumps(record) + b"\n" for record, _ in volunteers(args.records, 0.0)]
    assert [walk_loads(r, 1) for r in lines] == [text_loads(r, 1) for r in lines]
    paths = {"walk": walk_loads, "text": text_loads, "parse": parse_only}
    best = dict.fromkeys(paths, float("inf"))
    for _ in range(args.rounds):  # interleaved: the machine's load falls on all alike
        for name, read in paths.items():
            best[name] = min(best[name], _round(read, lines))
    body = sum(map(len, lines))
    print(f"{args.records} records, {body:,} bytes of NDJSON, best of {args.rounds} interleaved rounds")
    for name, seconds in best.items():
        print(f"  {name:5} {seconds * 1e3:8.2f} ms per body  {seconds / args.records * 1e6:6.2f} µs per record")
    checks = {name: best[name] - best["parse"] for name in ("walk", "text")}
    print(f"  the checks beyond the parse: walk {checks['walk'] / args.records * 1e6:.2f} µs, "
          f"text {checks['text'] / args.records * 1e6:.2f} µs per record")
    ratio = best["walk"] / best["text"]
    print(f"  walk / text = {ratio:.2f}×  (target ≥ 1.00: {'met' if ratio >= 1.0 else 'NOT met'})")
    return {**best, "ratio": ratio}


if __name__ == "__main__":
    main()
