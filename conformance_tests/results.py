"""The results of one run: the source of truth every report is made from (results.json).

``RunResult.to_dict()`` is what ``results.json`` holds; JUnit XML, the HTML report and the
conformance statement are all generated from that dictionary (``reporters/``), never from
the live objects, so what CI, people and the statement see is one thing. Personal data
(ID and mobile numbers) in evidence, messages and observed values is masked before it is
stored (``masking.py``): the reports are shared, the records are not theirs to share.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .context import Exchange
from .masking import mask, mask_value
from .outcomes import Outcome

RESULTS_FORMAT = "vgw-conformance-results/1"
MAX_BODY_CHARS = 20_000          # bodies longer than this are cut in the evidence


def _body(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        cut = raw[: MAX_BODY_CHARS // 2]
        return {"base64": base64.b64encode(cut).decode(), "bytes": len(raw),
                "truncated": len(cut) < len(raw)}
    out: dict[str, Any] = {"text": mask(text[:MAX_BODY_CHARS]), "bytes": len(raw)}
    if len(text) > MAX_BODY_CHARS:
        out["truncated"] = True
    return out


def exchange_dict(exchange: Exchange) -> dict[str, Any]:
    return {
        "kind": "exchange",
        "method": exchange.method,
        "url": mask(exchange.url),
        "request_headers": mask_value(dict(exchange.request_headers)),
        "request_body": _body(exchange.request_body),
        "status": exchange.status,
        "response_headers": mask_value(dict(exchange.response_headers)),
        "response_body": _body(exchange.response_body),
        "note": mask(exchange.note),
    }


def evidence_dict(item: Exchange | tuple[str, Any]) -> dict[str, Any]:
    if isinstance(item, Exchange):
        return exchange_dict(item)
    label, value = item
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        value = repr(value)
    return {"kind": "note", "label": mask(str(label)), "value": mask_value(value)}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return mask_value(value)
    if isinstance(value, bytes):
        return mask(value.decode("utf-8", "replace"))
    try:
        json.dumps(value)
        return mask_value(value)
    except (TypeError, ValueError):
        return mask(repr(value))


@dataclass
class TestResult:
    """The outcome of one test, with what the requirement is and what was seen."""

    id: str
    title: str
    role: str
    group: str
    requirements: list[dict[str, str]]       # [{"id", "text", "source"}]
    outcome: Outcome
    message: str = ""
    expected: Any = None
    observed: Any = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    started_at: str = ""
    duration_ms: int = 0
    features: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "role": self.role, "group": self.group,
            "requirements": self.requirements, "features": self.features,
            "depends_on": self.depends_on, "outcome": self.outcome.value,
            "message": mask(self.message), "expected": _jsonable(self.expected),
            "observed": _jsonable(self.observed), "evidence": self.evidence,
            "started_at": self.started_at, "duration_ms": self.duration_ms,
        }


@dataclass
class RunResult:
    suite_version: str
    system: dict[str, Any]
    config_digest: str
    features: dict[str, bool | None]
    selection: dict[str, Any]
    started_at: str
    finished_at: str = ""
    tests: list[TestResult] = field(default_factory=list)
    schema_version: str = "1"          # the version the run tested in ([server] schema_version)

    def summary(self) -> dict[str, int]:
        counts = {o.value: 0 for o in Outcome}
        for t in self.tests:
            counts[t.outcome.value] += 1
        counts["total"] = len(self.tests)
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RESULTS_FORMAT,
            "suite_version": self.suite_version,
            "system": self.system,
            "config_digest": self.config_digest,
            "schema_version": self.schema_version,
            "features": self.features,
            "selection": self.selection,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "summary": self.summary(),
            "tests": [t.to_dict() for t in self.tests],
        }


def exit_status(results: dict[str, Any]) -> int:
    """0 when nothing failed or erred (skips and omits allowed), else 1."""
    s = results["summary"]
    return 1 if s.get("fail", 0) or s.get("error", 0) else 0


def write_json(results: dict[str, Any], path: Path) -> bytes:
    """Write results.json (UTF-8, sorted keys, stable) and return the bytes written."""
    raw = (json.dumps(results, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(raw)
    tmp.replace(path)
    return raw


def read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != RESULTS_FORMAT:
        raise ValueError(f"{path} is not a vgw-conformance results file")
    return data
