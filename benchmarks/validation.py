"""Validation engine vs. plain ``jsonschema``: 100,000 volunteer records, 5% invalid.

Three paths over the same schema and the same records:

- naive:   ``jsonschema.Draft202012Validator(...).iter_errors`` on every record (the reference);
- schema:  the engine's schema check alone (compiled yes/no first, full errors on failures);
- engine:  the whole engine, semantic rules included.

It checks that every path gives the same verdict on every record and that the engine
reports the same (pointer, keyword) set as the naive path on every invalid record, then prints
the rates and the ratios. Targets: schema ≥ 30×, engine ≥ 15×.

    python -m benchmarks.validation [--count 100000] [--naive-sample 20000]

The naive path is measured on a sample (default 20,000 records, 5% invalid likewise) because
it is slow; its rate is per record, so the ratio is unaffected. Each path runs ``--repeat``
times (default 3) and the fastest run counts, as with timeit.
"""

from __future__ import annotations

import argparse
import time
from zoneinfo import ZoneInfo

import jsonschema

import schemas
from benchmarks.data import volunteers
from gateway.standard.engine import Engine, schema_issues
from gateway.standard.issues import pointer
from gateway.standard.regions import Regions


def naive_pointers(errors) -> set[tuple[str, str]]:
    """What plain jsonschema reports, as (JSON Pointer, keyword) pairs like the engine's.

    ``required`` and ``additionalProperties`` point at the missing / unknown member, as the
    engine does, rather than at the object holding it.
    """
    found = set()
    for error in errors:
        path = list(error.absolute_path)
        if error.validator == "required":
            found.update((pointer(*path, n), "required") for n in error.validator_value
                         if n not in error.instance)
        elif error.validator == "additionalProperties":
            known = set(error.schema.get("properties", {}))
            found.update((pointer(*path, n), "additionalProperties") for n in error.instance
                         if n not in known)
        else:
            found.add((pointer(*path), error.validator))
    return found


def engine_pointers(issues) -> set[tuple[str, str]]:
    """The engine's schema issues as (JSON Pointer, keyword) pairs."""
    return {(i.pointer, "enum" if i.rule == "code.unknown" else i.rule.removeprefix("schema."))
            for i in issues if i.rule.startswith(("schema.", "code."))}


def _best_of(repeat: int, run):
    """The fastest of ``repeat`` runs (as timeit does: slower runs measure other load) and its result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds else float("inf")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per path; the best counts")
    args = parser.parse_args(argv)

    print(f"generating {args.count:,} volunteer records (5% invalid)…", flush=True)
    data = list(volunteers(args.count))
    records = [r for r, _ in data]
    schema = schemas.load_schema("1", "volunteer")
    engine = Engine(Regions.load(), ZoneInfo("Asia/Shanghai"))
    compiled = engine._get("volunteer", "1")
    naive = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)

    sample = records[: args.naive_sample]
    ctx = engine.context()
    naive_s, naive_errors = _best_of(args.repeat, lambda: [list(naive.iter_errors(r)) for r in sample])
    schema_s, schema_reports = _best_of(args.repeat, lambda: [
        [] if compiled.fast.is_valid(r) else schema_issues(compiled, r) for r in records])
    engine_s, reports = _best_of(args.repeat, lambda: [
        engine.validate("volunteer", r, ctx=ctx) for r in records])

    # Same verdicts, same errors.
    mismatched = 0
    for i in range(len(sample)):
        expected = naive_pointers(naive_errors[i])
        if expected != engine_pointers(schema_reports[i]) or expected != engine_pointers(reports[i].issues):
            mismatched += 1
            if mismatched <= 3:
                print("  mismatch on record", i, sorted(expected), reports[i].issues)
    expected_invalid = sum(1 for _, broken in data if broken)
    engine_invalid = sum(1 for r in reports if not r.valid)

    naive_rate = _rate(len(sample), naive_s)
    schema_rate = _rate(len(records), schema_s)
    engine_rate = _rate(len(records), engine_s)
    print(f"records: {len(records):,}; broken on purpose: {expected_invalid:,}; "
          f"engine found invalid: {engine_invalid:,}")
    print(f"naive jsonschema iter_errors : {naive_rate:>12,.0f} records/s  ({len(sample):,} sampled)")
    print(f"engine, schema check only    : {schema_rate:>12,.0f} records/s  "
          f"ratio {schema_rate / naive_rate:6.1f}x  (target >= 30x)")
    print(f"engine, schema + rules       : {engine_rate:>12,.0f} records/s  "
          f"ratio {engine_rate / naive_rate:6.1f}x  (target >= 15x)")
    print(f"verdict/report mismatches against naive on the sample: {mismatched}")
    return {"naive": naive_rate, "schema": schema_rate, "engine": engine_rate,
            "mismatched": mismatched, "engine_invalid": engine_invalid,
            "expected_invalid": expected_invalid}


if __name__ == "__main__":
    main()
