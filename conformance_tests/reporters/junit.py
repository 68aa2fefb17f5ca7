"""JUnit XML for CI, generated from results.json: a testsuite per group.

Each testcase is ``classname=<group> name=<test id>``; its requirement ids (and their
sources) are ``<properties>`` of the testcase and, collected, of its testsuite. A fail is a
``<failure>`` (message, then expected / observed in the text), an error an ``<error>``, a
skip and an omit are ``<skipped>`` with their reason (an omit's reason says so).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def junit_xml(results: dict[str, Any]) -> bytes:
    groups: dict[str, list[dict[str, Any]]] = {}
    for test in results["tests"]:
        groups.setdefault(test["group"], []).append(test)
    root = ET.Element("testsuites", name=f"vgw-conformance {results['suite_version']}: "
                                         f"{results['system']['name']} "
                                         f"(schema version {results.get('schema_version', '1')})")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for group, tests in groups.items():
        counts = {"tests": len(tests),
                  "failures": sum(t["outcome"] == "fail" for t in tests),
                  "errors": sum(t["outcome"] == "error" for t in tests),
                  "skipped": sum(t["outcome"] in ("skip", "omit") for t in tests),
                  "time": sum(t["duration_ms"] for t in tests) / 1000}
        for k in totals:
            totals[k] += counts[k]
        suite = ET.SubElement(root, "testsuite", name=group, timestamp=results["started_at"],
                              **{k: (f"{v:.3f}" if k == "time" else str(v)) for k, v in counts.items()})
        props = ET.SubElement(suite, "properties")
        seen: set[str] = set()
        for t in tests:
            for r in t["requirements"]:
                if r["id"] not in seen:
                    seen.add(r["id"])
                    ET.SubElement(props, "property", name=f"requirement:{r['id']}", value=r["text"])
        for t in tests:
            case = ET.SubElement(suite, "testcase", classname=group, name=t["id"],
                                 time=f"{t['duration_ms'] / 1000:.3f}")
            cprops = ET.SubElement(case, "properties")
            ET.SubElement(cprops, "property", name="title", value=t["title"])
            for r in t["requirements"]:
                ET.SubElement(cprops, "property", name="requirement", value=r["id"])
                ET.SubElement(cprops, "property", name=f"source:{r['id']}", value=r["source"])
            outcome = t["outcome"]
            if outcome == "fail":
                el = ET.SubElement(case, "failure", message=t["message"], type="fail")
                lines = [t["message"]]
                if t["expected"] is not None or t["observed"] is not None:
                    lines += [f"expected: {_text(t['expected'])}", f"observed: {_text(t['observed'])}"]
                lines += [f"requirement {r['id']}: {r['text']} ({r['source']})" for r in t["requirements"]]
                el.text = "\n".join(lines)
            elif outcome == "error":
                el = ET.SubElement(case, "error", message=t["message"], type="error")
                el.text = t["message"]
            elif outcome == "skip":
                ET.SubElement(case, "skipped", message=t["message"])
            elif outcome == "omit":
                ET.SubElement(case, "skipped", message=f"omitted: {t['message']}")
    for k, v in totals.items():
        root.set(k, f"{v:.3f}" if k == "time" else str(v))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_junit(results: dict[str, Any], path: Path) -> None:
    path.write_bytes(junit_xml(results))
