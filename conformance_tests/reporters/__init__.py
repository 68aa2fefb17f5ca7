"""Reports of a run, each made from the results dictionary (results.json is the source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..results import write_json
from .html import write_html
from .junit import write_junit


def write_reports(results: dict[str, Any], folder: Path) -> dict[str, Path]:
    """results.json, then junit.xml and report.html generated from what was written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "results.json", "junit": folder / "junit.xml",
             "html": folder / "report.html"}
    write_json(results, paths["json"])
    write_junit(results, paths["junit"])
    write_html(results, paths["html"])
    return paths
