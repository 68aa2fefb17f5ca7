"""``vgw-conformance``: run the suite, write an example configuration, verify a statement.

Exit status: 0 every selected test passed (skips and omits allowed), 1 a test failed or
erred (or, for ``verify``, the statement is invalid), 2 bad configuration, a bad selection
or the system under test unreachable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__

DEFAULT_CONFIG = "vgw-conformance.toml"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vgw-conformance",
        description="Conformance suite of the volunteer-service data exchange standard: tests "
                    "a system's exchange protocol (server and client roles) and its export "
                    "files (data role). See docs/conformance.md.")
    p.add_argument("--version", action="version", version=f"vgw-conformance {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run the tests and write results.json, junit.xml, report.html")
    r.add_argument("--config", "-c", default=DEFAULT_CONFIG,
                   help=f"the configuration file (default {DEFAULT_CONFIG})")
    r.add_argument("--role", action="append", choices=("server", "client", "data"),
                   help="only this role (repeatable; default: system.roles)")
    r.add_argument("--group", help="only this group, e.g. server.signatures")
    r.add_argument("--test", dest="test_id", help="only this test (and what it depends on)")
    r.add_argument("--schema-version", choices=("1", "2"), default=None,
                   help="test in this schema version: the feed read with it, its records checked "
                        "against schemas/v<N> (default: [server] schema_version, else 1)")
    r.add_argument("--last-failed", action="store_true",
                   help="only the tests that failed or erred in the previous results.json")

    i = sub.add_parser("init", help="write a commented example configuration")
    i.add_argument("path", nargs="?", default=DEFAULT_CONFIG)
    i.add_argument("--force", action="store_true", help="overwrite an existing file")

    v = sub.add_parser("verify", help="check a conformance statement offline")
    v.add_argument("statement", help="statement.json")
    v.add_argument("--jwks", required=True, help="JWK set file holding the operator's public key")
    v.add_argument("--results", help="results.json whose digest the statement must name")

    q = sub.add_parser("requirements", help="list every requirement with its tests")
    q.add_argument("--untested", action="store_true", help="only requirements without a test")

    c = sub.add_parser("coverage", help="the requirement / test table")
    c.add_argument("--markdown", action="store_true", help="as Markdown (docs/conformance.md)")

    k = sub.add_parser("jwks", help="print the public JWK set of a private key (for verify)")
    k.add_argument("key", help="PEM file of an Ed25519 private key")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"run": _run, "init": _init, "verify": _verify, "requirements": _requirements,
               "coverage": _coverage, "jwks": _jwks}[args.command]
    return handler(args)


def _err(message: str) -> None:
    print(f"vgw-conformance: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_config, with_schema_version
    from .registry import load_registry
    from .reporters import write_reports
    from .runner import Selection, SelectionError, Unreachable, run
    from .results import exit_status

    try:
        config = load_config(args.config, tuple(args.role or ()))
        if args.schema_version:
            config = with_schema_version(config, args.schema_version)
    except ConfigError as exc:
        _err(f"bad configuration {args.config}: {exc}")
        return 2
    registry = load_registry()
    selection = Selection(roles=tuple(args.role or ()), group=args.group, test_id=args.test_id,
                          last_failed=args.last_failed)
    try:
        result = run(config, registry, selection)
    except SelectionError as exc:
        _err(str(exc))
        return 2
    except Unreachable as exc:
        _err(f"system unreachable: {exc}")
        return 2
    results = result.to_dict()
    paths = write_reports(results, config.report.dir)
    s = results["summary"]
    print(f"{s['pass']} passed, {s['fail']} failed, {s['error']} errors, {s['skip']} skipped, "
          f"{s['omit']} omitted of {s['total']}")
    print(f"reports: {paths['json']}, {paths['junit']}, {paths['html']}")
    status = exit_status(results)
    from .statement import maybe_write_statement

    written = maybe_write_statement(config, registry, results, paths["json"])
    if written:
        print(f"conformance statement: {written[0]}, {written[1]}")
    return status


def _init(args: argparse.Namespace) -> int:
    from .config import example_config

    path = Path(args.path)
    if path.exists() and not args.force:
        _err(f"{path} exists; use --force to overwrite it")
        return 2
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(example_config(), encoding="utf-8")
    print(f"wrote {path}: edit it, then run `vgw-conformance run --config {path}`")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .statement import StatementInvalid, verify_statement

    try:
        statement = verify_statement(Path(args.statement), Path(args.jwks),
                                     Path(args.results) if args.results else None)
    except StatementInvalid as exc:
        print(f"INVALID: {exc}")
        return 1
    print(f"valid: {statement['system']['name']} conforms to vgw-conformance "
          f"{statement['suite_version']} ({statement['date']}), signed by key {statement['_kid']}")
    return 0


def _requirements(args: argparse.Namespace) -> int:
    from .registry import load_registry

    registry = load_registry()
    for req in registry.requirements.values():
        tests = registry.tests_for(req.id)
        if args.untested and tests:
            continue
        print(f"{req.id}  {req.text}")
        print(f"    source: {req.source}")
        for t in tests:
            print(f"    test:   {t.id}  ({t.title})")
        if not tests:
            print("    test:   (none)")
    return 0


def coverage_markdown() -> str:
    """The table of docs/conformance.md: every requirement, its source and its tests."""
    from .registry import load_registry

    registry = load_registry()
    untested = registry.untested()
    lines = [f"{len(registry.requirements)} requirements, {len(registry.tests)} tests, "
             f"{len(untested)} requirement(s) without a test.", "",
             "| requirement | what it says | source | tests |", "|---|---|---|---|"]

    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|")

    for req in registry.requirements.values():
        tests = registry.tests_for(req.id)
        names = "<br>".join(f"`{t.id}`" for t in tests) or "**none**"
        lines.append(f"| {req.id} | {cell(req.text)} | {cell(req.source)} | {names} |")
    return "\n".join(lines) + "\n"


def _coverage(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(coverage_markdown())
        return 0
    from .registry import load_registry

    registry = load_registry()
    tested = len(registry.requirements) - len(registry.untested())
    print(f"{tested} of {len(registry.requirements)} requirements have a test")
    for req in registry.untested():
        print(f"untested: {req.id}  {req.text}")
    return 0


def _jwks(args: argparse.Namespace) -> int:
    import json

    from .statement import public_jwks

    print(json.dumps(public_jwks(Path(args.key)), indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
