"""``vgw verify-certificate``: check a certificate PDF or JSON offline against a JWK set.

Needs no app, database or network: only the certificate file and the gateway's public JWK
set (``vgw signing-keys jwks`` or the published copy). Exit status 0 valid, 1 invalid,
2 unreadable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, NoReturn

import click

from gateway.certificates.document import content_fingerprint, extract_signed, verify_certificate

VALID, INVALID, UNREADABLE = 0, 1, 2


def _unreadable(message: str) -> NoReturn:
    click.echo(f"unreadable: {message}", err=True)
    click.get_current_context().exit(UNREADABLE)


def _read_signed(path: Path) -> tuple[dict[str, Any], bool]:
    """The signed certificate in ``path`` and whether it came from a PDF."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        _unreadable(f"{path}: {exc.strerror}")
    if data.lstrip()[:5] == b"%PDF-":
        signed = extract_signed(data)
        if signed is None:
            _unreadable(f"{path}: a PDF without an embedded signed certificate")
        return signed, True
    try:
        signed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        _unreadable(f"{path}: neither a PDF nor JSON")
    if not (isinstance(signed, dict) and isinstance(signed.get("content"), dict)
            and isinstance(signed.get("signature"), dict)):
        _unreadable(f'{path}: JSON without "content" and "signature" objects')
    return signed, False


def _read_jwks(path: Path) -> dict[str, Any]:
    try:
        jwks = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        _unreadable(f"{path}: {exc.strerror}")
    except (UnicodeDecodeError, ValueError):
        _unreadable(f"{path}: not JSON")
    if isinstance(jwks, dict) and "kty" in jwks:  # a single JWK
        jwks = {"keys": [jwks]}
    if not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)):
        _unreadable(f'{path}: not a JWK set ({{"keys": [...]}})')
    return jwks


def _summary(content: Mapping[str, Any]) -> list[str]:
    def get(obj: Any, key: str) -> str:
        value = obj.get(key, "") if isinstance(obj, Mapping) else ""
        return "" if value is None else str(value)

    vol, svc, iss = (content.get(k, {}) for k in ("volunteer", "service", "issuer"))
    items = svc.get("items") if isinstance(svc, Mapping) else None
    lines = [
        f"  证明编号 certificate no.: {get(content, 'certificate_no')}",
        f"  出具日期 issued on:       {get(content, 'issued_on')}",
        f"  志愿者 volunteer:         {get(vol, 'name')} ({get(vol, 'id_type')} "
        f"{get(vol, 'id_number_masked')}, 志愿者编号 {get(vol, 'volunteer_no') or '—'})",
        f"  服务时长 hours:           {get(svc, 'total_hours')} "
        f"({get(svc, 'period_from')} – {get(svc, 'period_to')}, "
        f"{len(items) if isinstance(items, list) else 0} 项 items)",
        f"  出具单位 issuer:          {get(iss, 'name')}",
    ]
    try:
        lines.append(f"  内容指纹 fingerprint:     {content_fingerprint(content)}")
    except (TypeError, ValueError):
        pass
    return lines


@click.command("verify-certificate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--jwks", "jwks_file", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The gateway's public JWK set, a JSON file (no URLs: this runs offline).")
def verify_certificate_cmd(file: Path, jwks_file: Path) -> None:
    """Check the signature of a certificate (CERT.pdf or CERT.json) with a JWK set.

    Exit status: 0 valid, 1 invalid, 2 unreadable.
    """
    signed, from_pdf = _read_signed(file)
    jwks = _read_jwks(jwks_file)
    signature = signed["signature"]
    kid = signature.get("kid")
    if verify_certificate(signed, jwks):
        click.echo(f"valid: signed by key {kid} of the JWK set")
        status = VALID
    else:
        known = any(isinstance(k, dict) and k.get("kid") == kid for k in jwks["keys"])
        reason = ("the signature does not match the content" if known
                  else f"key {kid!r} is not in the JWK set")
        click.echo(f"invalid: {reason}; the content below is NOT vouched for")
        status = INVALID
    for line in _summary(signed["content"]):
        click.echo(line)
    if from_pdf and status == VALID:
        click.echo("The signature covers the embedded data above, not the printed page: "
                   "check that the page says the same.")
    click.get_current_context().exit(status)
