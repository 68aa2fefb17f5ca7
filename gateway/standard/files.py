"""Validating whole files: JSON (one record, an array, or a batch envelope) and NDJSON.

Everything is streamed: a 1 GB array or NDJSON file is read a record at a time, so memory
stays flat whatever the size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from gateway import jsonio
from gateway.standard.engine import BATCH, Engine
from gateway.standard.issues import Issue, Report

NDJSON_SUFFIXES = {".ndjson", ".jsonl", ".ldjson"}
# Files up to this size are parsed whole; larger ones are streamed.
WHOLE_FILE_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class FileResult:
    index: int            # from 0, in file order; -1 for a batch envelope's own header
    line: int | None      # NDJSON line number, from 1
    report: Report


def _input_issue(exc: jsonio.InputError) -> Issue:
    return Issue("", f"input.{exc.slug}", exc.message_zh, exc.message_en)


def is_ndjson(path: Path) -> bool:
    return path.suffix.lower() in NDJSON_SUFFIXES


#: Suffixes that say JSON; a file with neither kind of suffix (and standard input) is
#: told apart by its content (:func:`looks_like_ndjson`).
JSON_SUFFIXES = {".json"}
_FIRST_LINE_LIMIT = 1 << 20


def looks_like_ndjson(stream: IO[bytes]) -> bool:
    """Whether a seekable stream holds NDJSON, leaving the position unchanged.

    NDJSON when its first non-blank line is a whole JSON object on its own and another
    non-blank line follows; anything else (an array, a pretty-printed or one-line object) is
    JSON. A one-line file reads the same either way.
    """
    start = stream.tell()
    try:
        line = b""
        while not line.strip(b" \t\r\n\xef\xbb\xbf"):
            line = stream.readline(_FIRST_LINE_LIMIT)
            if not line:
                return False
        if not line.lstrip(b" \t\xef\xbb\xbf").startswith(b"{") or not line.endswith(b"\n"):
            return False
        try:
            jsonio.loads(line.lstrip(b"\xef\xbb\xbf"), 64)
        except jsonio.InputError:
            return False
        while rest := stream.readline(_FIRST_LINE_LIMIT):
            if rest.strip():
                return True
        return False
    finally:
        stream.seek(start)


def ndjson_by_name_or_content(path: Path | None, stream: IO[bytes]) -> bool:
    """NDJSON or not, as ``vgw validate`` decides it: by suffix (.ndjson/.jsonl/.ldjson: NDJSON,
    .json: JSON), else (other suffixes, standard input) by content."""
    if path is not None and is_ndjson(path):
        return True
    if path is not None and path.suffix.lower() in JSON_SUFFIXES:
        return False
    return looks_like_ndjson(stream)


def iter_file(engine: Engine, stream: IO[bytes], *, ndjson: bool, entity: str | None,
              version: str, max_depth: int, size: int | None = None) -> Iterator[FileResult]:
    """Results for every record in ``stream``.

    ``entity`` may be None when the records say their own: NDJSON lines or array items of the
    form ``{"entity": ..., "op": ..., "data": ...}``, or a batch envelope. Raises
    :class:`gateway.jsonio.InputError` when the file cannot be read as JSON at all.
    """
    ctx = engine.context()
    if ndjson:
        for index, line in enumerate(jsonio.iter_ndjson(stream, max_depth)):
            if line.error:
                report = Report(entity or "?", [_input_issue(line.error)])
            else:
                report = _check(engine, entity, line.value, version, ctx)
            yield FileResult(index, line.number, report)
        return

    first = jsonio.first_char(stream)
    if first == b"[":
        for index, item in enumerate(jsonio.iter_json_array(stream)):
            yield FileResult(index, None, _check(engine, entity, item, version, ctx))
        return
    if first != b"{":
        raise jsonio.InputError("invalid-json", "文件不是 JSON 对象、数组或 NDJSON",
                                "the file holds no JSON object, array or NDJSON")
    if size is not None and size > WHOLE_FILE_LIMIT and entity in (None, BATCH):
        yield from _stream_envelope(engine, stream, version, ctx)
        return
    value = jsonio.loads(stream.read(), max_depth)
    if entity in (None, BATCH) and isinstance(value, dict) and "records" in value:
        header, reports = engine.validate_envelope(value, None, ctx)
        yield FileResult(-1, None, header)
        for index, report in enumerate(reports):
            yield FileResult(index, None, report)
        return
    yield FileResult(0, None, _check(engine, entity, value, version, ctx))


def _stream_envelope(engine: Engine, stream: IO[bytes], version: str, ctx) -> Iterator[FileResult]:
    start = stream.tell()
    header = jsonio.envelope_header(stream)
    stream.seek(start)
    version = header.get("schema_version", version)
    # The header is checked without its records (they are checked one by one below).
    header_report = engine.validate(BATCH, {**header, "records": [{}]}, version, ctx)
    header_report.issues = [i for i in header_report.issues if not i.pointer.startswith("/records")]
    yield FileResult(-1, None, header_report)
    for index, item in enumerate(jsonio.iter_json_array(stream, "records.item")):
        yield FileResult(index, None, engine.validate_item(item, version, ctx))


def _check(engine: Engine, entity: str | None, value, version: str, ctx) -> Report:
    """A record of a known entity, or an ``{entity, op, data}`` item when entity is None."""
    if entity is None or entity == BATCH:
        return engine.validate_item(value, version, ctx)
    return engine.validate(entity, value, version, ctx)
