"""The conformance statement: a signed record that a system passed the suite.

Written only for a run that (a) selected every test of the configured roles (no ``--test``,
``--group``, ``--last-failed`` or ``--role`` narrowing), (b) had no fail and no error, and
(c) found a signing key in ``[statement] signing_key``. Otherwise no statement is written,
and one left in the report folder by an earlier run is removed, so a statement never sits
next to results it does not describe.

``statement.json`` is ``{"statement": {...}, "signature": "<JWS>"}``: the statement names
the system, the suite version, the declared features, each requirement with its result and
tests, the SHA-256 of results.json and the date; the signature is a compact JWS (RFC 7515)
with the fully-specified ``alg: "Ed25519"`` (RFC 9864) whose payload is the statement as
canonical JSON (sorted keys, no whitespace, UTF-8: RFC 8785 for the values a statement
holds, which are strings, integers, booleans and null). The library is joserfc: typed,
maintained, with RFC 9864's Ed25519 algorithm and JWK sets (RFC 7517, RFC 7638 thumbprints
as key ids) in one package; jwcrypto would do too but only has the deprecated ``EdDSA``
name. ``vgw-conformance verify`` checks a statement offline against a JWK set file, and
with ``--results`` that the results file is the one the statement names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
from pathlib import Path
from typing import Any

from joserfc import jwk, jws
from joserfc.errors import JoseError

from .config import SuiteConfig
from .registry import Registry

FORMAT = "vgw-conformance-statement/1"
ALG = "Ed25519"
FILES = ("statement.json", "statement.html")


class StatementInvalid(ValueError):
    """The statement does not verify (tampered, wrong key, wrong results, malformed)."""


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _load_key(path: Path) -> jwk.OKPKey:
    try:
        key = jwk.OKPKey.import_key(path.read_bytes())
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError(f"statement.signing_key: {path.name} is not an Ed25519 private key "
                         f"in PEM ({exc})") from None
    if key.as_dict().get("crv") != "Ed25519" or not key.is_private:
        raise ValueError(f"statement.signing_key: {path.name} is not an Ed25519 private key")
    return key


def public_jwks(path: Path) -> dict[str, Any]:
    """The public JWK set of a private key file (what ``verify --jwks`` needs)."""
    key = _load_key(path)
    public = key.as_dict(private=False)
    public.update(kid=key.thumbprint(), alg=ALG, use="sig")
    return {"keys": [public]}


def why_not(results: dict[str, Any], config: SuiteConfig) -> str | None:
    """None when a statement may be written for these results, else the reason."""
    sel = results["selection"]
    if sel.get("test") or sel.get("group") or sel.get("last_failed") or (
            sel.get("roles") and set(sel["roles"]) != set(config.system.roles)):
        return "the run did not select every test of the configured roles"
    s = results["summary"]
    if s.get("fail") or s.get("error"):
        return f"{s.get('fail', 0)} test(s) failed and {s.get('error', 0)} erred"
    if not s.get("pass"):
        return "no test passed"
    if config.statement.signing_key is None:
        return "no [statement] signing_key is configured"
    return None


def build_statement(results: dict[str, Any], registry: Registry, results_sha256: str,
                    now: dt.datetime | None = None) -> dict[str, Any]:
    by_req: dict[str, list[dict[str, Any]]] = {}
    for test in results["tests"]:
        for req in test["requirements"]:
            by_req.setdefault(req["id"], []).append(test)
    requirements = []
    for req_id, tests in sorted(by_req.items()):
        outcomes = {t["outcome"] for t in tests}
        result = ("pass" if outcomes == {"pass"} else "omit" if outcomes == {"omit"}
                  else "pass (some tests skipped or omitted)" if "pass" in outcomes
                  else "not checked")
        req = registry.requirements.get(req_id)
        requirements.append({"id": req_id, "text": req.text if req else "",
                             "source": req.source if req else "", "result": result,
                             "tests": {t["id"]: t["outcome"] for t in tests}})
    now = now or dt.datetime.now(dt.timezone.utc)
    return {
        "format": FORMAT,
        "system": results["system"],
        "suite_version": results["suite_version"],
        "schema_version": results.get("schema_version", "1"),
        "features": results["features"],
        "summary": results["summary"],
        "requirements": requirements,
        "results_sha256": results_sha256,
        "config_digest": results["config_digest"],
        "run": {"started_at": results["started_at"], "finished_at": results["finished_at"]},
        "date": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def sign_statement(statement: dict[str, Any], key_path: Path) -> dict[str, Any]:
    key = _load_key(key_path)
    token = jws.serialize_compact({"alg": ALG, "kid": key.thumbprint(), "typ": "vgw-statement+jws"},
                                  canonical(statement), key, algorithms=[ALG])
    return {"statement": statement, "signature": token}


def remove_statement(folder: Path) -> None:
    for name in FILES:
        (folder / name).unlink(missing_ok=True)


def maybe_write_statement(config: SuiteConfig, registry: Registry, results: dict[str, Any],
                          results_path: Path) -> tuple[Path, Path] | None:
    """Write statement.json and statement.html when the run earns one; else remove old ones."""
    folder = results_path.parent
    reason = why_not(results, config)
    if reason is not None:
        remove_statement(folder)
        if config.statement.signing_key is not None:
            print(f"no conformance statement: {reason}")
        return None
    digest = hashlib.sha256(results_path.read_bytes()).hexdigest()
    signed = sign_statement(build_statement(results, registry, digest), config.statement.signing_key)
    json_path, html_path = folder / FILES[0], folder / FILES[1]
    json_path.write_text(json.dumps(signed, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    html_path.write_text(render_statement_html(signed), encoding="utf-8")
    return json_path, html_path


def verify_statement(path: Path, jwks_path: Path, results_path: Path | None = None) -> dict[str, Any]:
    """The statement when it verifies; StatementInvalid saying why when not."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        statement, token = doc["statement"], doc["signature"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StatementInvalid(f"{path} is not a conformance statement ({exc})") from None
    try:
        keys = jwk.KeySet.import_key_set(json.loads(jwks_path.read_text(encoding="utf-8")))
    except (OSError, ValueError, JoseError, KeyError, TypeError) as exc:
        raise StatementInvalid(f"{jwks_path} is not a JWK set ({exc})") from None
    try:
        verified = jws.deserialize_compact(token, keys, algorithms=[ALG])
    except (JoseError, ValueError) as exc:
        raise StatementInvalid(f"the signature does not verify with {jwks_path.name} ({exc})") from None
    if verified.payload != canonical(statement):
        raise StatementInvalid("the statement was changed after it was signed")
    if statement.get("format") != FORMAT:
        raise StatementInvalid(f"unknown statement format {statement.get('format')!r}")
    if results_path is not None:
        digest = hashlib.sha256(results_path.read_bytes()).hexdigest()
        if digest != statement.get("results_sha256"):
            raise StatementInvalid(f"{results_path.name} is not the results file the statement "
                                   f"names (SHA-256 {digest[:16]}… ≠ "
                                   f"{str(statement.get('results_sha256'))[:16]}…)")
    return {**statement, "_kid": verified.protected.get("kid", "")}


