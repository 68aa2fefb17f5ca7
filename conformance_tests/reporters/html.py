"""One self-contained HTML report for people, generated from results.json.

No external assets (inline CSS, no script needed to read it). Failures and errors first,
then skips, omits and passes; each test shows its requirement(s) with text and source, the
message, expected and observed, and every exchange: what was sent and what came back.
Everything shown goes through ``masking.mask`` again, so ID and mobile numbers never
appear in the page even if a results file from elsewhere holds them.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from ..masking import mask

ORDER = {"fail": 0, "error": 1, "skip": 2, "omit": 3, "pass": 4}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:0;
color:#1b1f24;background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}header p{margin:2px 0;opacity:.9}
main{padding:18px 28px;max-width:1200px}
.summary{display:flex;gap:10px;flex-wrap:wrap;margin:8px 0 18px}
.chip{padding:6px 12px;border-radius:14px;font-weight:600;background:#e9ecef}
.fail,.error{background:#fde2e1;color:#9b1c1c}.pass{background:#dcf5e3;color:#17653a}
.skip{background:#fff4d6;color:#7a5300}.omit{background:#e9ecef;color:#495057}
details.test{background:#fff;border:1px solid #d9dde3;border-radius:6px;margin:8px 0;padding:0}
details.test>summary{cursor:pointer;padding:10px 14px;display:flex;gap:12px;align-items:center}
details.test[open]>summary{border-bottom:1px solid #e3e6ea}
.badge{font-size:12px;text-transform:uppercase;padding:2px 8px;border-radius:10px;min-width:44px;
text-align:center}
.tid{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;color:#495057}
.body{padding:10px 16px}
tr.problem td{font-size:12px;color:#9b1c1c;background:#fff8f8}
.reason{color:#5c677d;font-size:13px;margin-left:auto}
.req{border-left:3px solid #457b9d;padding:4px 10px;margin:6px 0;background:#f1f6fa}
.req .src{color:#5c677d;font-size:12px}
.msg{font-weight:600;margin:8px 0}
table.eo{border-collapse:collapse;margin:6px 0}table.eo td{padding:3px 10px;vertical-align:top;
border:1px solid #e3e6ea}
pre{background:#0f172a;color:#e2e8f0;padding:8px 10px;border-radius:4px;overflow:auto;
max-height:320px;white-space:pre-wrap;word-break:break-all;font-size:12px}
.ex{margin:10px 0;border:1px solid #e3e6ea;border-radius:4px;padding:6px 10px}
.ex h4{margin:2px 0 6px;font-size:13px;font-family:ui-monospace,Menlo,Consolas,monospace}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:10px}
h2{font-size:17px;margin:22px 0 6px}
footer{color:#5c677d;font-size:12px;padding:14px 28px}
"""


def _e(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, indent=1)
    return html.escape(mask(value))


def _body(body: dict[str, Any] | None) -> str:
    if not body:
        return "<em>(no body)</em>"
    if "text" in body:
        text = body["text"]
        try:
            text = json.dumps(json.loads(text), ensure_ascii=False, indent=2)
        except (ValueError, TypeError):
            pass
        cut = " (cut)" if body.get("truncated") else ""
        return f"<small>{body['bytes']} bytes{cut}</small><pre>{_e(text)}</pre>"
    return f"<small>{body['bytes']} bytes of binary, not shown</small>"


def _headers(headers: dict[str, str]) -> str:
    return _e("\n".join(f"{k}: {v}" for k, v in headers.items()))


def _data_summary(files: list[dict[str, Any]]) -> str:
    rows = []
    for f in files:
        state = f["file_error"] or ("all valid" if not f["invalid"] else f"{f['invalid']} invalid")
        rows.append(f"<tr><td>{_e(f['file'])}</td><td>{_e(f['format'])}</td>"
                    f"<td>{_e(', '.join(f['entities']))}</td><td>{f['records']}</td>"
                    f"<td>{f['valid']}</td><td>{f['not_checked']}</td><td>{_e(state)}</td></tr>")
        problems = f["envelope_problems"] + f["problems"]
        for p in problems:
            rows.append(f"<tr class='problem'><td colspan='2'>{_e(p['record'])}</td>"
                        f"<td>{_e(p['pointer'] or '(record)')}</td><td colspan='2'>{_e(p['rule'])}</td>"
                        f"<td colspan='2'>{_e(p['message'])}</td></tr>")
        if f.get("problems_not_shown"):
            rows.append(f"<tr class='problem'><td colspan='7'>… and {f['problems_not_shown']} "
                        "more issues (see results.json)</td></tr>")
    return ("<div class='ex'><h4>Export files: per file, per record</h4><table class='eo'>"
            "<tr><th>file</th><th>format</th><th>entities</th><th>records</th><th>valid</th>"
            "<th>deletions</th><th>result</th></tr>" + "".join(rows) + "</table></div>")


