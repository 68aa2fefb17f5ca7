"""Spreadsheets: xlsx and csv files dropped in a folder, one entity per source.

Many small teams keep their volunteers and service hours in spreadsheets and upload them in
batches. A spreadsheet source names a folder, the entity its rows hold, and how the
sheet's (Chinese) headers map to the standard's keys::

    {"folder": "/srv/vgw/drop/chaoyang", "entity": "volunteer",
     "columns": {"姓名": "name", "证件类型": "id_type", "证件号码": "id_number",
                 "性别": "gender", "手机号码": "mobile", "监护人姓名": "guardian.name"},
     "values": {"gender": {"男": "1", "女": "2", "M": "1", "F": "2"}},
     "sheet": "志愿者", "header_row": 2}

Reading
    Files matching ``patterns`` (``*.xlsx`` and ``*.csv``; Excel's ``~$`` lock files and
    hidden files are ignored) are read in name order. xlsx is streamed with openpyxl in
    read-only mode; csv is utf-8 (with or without BOM) or, failing that, GB18030 (what Excel
    on a Chinese Windows writes), or the ``encoding`` setting. Each row after the header
    becomes one :class:`~gateway.adapter.NativeItem`: ``native`` is ``{header: cell value}``
    (every column of the sheet, plus ``_file``, ``_row`` and ``_columns`` — the column
    letter of each mapped header, for error messages), ``location`` is ``"row 12"`` and
    ``source_id`` the row's ``key`` (below) or ``"<file>#<row>"``. Blank rows are skipped.
    A file that cannot be opened (damaged, no such sheet, none of the configured headers)
    becomes one item that ``to_standard`` refuses (``mapping.unreadable_file``), so one bad
    upload never blocks the others.

    The cursor (opaque JSON text) holds the files already read — name and a digest of the
    content, so a file replaced by a new version is read again and an unchanged one never
    is — and the file and row reached in the current one. A new file is picked up whatever
    its name.

Mapping
    ``columns`` maps headers to standard keys; ``a.b`` reaches a member of an object
    (``guardian.name``, ``contact.mobile``); arrays of objects (a project's posts) cannot
    be mapped. Values are converted by the key's type in the published schema:

    - codes: ``values`` first, then the code table's own Chinese labels (``男`` → ``1``,
      ``汉族`` → ``01``), then the code itself; a code that lost its leading zero in Excel
      (``1`` for ``01``) is restored; several codes in one cell are separated by
      ``,``/``，``/``、``/``;``;
    - dates and date-times: Excel dates, ``2024-05-01``, ``2024/5/1``, ``2024年5月1日``,
      ``2024-05-01 09:00[:00]``; numbers: number cells or text; yes/no: ``是``/``否``,
      ``true``/``false``, ``1``/``0``;
    - text typed as a number (a mobile number) is taken as its digits; an 18-digit ID number
      stored as a number has lost digits in Excel and is refused (format the column as text).

    Every problem is reported with the row and the column: pointer ``/证件号码`` into the
    native record, message ``第12行 C列（证件号码）：…`` / ``row 12, column C (证件号码): …``.

Writing (the adapter is writable)
    ``write`` keeps one file, ``write_file`` (default ``<entity>.xlsx``; ``.csv`` written
    as utf-8 with BOM), in the folder: a record whose ``key`` (default: the entity's own
    number, ``volunteer_no`` / ``record_no`` …, else ``source_id``) is already in the file
    replaces that row,
    a new one is appended, and the file is rewritten atomically only when something changed
    — so writing the same records twice leaves one row each. Codes are written as their
    Chinese label when the label reads back to the same code (``write_labels``), fields the
    mapping has no column for are left out, text cells are stored as text (never formulas).
    Empty lists and empty objects have no cell: they read back as absent.

The parts
    :mod:`adapters.spreadsheet.cells` (which field a column maps to, typed by the adapters'
    field toolkit :mod:`adapters.fields`, and a cell's conversion both ways),
    :mod:`adapters.spreadsheet.files` (sealed uploads, the folder's files, reading and
    writing a sheet) and :mod:`adapters.spreadsheet.cursor`; this module is the adapter.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from fnmatch import fnmatch
from pathlib import Path
from typing import IO, Any, Iterator

import schemas
from adapters.spreadsheet.cells import Field, Problem, cell_json, field_of, from_std, to_std
from adapters.spreadsheet.cursor import Cursor
from adapters.spreadsheet.files import (SEALED_SUFFIX, SealedUpload, fingerprint, folder_files,
                                        read_for_write, save_sheet, sheet_rows, upload_aad)
from gateway.adapter import (Adapter, AdapterError, AdapterSettingsError, CheckResult, Issue,
                             MappingError, NativeItem, Page, WriteResult, pointer)

__all__ = ["ENTITIES", "SEALED_SUFFIX", "SpreadsheetAdapter"]

# Entities whose records are flat enough for a sheet (the certificate is issued, not kept).
ENTITIES = tuple(n for n in schemas.schema_names("1") if n not in ("batch", "certificate"))

_SENSITIVE_KEYS = {"id_number", "mobile"}


# -- the adapter ---------------------------------------------------------------------------

class SpreadsheetAdapter(Adapter):
    """xlsx and csv files in a folder, with a column mapping from headers to standard keys."""

    verification = ("files dropped in a folder or uploaded: no transport signature; each row is "
                    "checked against the column mapping")
    name = "spreadsheet"
    entities = ENTITIES
    cannot_delete_reason = ("a spreadsheet has no way to mark a row deleted: the written file "
                            "keeps every row")
    settings_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "spreadsheet adapter settings",
        "type": "object",
        "additionalProperties": False,
        "required": ["folder", "entity", "columns"],
        "properties": {
            "folder": {"type": "string", "minLength": 1,
                       "description": "Folder the files are dropped in (and written to)."},
            "entity": {"enum": list(ENTITIES), "description": "What the rows are."},
            "columns": {
                "type": "object", "minProperties": 1,
                "description": "Header → standard key ('a.b' for a member of an object).",
                "propertyNames": {"minLength": 1},
                "additionalProperties": {"type": "string", "minLength": 1},
            },
            "values": {
                "type": "object",
                "description": "Standard key → {cell value → code}, e.g. {\"gender\": {\"男\": \"1\"}}.",
                "additionalProperties": {"type": "object",
                                         "additionalProperties": {"type": "string"}},
            },
            "sheet": {"type": "string", "minLength": 1,
                      "description": "Worksheet name (default: the first sheet)."},
            "header_row": {"type": "integer", "minimum": 1, "default": 1},
            "patterns": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1},
                         "default": ["*.xlsx", "*.csv"]},
            "key": {"type": "string", "minLength": 1,
                    "description": "Standard key identifying a row (default: the entity's "
                                   "number, else source_id): the native id, and what write upserts by."},
            "write_file": {"type": "string", "pattern": "^[^/\\\\]+\\.(xlsx|csv)$",
                           "description": "File that write() keeps (default <entity>.xlsx)."},
            "encoding": {"enum": ["utf-8", "utf-8-sig", "gb18030"],
                         "description": "CSV encoding (default: detected, utf-8 or GB18030)."},
            "write_labels": {"type": "boolean", "default": True,
                             "description": "Write codes as their Chinese labels."},
        },
    }

    def __init__(self, settings, *, http=None):
        super().__init__(settings, http=http)
        s = self.settings
        self.entity: str = s["entity"]
        self.entities = (self.entity,)
        self.folder = Path(s["folder"])
        self.header_row: int = s.get("header_row", 1)
        self.patterns: list[str] = s.get("patterns", ["*.xlsx", "*.csv"])
        self.write_labels: bool = s.get("write_labels", True)
        self.write_file: str = s.get("write_file", f"{self.entity}.xlsx")
        self.fields: dict[str, Field] = {}          # header → field
        targets: dict[str, str] = {}
        for header, key in s["columns"].items():
            found = field_of(self.entity, key)
            if isinstance(found, str):
                raise AdapterSettingsError(self.name, pointer("columns", header), found)
            if key in targets:
                raise AdapterSettingsError(self.name, pointer("columns", header),
                                           f"{key!r} is already mapped from {targets[key]!r}")
            targets[key] = header.strip()
            self.fields[header.strip()] = found
        self.header_of = targets                    # standard key → header
        self.values_in: dict[str, dict[str, str]] = {}
        self.values_out: dict[str, dict[str, str]] = {}
        for key, table in s.get("values", {}).items():
            if key not in targets:
                raise AdapterSettingsError(self.name, pointer("values", key),
                                           f"{key!r} is not mapped from any column")
            field = self.fields[targets[key]]
            for cell, code in table.items():
                if field.enum is not None and code not in field.enum:
                    raise AdapterSettingsError(self.name, pointer("values", key, cell),
                                               f"{code!r} is not a code of {key}")
                self.values_in.setdefault(key, {})[cell.strip()] = code
                self.values_out.setdefault(key, {}).setdefault(code, cell.strip())
        key = s.get("key")
        if key is None:
            key = next((k for k in (f"{self.entity}_no", "record_no", "source_id") if k in targets), None)
        elif key not in targets:
            raise AdapterSettingsError(self.name, "/key", f"{key!r} is not mapped from any column")
        self.key: str | None = key
        self._fingerprints: dict[tuple[str, int, int], str] = {}
        self._open: tuple[str, Iterator, Any] | None = None   # (cursor text, events, peeked)

    # -- check --------------------------------------------------------------------------

    def check(self) -> CheckResult:
        if not self.folder.is_dir():
            return CheckResult(False, f"folder {self.folder} does not exist")
        if not os.access(self.folder, os.R_OK | os.X_OK):
            return CheckResult(False, f"folder {self.folder} is not readable")
        count = sum(1 for _ in self._files())
        return CheckResult(True, f"folder {self.folder}: {count} file(s) to read")

    # -- uploads --------------------------------------------------------------------------

    def accept_file(self, filename: str, data: IO[bytes]) -> str:
        """Keep an uploaded file in the folder under its own name (replacing a file of that name,
        which is then read again); written to a hidden temporary file first and renamed, so a
        run never sees half a file."""
        name = filename.strip()
        if (not name or name != Path(name).name or "\\" in name or name.startswith((".", "~$"))
                or len(name.encode("utf-8")) > 200
                or not any(fnmatch(name, pat) for pat in self.patterns)):
            raise MappingError([Issue("/filename", "upload.filename", f"文件名应为 {'、'.join(self.patterns)} "
                                      "之一的普通文件名（不含路径，不以 . 或 ~$ 开头）",
                                      f"the file name must be a plain name matching "
                                      f"{', '.join(self.patterns)} (no path, not starting with . or ~$)")])
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=self.folder, prefix=".upload-", delete=False)
        try:
            with handle:
                if self.sealer is not None:  # kept sealed: personal data never in clear at rest
                    handle.write(self.sealer.seal(data.read(), upload_aad(name)))
                else:
                    shutil.copyfileobj(data, handle, 1 << 16)
            kept = self.folder / (name + SEALED_SUFFIX if self.sealer is not None else name)
            os.replace(handle.name, kept)
            if self.sealer is not None:
                (self.folder / name).unlink(missing_ok=True)  # an older copy in clear
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        return name

    def reseal(self) -> int:
        """Seal every sealed upload again under the newest key (``vgw pii rotate``)."""
        if self.sealer is None or not self.folder.is_dir():
            return 0
        count = 0
        for path in sorted(self.folder.glob("*" + SEALED_SUFFIX)):
            token = path.read_bytes()
            if self.sealer.sealed_under_newest(token):
                continue
            aad = upload_aad(path.name[:-len(SEALED_SUFFIX)])
            fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(self.sealer.seal(self.sealer.open(token, aad), aad))
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            count += 1
        return count

    # -- reading --------------------------------------------------------------------------

    def _files(self) -> Iterator[Path | SealedUpload]:
        return folder_files(self.folder, self.patterns, self.sealer)

    def _fingerprint(self, path: Path) -> str:
        stat = path.stat()
        key = (path.name, stat.st_size, stat.st_mtime_ns)
        if key not in self._fingerprints:
            self._fingerprints[key] = fingerprint(path)
        return self._fingerprints[key]

    def _events(self, cursor: Cursor) -> Iterator[tuple]:
        """("row", file, row, native) for every unread row and ("eof", file, digest) after
        every file, from the cursor's position."""
        for path in self._files():
            try:
                digest = self._fingerprint(path)
            except FileNotFoundError:
                continue
            if cursor.done.get(path.name) == digest:
                continue
            start = cursor.row if cursor.file == path.name else 0
            if start < 0 and cursor.digest != digest:
                start = 0                        # a file that failed was replaced: read it
            if start >= 0:                       # < 0: the file's error was already reported
                for event in self._file_events(path, start):
                    yield (*event, digest)
            yield ("eof", path.name, digest)

    def _file_events(self, path: Path, start: int) -> Iterator[tuple]:
        name = path.name
        try:
            from openpyxl.utils import get_column_letter  # 1 -> A, 27 -> AA (CSV files too)

            rows = sheet_rows(path, self.settings.get("sheet"), self.settings.get("encoding"))
            columns: dict[str, str] = {}
            headers: list[str | None] = []
            for number, row in enumerate(rows, start=1):
                if number < self.header_row:
                    continue
                if number == self.header_row:
                    headers = [str(h).strip() if h not in (None, "") else None for h in row]
                    columns = {h: get_column_letter(i + 1) for i, h in enumerate(headers)
                               if h is not None and h in self.fields}
                    if not columns:
                        raise Problem("mapping.unreadable_file",
                                       f"第{self.header_row}行没有任何已配置的列名",
                                       f"row {self.header_row} has none of the configured headers")
                    continue
                if number <= start:
                    continue
                values = [cell_json(v) for v in row]
                if all(v is None or v == "" for v in values):
                    continue
                native: dict[str, Any] = {}
                for i, header in enumerate(headers):
                    if header is not None and header not in native:
                        native[header] = values[i] if i < len(values) else None
                native.update({"_file": name, "_row": number, "_columns": columns})
                yield ("row", name, number, native)
            if not headers and start < self.header_row:
                raise Problem("mapping.unreadable_file", f"文件没有第{self.header_row}行（表头）",
                               f"the file has no header row {self.header_row}")
        except Problem as problem:
            yield ("row", name, 0, {"_file": name, "_row": 0,
                                    "_error": {"rule": problem.rule, "zh": problem.zh,
                                               "en": problem.en}})
        except Exception as err:  # noqa: BLE001 - a damaged upload must not block the others
            yield ("row", name, 0, {"_file": name, "_row": 0,
                                    "_error": {"rule": "mapping.unreadable_file",
                                               "zh": f"无法读取文件（{type(err).__name__}）",
                                               "en": f"the file cannot be read ({type(err).__name__}: "
                                                     f"{str(err)[:200]})"}})

    def _source_id(self, native: dict[str, Any]) -> str:
        header = self.header_of.get(self.key) if self.key else None
        if header is not None and not native.get("_error"):
            value = native.get(header)
            if value not in (None, ""):
                try:
                    text = to_std(self.fields[header], value, self.values_in.get(self.key, {}))
                except Problem:
                    text = None
                if isinstance(text, str) and text:
                    return _identity(self.key, text)
        return f"{native['_file']}#{native['_row']}"

    def read(self, entity: str, cursor: str | None, page_size: int) -> Page:
        self.require_entity(entity)
        if page_size < 1:
            raise AdapterError("page_size must be at least 1")
        state = Cursor.parse(cursor)
        events, peeked = self._take_open(cursor)
        if events is None:
            events, peeked = self._events(state), None
        items: list[NativeItem] = []
        has_more = False
        while True:
            event = peeked if peeked is not None else next(events, None)
            peeked = None
            if event is None:
                break
            if event[0] == "eof":
                _, name, digest = event
                state.done[name] = digest
                if state.file == name:
                    state.file, state.row, state.digest = None, 0, None
                continue
            _, name, number, native, digest = event
            if len(items) == page_size:
                has_more, peeked = True, event
                break
            items.append(NativeItem(native=native, source_id=self._source_id(native), op="upsert",
                                    location=f"row {number}" if number else native["_file"]))
            state.file, state.row, state.digest = name, number or -1, digest  # 0: unreadable file
        next_cursor = state.text() if (items or cursor is not None or state.done) else None
        if has_more:
            self._keep_open(next_cursor, events, peeked)
        else:
            _close(events)
        return Page(items, next_cursor, has_more)

    def _take_open(self, cursor: str | None):
        if self._open is not None and self._open[0] == cursor and cursor is not None:
            _, events, peeked = self._open
            self._open = None
            return events, peeked
        self._drop_open()
        return None, None

    def _keep_open(self, cursor: str | None, events, peeked) -> None:
        self._drop_open()
        self._open = (cursor, events, peeked)

    def _drop_open(self) -> None:
        if self._open is not None:
            _close(self._open[1])
            self._open = None

    def close(self) -> None:
        self._drop_open()
        super().close()

    # -- mapping -------------------------------------------------------------------------

    def to_standard(self, entity: str, native: dict[str, Any]) -> dict[str, Any]:
        self.require_entity(entity)
        if not isinstance(native, dict):
            raise MappingError([Issue("", "mapping.invalid", "记录应为对象", "a record must be an object")])
        if native.get("_error"):
            err = native["_error"]
            name = native.get("_file", "")
            raise MappingError([Issue("/_file", err.get("rule", "mapping.unreadable_file"),
                                      f"文件「{name}」：{err.get('zh', '')}",
                                      f"file {name!r}: {err.get('en', '')}")])
        row = native.get("_row")
        columns = native.get("_columns") or {}
        issues: list[Issue] = []
        record: dict[str, Any] = {}
        for header, f in self.fields.items():
            value = native.get(header)
            if value is None or value == "" or value == []:
                continue
            try:
                converted = to_std(f, value, self.values_in.get(f.key, {}))
            except Problem as problem:
                issues.append(self._issue(header, row, columns, problem.rule, problem.zh, problem.en))
                continue
            if f.kind == "codes" and not converted:
                continue
            node = record
            for step in f.path[:-1]:
                node = node.setdefault(step, {})
            node[f.path[-1]] = converted
        schema = schemas.load_schema("1", self.entity)
        for key in schema.get("required", ()):
            header = self.header_of.get(key)
            if key in record or header is None:
                continue      # not mapped at all: the engine reports it on the standard record
            if any(i.pointer == pointer(header) for i in issues):
                continue
            if header not in native and "_row" in native:
                issues.append(self._issue(header, row, columns, "mapping.missing",
                                          "必填，但文件中没有这一列", "is required but the file has no such column"))
            else:
                issues.append(self._issue(header, row, columns, "mapping.missing",
                                          "必填，不能为空", "is required and empty"))
        if issues:
            raise MappingError(issues)
        return record

    def _issue(self, header: str, row: Any, columns: dict, rule: str, zh: str, en: str) -> Issue:
        letter = columns.get(header)
        if isinstance(row, int) and row and letter:
            where_zh, where_en = f"第{row}行 {letter}列（{header}）", f"row {row}, column {letter} ({header})"
        elif isinstance(row, int) and row:
            where_zh, where_en = f"第{row}行（{header}）", f"row {row} ({header})"
        else:
            where_zh, where_en = f"列（{header}）", f"column ({header})"
        return Issue(pointer(header), rule, f"{where_zh}：{zh}", f"{where_en}: {en}")

    def from_standard(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        self.require_entity(entity)
        if not isinstance(record, dict):
            raise MappingError([Issue("", "mapping.invalid", "记录应为对象", "a record must be an object")])
        issues: list[Issue] = []
        native: dict[str, Any] = {}
        for header, f in self.fields.items():
            node: Any = record
            for step in f.path:
                node = node.get(step) if isinstance(node, dict) else None
            if node is None:
                continue
            try:
                native[header] = from_std(f, node, self.values_out.get(f.key, {}), self.write_labels)
            except Problem as problem:
                issues.append(Issue(pointer(*f.path), problem.rule, problem.zh, problem.en))
        for key in schemas.load_schema("1", self.entity).get("required", ()):
            if key in self.header_of and key not in record:
                issues.append(Issue(pointer(key), "mapping.missing", f"缺少必填字段「{key}」",
                                    f"required field {key} is missing"))
        if issues:
            raise MappingError(issues)
        return native

    # -- writing -------------------------------------------------------------------------

    def write(self, entity: str, records: list[dict[str, Any]]) -> list[WriteResult]:
        self.require_entity(entity)
        if self.key is None:
            raise AdapterError("the spreadsheet adapter writes only with a key column: map "
                               "source_id or the entity's number, or set `key`")
        self._drop_open()
        path = self.folder / self.write_file
        preamble, header, rows = self._load_for_write(path)
        for h in self.fields:
            if h not in header:
                header.append(h)
        key_header = self.header_of[self.key]
        key_col = header.index(key_header)
        index: dict[str, int] = {}
        key_field = self.fields[key_header]
        for i, row in enumerate(rows):
            cell = row[key_col] if key_col < len(row) else None
            if cell in (None, ""):
                continue
            try:
                value = to_std(key_field, cell_json(cell), self.values_in.get(self.key, {}))
            except Problem:
                continue
            index.setdefault(_identity(self.key, str(value)), i)
        results: list[WriteResult] = []
        changed = False
        for record in records:
            try:
                native = self.from_standard(entity, record)
            except MappingError as err:
                results.append(WriteResult(False, None, err.issues))
                continue
            key_value = _dig(record, tuple(self.key.split(".")))
            if not isinstance(key_value, str) or not key_value:
                results.append(WriteResult(False, None, [Issue(
                    pointer(*self.key.split(".")), "mapping.missing",
                    f"缺少用于识别行的字段「{self.key}」", f"the row key {self.key} is missing")]))
                continue
            rid = _identity(self.key, key_value)
            position = index.get(rid)
            old = rows[position] if position is not None else []
            new = [native.get(h, old[i] if i < len(old) and h not in self.fields else None)
                   for i, h in enumerate(header)]
            if position is None:
                index[rid] = len(rows)
                rows.append(new)
                changed = True
            elif not _same_row(old, new):
                rows[position] = new
                changed = True
            results.append(WriteResult(True, rid, []))
        if changed:
            self._save(path, preamble, header, rows)
        return results

    def _load_for_write(self, path: Path) -> tuple[list[list[Any]], list[str], list[list[Any]]]:
        try:
            return read_for_write(path, self.header_row, self.settings.get("sheet"),
                                  self.settings.get("encoding"))
        except Problem as problem:
            raise AdapterError(f"{path.name}: {problem.en}") from None
        except Exception as err:  # noqa: BLE001
            raise AdapterError(f"{path.name} cannot be read: {err}") from err

    def _save(self, path: Path, preamble, header, rows) -> None:
        save_sheet(path, preamble, header, rows, encoding=self.settings.get("encoding", "utf-8-sig"),
                   sheet=self.settings.get("sheet") or self.entity)


def _identity(key: str, value: str) -> str:
    """The native id of a row: its key's value (personal numbers as a digest)."""
    if key.split(".")[-1] in _SENSITIVE_KEYS:
        return f"{key}:" + hashlib.sha256(value.encode()).hexdigest()[:32]
    return value


def _same_row(old: list[Any], new: list[Any]) -> bool:
    """Whether a stored row already holds these cells (csv gives back text, xlsx numbers)."""
    def text(values):
        out = ["" if v is None else str(v) for v in values]
        while out and out[-1] == "":
            out.pop()
        return out
    return text(old) == text(new)


def _dig(record: dict, path: tuple[str, ...]) -> Any:
    node: Any = record
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    return node


def _close(events) -> None:
    close = getattr(events, "close", None)
    if close is not None:
        close()
