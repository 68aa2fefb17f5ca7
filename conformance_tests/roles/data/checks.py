"""Data role: the integrator's export files meet the published standard (DAT-*).

The files of ``[data] files`` are read and checked once per run through the validation API
of ``[data] validator_url`` (files.py); each test then judges one requirement from that
one set of answers, so a failure names the requirement (the citizen IDs, the regions, …)
and lists the records and pointers that break it. ``data.records.valid`` attaches the
per-file, per-record summary (``data summary``) that the report shows as a table.
"""

from __future__ import annotations

from typing import Any

from ...outcomes import Fail, Skip
from ...registry import conformance_test
from .files import FileReport, Validator, check_file

STATE_KEY = "data.reports"
SHOWN = 25


def reports(ctx) -> list[FileReport]:
    """Check every configured file (once per run) and return the per-file reports."""
    if STATE_KEY not in ctx.state:
        config = ctx.config
        validator = Validator(config.data.validator_url, config.server.validate_path,
                              config.system.timeout_seconds, ctx.record_exchange,
                              schema_version=ctx.schema_version)
        base = config.data.base_dir.resolve()
        out = []
        try:
            for path in config.data.paths():
                try:
                    display = str(path.relative_to(base))
                except ValueError:
                    display = str(path)
                out.append(check_file(path, validator, display))
        finally:
            validator.close()
        ctx.state[STATE_KEY] = out
    return ctx.state[STATE_KEY]


def _fail_with(problems: list[tuple[str, Any]], what: str) -> None:
    if problems:
        shown = [f"{f}: {p.record} {p.pointer or '(record)'} {p.rule}: {p.message}"
                 for f, p in problems[:SHOWN]]
        more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
        raise Fail(f"{len(problems)} {what}{more}; first: {shown[0]}",
                   expected="no such issue", observed=shown)


def _issues(ctx, match, entities: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    found = reports(ctx)
    if entities and not any(set(r.entities) & set(entities) for r in found):
        raise Skip(f"no {' / '.join(entities)} record in the export files")
    return [(r.name, p) for r in found for p in r.problems if match(p.rule)]


@conformance_test("data.files.readable", title="Every export file is in a format of the standard",
                  requirements="DAT-FILE-01")
def files_readable(ctx) -> None:
    found = reports(ctx)
    bad = [f"{r.name}: {r.file_error}" for r in found if not r.readable]
    unreadable = [(r.name, p) for r in found for p in r.problems
                  if p.rule.startswith(("input.", "item.", "mapping.invalid"))]
    if bad:
        raise Fail(f"{len(bad)} file(s) cannot be read as an export: {bad[0]}",
                   expected="JSON, NDJSON, a batch envelope or the national format", observed=bad)
    _fail_with(unreadable, "unreadable record(s) or line(s)")
    ctx.note("files", {r.name: r.format for r in found})


@conformance_test("data.envelope.valid", title="Batch envelopes meet the batch schema",
                  requirements="DAT-ENV-01")
def envelope_valid(ctx) -> None:
    found = [r for r in reports(ctx) if r.format == "batch envelope"]
    if not found:
        raise Skip("no batch envelope among the export files")
    problems = [(r.name, p) for r in found for p in r.envelope_problems]
    _fail_with(problems, "envelope issue(s)")


@conformance_test("data.national.codes", title="National-format files use their table's field codes",
                  requirements="DAT-NAT-01")
def national_codes(ctx) -> None:
    found = [r for r in reports(ctx) if r.format == "national"]
    if not found:
        raise Skip("no file in the national field-coded format among the export files")
    problems = [(r.name, p) for r in found for p in r.problems if p.rule.startswith("mapping.")]
    _fail_with(problems, "national field-code issue(s)")


# The tests that judge one family of rules: (test id, title, requirement, the rule ids'
# prefixes — a whole id matches itself —, the entities it needs one record of, what to call
# the issues). One table, so that a new rule family is a line, not another function.
RULE_FAMILIES: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...], str], ...] = (
    ("data.records.schema", "Every record meets its entity's schema (schemas/v1)", "DAT-SCH-01",
     ("schema.",), (), "schema issue(s)"),
    ("data.records.codes", "Coded fields use values of their code tables", "DAT-CODE-01",
     ("code.",), (), "unknown code value(s)"),
    ("data.records.datetimes", "Date-times name real instants", "DAT-DT-01",
     ("datetime.real",), (), "date-time issue(s)"),
    ("data.records.regions", "Region fields name current divisions", "DAT-REG-01",
     ("region.current",), ("volunteer", "team", "project"), "region issue(s)"),
    ("data.volunteers.citizen_id", "Citizen ID numbers are well formed (GB 11643)", "DAT-ID-01",
     ("citizen_id.",), ("volunteer",), "citizen ID issue(s)"),
    ("data.volunteers.rules", "Volunteers meet the volunteer rules", "DAT-VOL-01",
     ("volunteer.",), ("volunteer",), "volunteer rule issue(s)"),
    ("data.teams.rules", "Teams meet the team rules (USCC, GB 32100)", "DAT-ORG-01",
     ("team.", "uscc."), ("team",), "team rule issue(s)"),
    ("data.projects.rules", "Projects meet the project rules", "DAT-PRJ-01",
     ("project.",), ("project",), "project rule issue(s)"),
    ("data.service_records.rules", "Service records meet the service-time rules", "DAT-HRS-01",
     ("service_record.",), ("service_record",), "service record rule issue(s)"),
)


def _matches(rule: str, prefixes: tuple[str, ...]) -> bool:
    return any(rule == p or (p.endswith(".") and rule.startswith(p)) for p in prefixes)


def _rule_family_test(prefixes: tuple[str, ...], entities: tuple[str, ...], what: str):
    def check(ctx) -> None:
        _fail_with(_issues(ctx, lambda rule: _matches(rule, prefixes), entities), what)
    return check


for _test_id, _title, _requirement, _prefixes, _entities, _what in RULE_FAMILIES:
    conformance_test(_test_id, title=_title, requirements=_requirement)(
        _rule_family_test(_prefixes, _entities, _what))


@conformance_test("data.records.valid", title="Every record of every export file meets the standard",
                  requirements="DAT-REC-01")
def records_valid(ctx) -> None:
    found = reports(ctx)
    ctx.note("data summary", [r.summary() for r in found])
    total = sum(r.records for r in found)
    if not total:
        raise Fail("the export files hold no record", expected="at least one record", observed=0)
    invalid = [(r.name, p) for r in found for p in r.problems]
    bad_records = sum(r.invalid for r in found)
    ctx.note("records", {"files": len(found), "records": total,
                         "valid": sum(r.valid for r in found), "invalid": bad_records})
    if bad_records or invalid:
        _fail_with(invalid, f"issue(s) in {bad_records} of {total} record(s)")
