"""``vgw validate FILE``: check a JSON or NDJSON file against the standard.

Exit status: 0 every record valid, 1 some record invalid, 2 the file cannot be read.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import IO

import click
import orjson

from gateway import jsonio, settings
from gateway.standard.engine import Engine, UnknownEntity, UnsupportedVersion
from gateway.standard.files import FileResult, iter_file, ndjson_by_name_or_content

EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
# Standard input is copied to a temporary file (in memory up to this size) so that it can be
# read twice, as files are: once to tell JSON from NDJSON, once to validate.
STDIN_IN_MEMORY_BYTES = 8 * 1024 * 1024


def _engine_and_config() -> tuple[Engine, dict]:
    """The validation engine and settings: the app's if one is running (Flask's test runner),
    else built from the settings alone, so `vgw validate` starts without the app (no store,
    no keys, no Flask extensions: well under a second)."""
    from flask import current_app

    if current_app:
        from gateway import standard

        return standard.engine(), current_app.config
    config = settings.load_settings(settings.instance_path())
    return Engine.from_config(config), config


def _spool_stdin() -> IO[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=STDIN_IN_MEMORY_BYTES, prefix="vgw-validate-")
    shutil.copyfileobj(sys.stdin.buffer, spool, 1 << 20)
    spool.seek(0)
    return spool
# Files at least this big get a progress bar when stderr is a terminal.
PROGRESS_FROM_BYTES = 8 * 1024 * 1024


class _Progress:
    """Advances a click progress bar by how far the underlying file has been read."""

    def __init__(self, stream: IO[bytes], size: int, enabled: bool):
        self.stream = stream
        self.bar = click.progressbar(length=size, label="validating", file=sys.stderr,
                                     show_pos=False, show_percent=True) if enabled else None
        self.seen = 0

    def __enter__(self):
        if self.bar:
            self.bar.__enter__()
        return self

    def tick(self) -> None:
        if self.bar:
            pos = self.stream.tell()
            if pos > self.seen:
                self.bar.update(pos - self.seen)
                self.seen = pos

    def __exit__(self, *exc):
        if self.bar:
            self.bar.__exit__(*exc)


def _where(result: FileResult) -> str:
    if result.index < 0:
        return "envelope"
    return f"record {result.index}" + (f" (line {result.line})" if result.line else "")


def _print_text(result: FileResult, show_valid: bool) -> None:
    if result.report.valid:
        if show_valid:
            click.echo(f"{_where(result)}: valid")
        return
    click.echo(f"{_where(result)}: invalid")
    for issue in result.report.issues:
        click.echo(f"  {issue.pointer or '/'}  {issue.rule}  {issue.message_zh} | {issue.message_en}")


def _print_json(result: FileResult, show_valid: bool) -> None:
    if result.report.valid and not show_valid:
        return
    row = {"index": result.index, **result.report.as_dict()}
    if result.line:
        row["line"] = result.line
    click.echo(orjson.dumps(row).decode())


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--entity", "-e", help="Entity of the records (volunteer, team, …). Omit for a batch "
              "envelope or for items of the form {entity, op, data}.")
@click.option("--schema-version", default="1", show_default=True, help="Schema version.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Report as text, or as NDJSON (one result per line, then a summary).")
@click.option("--ndjson/--json", "ndjson", default=None,
              help="Force the file type (default: by suffix, .ndjson/.jsonl/.ldjson are NDJSON and "
              ".json is JSON; other files and standard input by content).")
@click.option("--show-valid", is_flag=True, help="Also list valid records.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: for large files on a terminal).")
def validate(file: Path, entity: str | None, schema_version: str, fmt: str, ndjson: bool | None,
             show_valid: bool, progress: bool | None) -> None:
    """Validate FILE (JSON or NDJSON, '-' for stdin) and report every error of every record."""
    engine, config = _engine_and_config()
    try:
        if entity and entity != "batch":
            engine.schema(entity, schema_version)
    except UnsupportedVersion:
        raise click.UsageError(f"schema version {schema_version!r} is not supported "
                               f"(supported: {', '.join(engine.versions)})") from None
    except UnknownEntity:
        raise click.UsageError(f"unknown entity {entity!r} (known: "
                               f"{', '.join(engine.entities(schema_version))}, batch)") from None

    from_stdin = str(file) == "-"
    try:
        stream = _spool_stdin() if from_stdin else file.open("rb")
    except OSError as exc:
        click.echo(f"vgw validate: cannot open {file}: {exc.strerror}", err=True)
        sys.exit(EXIT_UNREADABLE)
    if from_stdin:
        size = stream.seek(0, os.SEEK_END)
        stream.seek(0)
    else:
        size = os.fstat(stream.fileno()).st_size
    if ndjson is None:
        ndjson = ndjson_by_name_or_content(None if from_stdin else file, stream)
    if progress is None:
        progress = bool(size and size >= PROGRESS_FROM_BYTES and sys.stderr.isatty())
    printer = _print_json if fmt == "json" else _print_text
    counts: Counter[str] = Counter()
    totals = Counter()
    unreadable: jsonio.InputError | None = None
    with stream, _Progress(stream, size or 0, bool(progress and size)) as bar:
        try:
            for result in iter_file(engine, stream, ndjson=ndjson,
                                    entity=entity, version=schema_version,
                                    max_depth=config["MAX_JSON_DEPTH"], size=size):
                printer(result, show_valid)
                if result.index >= 0:
                    totals["total"] += 1
                    totals["valid" if result.report.valid else "invalid"] += 1
                elif not result.report.valid:
                    totals["envelope_invalid"] += 1
                counts.update(issue.rule for issue in result.report.issues)
                bar.tick()
        except jsonio.InputError as exc:
            unreadable = exc

    summary = {"file": str(file), "total": totals["total"], "valid": totals["valid"],
               "invalid": totals["invalid"], "envelope_valid": not totals["envelope_invalid"],
               "errors_by_rule": dict(counts.most_common())}
    if unreadable:
        summary["unreadable"] = unreadable.message_en
    if fmt == "json":
        click.echo(orjson.dumps({"summary": summary}).decode())
    else:
        click.echo(f"{file}: {summary['total']} records, {summary['valid']} valid, "
                   f"{summary['invalid']} invalid")
        for rule_id, n in counts.most_common(10):
            click.echo(f"  {n:>8}  {rule_id}")
    if unreadable:
        click.echo(f"vgw validate: {file} cannot be read: {unreadable.message_en} "
                   f"({unreadable.message_zh})", err=True)
        sys.exit(EXIT_UNREADABLE)
    sys.exit(EXIT_INVALID if totals["invalid"] or totals["envelope_invalid"] else EXIT_VALID)
