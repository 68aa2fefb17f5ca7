"""The spreadsheet adapter's cursor (see the package docstring, "Reading")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.adapter import AdapterError

__all__ = ["Cursor"]


@dataclass
class Cursor:
    """Where a spreadsheet source's reading stands: the files read whole (name → digest of
    the content, so a replaced file is read again) and the file and row reached in the
    current one; as opaque JSON text between runs."""

    done: dict[str, str]
    file: str | None = None
    row: int = 0
    digest: str | None = None       # of the current file when its position was taken

    @classmethod
    def parse(cls, text: str | None) -> "Cursor":
        if text is None:
            return cls({})
        try:
            data = json.loads(text)
            done = {str(k): str(v) for k, v in data["done"].items()}
            at = data.get("at")
            return cls(done, str(at[0]), int(at[1]), str(at[2])) if at else cls(done)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
            raise AdapterError(f"not a spreadsheet adapter cursor: {text[:80]!r}") from err

    def text(self) -> str:
        data: dict[str, Any] = {"done": dict(sorted(self.done.items()))}
        if self.file is not None:
            data["at"] = [self.file, self.row, self.digest]
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
