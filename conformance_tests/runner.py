"""Run the registry's tests for the configured roles and collect their results.

Selection: every test of the configured roles, narrowed by ``roles`` (``--role``),
``group`` (``server.signatures``), ``test_id`` or ``last_failed`` (the tests that failed
or erred in the previous ``results.json`` of the report folder). The tests a selected test
depends on are run too (before it), so one test can be run again on its own.

Per test, in dependency order: a test with a feature declared ``false`` is omitted; a test
whose prerequisite did not pass is skipped, naming it; otherwise it runs and ends as pass,
fail (``Fail``), skip (``Skip``), omit (``Omit``) or error (anything else). One progress
line per test: ``[12/40] server.push.accepted … pass``.

Before any test, the system is checked to be reachable (``system.base_url`` for the server
role, ``data.validator_url`` for the data role): if not, :class:`Unreachable` is raised and
the command exits 2 without a report of failures the system did not earn.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import requests

from . import __version__
from .config import SuiteConfig
from .context import Context, Exchange
from .datagen import DataFactory
from .outcomes import Fail, Omit, Outcome, Skip
from .registry import Registry, TestCase
from .results import RunResult, TestResult, evidence_dict, read_json


class SelectionError(ValueError):
    """The selection names nothing (unknown test or group, no previous results)."""


class Unreachable(RuntimeError):
    """The system under test (or the validator) does not answer at all."""


@dataclass(frozen=True)
class Selection:
    roles: tuple[str, ...] = ()
    group: str | None = None
    test_id: str | None = None
    last_failed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"roles": list(self.roles), "group": self.group, "test": self.test_id,
                "last_failed": self.last_failed}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def select(registry: Registry, config: SuiteConfig, selection: Selection,
           previous: Path | None = None) -> list[TestCase]:
    """The tests to run, prerequisites first, each once."""
    roles = selection.roles or config.system.roles
    for role in selection.roles:
        if role not in config.system.roles:
            raise SelectionError(f"role {role!r} is not in system.roles of {config.path.name}")
    tests = registry.tests
    chosen = [t for t in tests.values() if t.role in roles]
    if selection.test_id:
        if selection.test_id not in tests:
            raise SelectionError(f"no test {selection.test_id!r} (see `vgw-conformance requirements`)")
        chosen = [tests[selection.test_id]]
    elif selection.group:
        chosen = [t for t in chosen if t.group == selection.group
                  or t.group.startswith(selection.group + ".") or t.role == selection.group]
        if not chosen:
            groups = sorted({t.group for t in tests.values()})
            raise SelectionError(f"no test in group {selection.group!r} for the configured roles "
                                 f"(groups: {', '.join(groups) or 'none'})")
    if selection.last_failed:
        if previous is None or not previous.is_file():
            raise SelectionError("--last-failed: no previous results.json in the report folder")
        failed = {t["id"] for t in read_json(previous)["tests"] if t["outcome"] in ("fail", "error")}
        chosen = [t for t in chosen if t.id in failed]
    # prerequisites (transitively), then a stable order that puts each after what it needs
    wanted: dict[str, TestCase] = {}

    def add(test: TestCase) -> None:
        for dep in test.depends_on:
            if dep not in wanted:
                add(tests[dep])
        wanted.setdefault(test.id, test)

    for test in chosen:
        add(test)
    return list(wanted.values())


def check_reachable(config: SuiteConfig, roles: Iterable[str]) -> None:
    """Raise Unreachable when a URL the selected roles need gives no HTTP answer."""
    urls = []
    roles = set(roles)
    if "server" in roles and config.system.base_url:
        urls.append(("system.base_url", config.system.base_url))
    if "data" in roles and config.data.validator_url:
        urls.append(("data.validator_url", config.data.validator_url))
    for name, url in urls:
        try:
            requests.get(url + "/", timeout=min(config.system.timeout_seconds, 10),
                         allow_redirects=False)
        except requests.RequestException as exc:
            raise Unreachable(f"{name} {url} does not answer: {type(exc).__name__}") from None


def _system_client(config: SuiteConfig, record: Callable[[Exchange], None]) -> Any:
    """The exchange helper's SystemClient, or None when it cannot be built (no server key)."""
    try:
        from .http import SystemClient
    except ImportError:
        return None
    if config.server.private_key is None:
        return None
    return SystemClient(config, record)