def _evidence(item: dict[str, Any]) -> str:
    if item.get("kind") == "note" and item.get("label") == "data summary" and isinstance(
            item.get("value"), list):
        return _data_summary(item["value"])
    if item.get("kind") == "note":
        return f"<div class='ex'><h4>{_e(item['label'])}</h4><pre>{_e(item['value'])}</pre></div>"
    status = item["status"] if item["status"] is not None else "no answer"
    note = f"<p>{_e(item['note'])}</p>" if item.get("note") else ""
    return (f"<div class='ex'><h4>{_e(item['method'])} {_e(item['url'])} → {_e(str(status))}</h4>"
            f"{note}<div class='grid'><div><b>Sent</b><pre>{_headers(item['request_headers'])}</pre>"
            f"{_body(item['request_body'])}</div><div><b>Came back</b>"
            f"<pre>{_headers(item['response_headers'])}</pre>{_body(item['response_body'])}</div>"
            f"</div></div>")


def _test(t: dict[str, Any]) -> str:
    o = t["outcome"]
    reqs = "".join(f"<div class='req'><b>{_e(r['id'])}</b> {_e(r['text'])}"
                   f"<div class='src'>Source: {_e(r['source'])}</div></div>"
                   for r in t["requirements"])
    msg = f"<p class='msg'>{_e(t['message'])}</p>" if t["message"] else ""
    eo = ""
    if t["expected"] is not None or t["observed"] is not None:
        eo = (f"<table class='eo'><tr><td>expected</td><td><pre>{_e(t['expected'])}</pre></td></tr>"
              f"<tr><td>observed</td><td><pre>{_e(t['observed'])}</pre></td></tr></table>")
    ev = "".join(_evidence(e) for e in t["evidence"])
    opened = " open" if o in ("fail", "error") else ""
    reason = (f"<span class='reason'>{_e(t['message'])}</span>"
              if o in ("skip", "omit") and t["message"] else "")
    return (f"<details class='test' id='{_e(t['id'])}'{opened}><summary>"
            f"<span class='badge {o}'>{o}</span><span>{_e(t['title'])}</span>"
            f"<span class='tid'>{_e(t['id'])}</span>{reason}</summary><div class='body'>{reqs}{msg}{eo}"
            f"{ev or '<p><em>no exchanges recorded</em></p>'}"
            f"<p class='tid'>{t['duration_ms']} ms · group {_e(t['group'])}</p></div></details>")


def render_html(results: dict[str, Any]) -> str:
    s = results["summary"]
    tests = sorted(results["tests"], key=lambda t: (ORDER.get(t["outcome"], 9), t["id"]))
    chips = "".join(f"<span class='chip {k}'>{k} {s.get(k, 0)}</span>"
                    for k in ("fail", "error", "pass", "skip", "omit"))
    verdict = ("Every selected test passed" if not (s.get("fail") or s.get("error"))
               else f"{s.get('fail', 0)} failed, {s.get('error', 0)} erred")
    sections, last = [], None
    for t in tests:
        heading = {"fail": "Failures and errors", "error": "Failures and errors",
                   "skip": "Skipped", "omit": "Omitted (feature declared not implemented)",
                   "pass": "Passed"}[t["outcome"]]
        if heading != last:
            sections.append(f"<h2>{heading}</h2>")
            last = heading
        sections.append(_test(t))
    features = ", ".join(f"{k}={'unknown' if v is None else str(v).lower()}"
                         for k, v in results["features"].items())
    system = results["system"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Conformance report: {_e(system['name'])}</title><style>{CSS}</style></head>
<body><header><h1>Conformance report: {_e(system['name'])}</h1>
<p>{_e(system['base_url'] + ' · ' if system.get('base_url') else '')}roles {_e(', '.join(system['roles']))}
 · vgw-conformance {_e(results['suite_version'])}
 · schema version {_e(results.get('schema_version', '1'))}</p>
<p>{_e(results['started_at'])} – {_e(results['finished_at'])} · {verdict}</p></header>
<main><div class="summary">{chips}<span class='chip'>total {s['total']}</span></div>
<p class="tid">features: {_e(features)}<br>configuration digest {_e(results['config_digest'])}</p>
{''.join(sections) or '<p>No test was selected.</p>'}
</main><footer>ID and mobile numbers are masked. results.json is the source of this page.</footer>
</body></html>
"""


def write_html(results: dict[str, Any], path: Path) -> None:
    path.write_text(render_html(results), encoding="utf-8")
