"""The spreadsheet adapter's files: uploads kept sealed, which files a folder holds, their
digests, reading a sheet's rows (csv in its encoding, xlsx streamed) and writing a sheet
atomically."""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import tempfile
import warnings
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Iterator

from adapters.spreadsheet.cells import Problem, cell_json

__all__ = ["SEALED_SUFFIX", "SealedUpload", "fingerprint", "folder_files", "read_for_write",
           "save_sheet", "sheet_rows", "upload_aad"]

#: An upload received through the gateway is kept as ``<name><SEALED_SUFFIX>``: sealed with
#: the personal-data keys (AES-256-GCM, the file's name authenticated), read like ``<name>``.
SEALED_SUFFIX = ".vgw-sealed"


def upload_aad(name: str) -> bytes:
    return b"vgw-upload:" + name.encode("utf-8")


class SealedUpload:
    """A sealed upload, read as the plain file it holds (decrypted in memory, never on disk):
    the ``name``, ``suffix``, ``stat()`` and ``open()`` the readers use of a Path."""

    def __init__(self, path: Path, sealer) -> None:
        self.path = path
        self.name = path.name[:-len(SEALED_SUFFIX)]
        self.suffix = Path(self.name).suffix
        self._sealer = sealer

    def stat(self):
        return self.path.stat()

    def open(self, mode: str = "r", encoding: str | None = None, newline: str | None = None):
        import io

        data = io.BytesIO(self._sealer.open(self.path.read_bytes(), upload_aad(self.name)))
        return data if "b" in mode else io.TextIOWrapper(data, encoding=encoding, newline=newline)


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:20]


def csv_encoding(path: Path, forced: str | None) -> str:
    if forced:
        return forced
    with path.open("rb") as fh:
        head = fh.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def sheet_rows(path: Path, sheet: str | None, encoding: str | None) -> Iterator[list[Any]]:
    """Every row of the file's sheet as a list of cell values (row 1 first)."""
    if path.suffix.lower() == ".csv":
        enc = csv_encoding(path, encoding)
        with path.open(encoding=enc, newline="") as fh:
            yield from csv.reader(fh)
        return
    import openpyxl
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # openpyxl's style warnings on foreign files
        workbook = openpyxl.load_workbook(path.open("rb") if isinstance(path, SealedUpload)
                                          else path, read_only=True, data_only=True)
    try:
        if sheet is not None:
            if sheet not in workbook.sheetnames:
                raise Problem("mapping.unreadable_file", f"文件中没有名为「{sheet}」的工作表",
                               f"the workbook has no sheet named {sheet!r}")
            ws = workbook[sheet]
        else:
            ws = workbook.worksheets[0]
        for row in ws.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


def folder_files(folder: Path, patterns: list[str], sealer) -> Iterator[Path | SealedUpload]:
    """The files of ``folder`` to read, in name order: those matching ``patterns``, not
    hidden nor Excel's ``~$`` lock files; a sealed upload (read only with the ``sealer``)
    in place of a plain file of its name."""
    if not folder.is_dir():
        return
    paths = sorted(folder.iterdir(), key=lambda p: p.name)
    sealed = {p.name[:-len(SEALED_SUFFIX)] for p in paths if p.name.endswith(SEALED_SUFFIX)}
    for path in paths:
        name = path.name
        if name.startswith((".", "~$")) or not path.is_file():
            continue
        found: Path | SealedUpload = path
        if name.endswith(SEALED_SUFFIX):
            if sealer is None:
                continue  # no keys here: left for a run that has them
            found = SealedUpload(path, sealer)
            name = found.name
        elif name in sealed:
            continue  # the sealed upload replaced it
        if any(fnmatch(name, pat) for pat in patterns):
            yield found


def read_for_write(path: Path, header_row: int, sheet: str | None, encoding: str | None
                   ) -> tuple[list[list[Any]], list[str], list[list[Any]]]:
    """(the rows above the header, the header, the non-blank rows below it) of the file a
    write keeps; raises :class:`Problem` or the reader's error."""
    if not path.exists():
        preamble: list[list[Any]] = [[] for _ in range(header_row - 1)]
        return preamble, [], []
    all_rows = list(sheet_rows(path, sheet, encoding))
    preamble = [list(r) for r in all_rows[: header_row - 1]]
    header_cells = all_rows[header_row - 1] if len(all_rows) >= header_row else []
    header = [str(h).strip() if h not in (None, "") else "" for h in header_cells]
    rows = [[cell_json(v) for v in r] for r in all_rows[header_row:]
            if any(v not in (None, "") for v in r)]
    return preamble, header, rows


def save_sheet(path: Path, preamble, header, rows, *, encoding: str, sheet: str) -> None:
    """Write the sheet to ``path`` atomically (a temporary file in its folder, renamed): csv
    in ``encoding``, else xlsx with one worksheet ``sheet``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".~vgw-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        if path.suffix.lower() == ".csv":
            with open(tmp, "w", encoding=encoding, newline="") as fh:
                writer = csv.writer(fh)
                for row in [*preamble, header, *rows]:
                    writer.writerow(["" if v is None else v for v in row])
        else:
            _save_xlsx(tmp, sheet, preamble, header, rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_xlsx(target: str, sheet: str, preamble, header, rows) -> None:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    workbook = openpyxl.Workbook(write_only=True)
    ws = workbook.create_sheet(sheet)

    def cells(values):
        out = []
        for value in values:
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"        # text stays text: never a formula
            out.append(cell)
        return out

    for row in preamble:
        ws.append(cells(row))
    ws.append(cells(header))
    for row in rows:
        ws.append(cells(row))
    workbook.save(target)