def run(config: SuiteConfig, registry: Registry, selection: Selection = Selection(), *,
        out: Callable[[str], None] = print, check_system: bool = True,
        run_id: str | None = None) -> RunResult:
    """Run the selected tests; the caller writes the reports."""
    report_dir = config.report.dir
    tests = select(registry, config, selection, report_dir / "results.json")
    roles = sorted({t.role for t in tests})
    if check_system:
        check_reachable(config, roles)
    run_id = run_id or secrets.token_hex(4)
    state: dict[str, Any] = {}
    current: list[Context] = []

    def record(exchange: Exchange) -> None:
        if current:
            current[-1].record_exchange(exchange)

    http = _system_client(config, record) if "server" in roles else None
    data = DataFactory(run_id, config.scope.region_prefix)
    result = RunResult(
        suite_version=__version__,
        system={"name": config.system.name, "base_url": config.system.base_url,
                "roles": list(config.system.roles)},
        config_digest=config.digest, features=dict(config.features),
        selection=selection.as_dict(), started_at=_now(),
        schema_version=config.server.schema_version)
    outcomes: dict[str, Outcome] = {}
    total = len(tests)
    try:
        for n, test in enumerate(tests, 1):
            ctx = Context(config=config, http=http, data=data, run_id=run_id, state=state,
                          progress=out)
            current[:] = [ctx]
            started, t0 = _now(), time.monotonic()
            outcome, message, expected, observed = _run_one(test, ctx, config, outcomes)
            outcomes[test.id] = outcome
            reqs = [{"id": r, "text": registry.requirements[r].text,
                     "source": registry.requirements[r].source} for r in test.requirements]
            result.tests.append(TestResult(
                id=test.id, title=test.title, role=test.role, group=test.group,
                requirements=reqs, outcome=outcome, message=message, expected=expected,
                observed=observed, evidence=[evidence_dict(e) for e in ctx.evidence],
                started_at=started, duration_ms=int((time.monotonic() - t0) * 1000),
                features=list(test.features), depends_on=list(test.depends_on)))
            line = f"[{n}/{total}] {test.id} … {outcome.value}"
            if outcome is not Outcome.PASS and message:
                line += f": {message.splitlines()[0][:160]}"
            out(line)
    finally:
        current.clear()
        if http is not None and hasattr(http, "close"):
            http.close()
    result.finished_at = _now()
    return result


def _run_one(test: TestCase, ctx: Context, config: SuiteConfig,
             outcomes: dict[str, Outcome]) -> tuple[Outcome, str, Any, Any]:
    for feature in test.features:
        if config.features.get(feature) is False:
            return Outcome.OMIT, f"feature {feature!r} declared not implemented", None, None
    for dep in test.depends_on:
        if outcomes.get(dep) is not Outcome.PASS:
            got = outcomes.get(dep)
            return (Outcome.SKIP, f"prerequisite {dep} did not pass "
                    f"({got.value if got else 'not run'})", None, None)
    try:
        test.func(ctx)
    except Fail as exc:
        return Outcome.FAIL, exc.message, exc.expected, exc.observed
    except Skip as exc:
        return Outcome.SKIP, exc.reason, None, None
    except Omit as exc:
        return Outcome.OMIT, str(exc), None, None
    except Exception as exc:  # noqa: BLE001 - any other exception is the test's error outcome
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
        return Outcome.ERROR, f"{type(exc).__name__}: {exc}{where}", None, None
    return Outcome.PASS, "", None, None