def render_statement_html(signed: dict[str, Any]) -> str:
    s = signed["statement"]
    e = html.escape
    features = "".join(f"<li>{e(k)}: {e('unknown' if v is None else str(v).lower())}</li>"
                       for k, v in s["features"].items())
    rows = "".join(f"<tr><td>{e(r['id'])}</td><td>{e(r['text'])}<br><small>{e(r['source'])}"
                   f"</small></td><td>{e(r['result'])}</td></tr>" for r in s["requirements"])
    summary = ", ".join(f"{k} {v}" for k, v in s["summary"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conformance statement: {e(s['system']['name'])}</title>
<style>
body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:900px;margin:24px auto;color:#111}}
h1{{font-size:24px;border-bottom:3px solid #1d3557;padding-bottom:8px}}
table{{border-collapse:collapse;width:100%;font-size:13px}}td,th{{border:1px solid #ccc;padding:4px 6px;
vertical-align:top;text-align:left}}small{{color:#555}}code{{word-break:break-all;font-size:11px}}
@media print{{body{{margin:0}}a{{color:inherit}}}}
</style></head><body>
<h1>Statement of conformance</h1>
<p><b>{e(s['system']['name'])}</b> ({e(s['system'].get('base_url') or 'no base URL')}, roles
{e(', '.join(s['system']['roles']))}) passed every selected test of vgw-conformance
{e(s['suite_version'])} in schema version {e(s.get('schema_version', '1'))} on {e(s['date'])}.</p>
<p>Tests: {e(summary)}.</p>
<h2>Declared features</h2><ul>{features}</ul>
<h2>Requirements</h2><table><tr><th>id</th><th>requirement</th><th>result</th></tr>{rows}</table>
<h2>Evidence</h2>
<p>SHA-256 of results.json: <code>{e(s['results_sha256'])}</code><br>
Configuration digest: <code>{e(s['config_digest'])}</code></p>
<p>Signature (JWS, Ed25519): <code>{e(signed['signature'])}</code></p>
<p>Check it with <code>vgw-conformance verify statement.json --jwks operator.jwks.json
--results results.json</code>.</p>
</body></html>
"""
