"""The certificate PDF downloaded through the API: rendered, QR decoded, verified offline.

The offline check uses nothing of the gateway but the PDF bytes, the JWK set fetched from
``/.well-known/jwks.json`` and ``verify_certificate`` / ``verify_with_jwks``; the embedded
JSON is taken out with poppler's ``pdfdetach``, an independent PDF reader.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from gateway.certificates.document import extract_signed, verify_certificate
from gateway.cli.certificate_cmd import verify_certificate_cmd
from gateway.signing import b64url_decode, b64url_encode, canonical_json, verify_with_jwks
from tests.conftest import make_caller
from tests.integration.certificates.helpers import ISSUE_PERMS, READ_PERMS, issue_body, seed

IN_CI = os.environ.get("CI", "").lower() == "true"
ARTIFACTS = Path(__file__).resolve().parents[3] / "build" / "test-artifacts"


def _require_tool(name: str) -> None:
    if shutil.which(name) is None:
        message = f"{name} (poppler-utils) is not installed; run scripts/system-deps.sh"
        if IN_CI:
            pytest.fail(message + " (CI=true requires it)")
        pytest.skip(message)


@pytest.fixture
def downloaded(store_app, tmp_path, request):
    """Issue a certificate, download its PDF through the API (as a reader, not the issuer)."""
    world = seed(store_app)
    client = store_app.test_client()
    issuer = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    issued = client.post("/api/v1/certificates", json=issue_body(world), headers=issuer)
    assert issued.status_code == 201, issued.get_json()
    cert = issued.get_json()
    reader = make_caller(store_app, "beijing-archive", region="11", perms=READ_PERMS)
    response = client.get(cert["pdf_url"], headers=reader)
    if response.status_code == 503:  # no CJK font installed
        message = response.get_json()["detail"]
        pytest.fail(message) if IN_CI else pytest.skip(message)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("inline; filename=")
    pdf = response.data
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    jwks = client.get("/.well-known/jwks.json").get_data()
    (tmp_path / "jwks.json").write_bytes(jwks)
    backend = request.node.callspec.params.get("store_app", "x")
    return {"pdf": pdf, "path": path, "jwks_path": tmp_path / "jwks.json",
            "jwks": json.loads(jwks), "cert": cert, "world": world, "tmp": tmp_path,
            "backend": backend}


def _page_image(d) -> Image.Image:
    _require_tool("pdftoppm")
    out = d["tmp"] / "page"
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(d["path"]),
                    str(out)], check=True, timeout=120)
    (png,) = d["tmp"].glob("page*.png")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # kept for a person to look at
    shutil.copy(png, ARTIFACTS / f"certificate-{d['backend']}.png")
    with Image.open(png) as image:
        return image.convert("RGB")


def _embedded_json(d) -> dict:
    """The signed JSON as poppler's pdfdetach takes it out of the PDF."""
    _require_tool("pdfdetach")
    out = d["tmp"] / "attachments"
    out.mkdir()
    subprocess.run(["pdfdetach", "-saveall", "-o", str(out), str(d["path"])], check=True,
                   timeout=60)
    (attachment,) = out.iterdir()
    assert attachment.name == f"certificate-{d['cert']['certificate_no']}.json"
    return json.loads(attachment.read_text(encoding="utf-8"))


def test_pdf_renders_a_non_blank_a4_page_whose_qr_opens_the_verification_url(downloaded):
    image = _page_image(downloaded)
    width, height = image.size
    assert abs(height / width - 297 / 210) < 0.01  # A4 portrait
    grey = image.convert("L").histogram()
    dark = sum(grey[:128]) / sum(grey)
    assert 0.005 < dark < 0.4, f"page looks blank or black ({dark:.3%} dark)"

    codes = [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert [c.text for c in codes] == [downloaded["cert"]["verification_url"]]
    no, code = downloaded["cert"]["certificate_no"], downloaded["cert"]["verification_code"]
    assert codes[0].text == f"http://localhost/verify/{no}?code={code}"  # the request's host


def test_printed_text_and_embedded_data_hold_no_full_id_number(downloaded):
    world = downloaded["world"]
    _require_tool("pdftotext")
    text = subprocess.run(["pdftotext", "-layout", str(downloaded["path"]), "-"], check=True,
                          capture_output=True, timeout=60).stdout.decode("utf-8")
    assert "志愿服务记录证明" in text and "110105********002X" in text and "8.50" in text
    assert downloaded["cert"]["verification_code"] in text
    for blob in (text, json.dumps(_embedded_json(downloaded)), downloaded["pdf"].decode("latin-1")):
        assert world.id_number not in blob and world.id_number[6:14] not in blob


def test_signed_json_from_the_pdf_verifies_offline_with_the_published_jwks(downloaded):
    signed = _embedded_json(downloaded)
    jwks = json.loads(downloaded["jwks_path"].read_text(encoding="utf-8"))

    assert signed == downloaded["cert"]["signed"]
    assert extract_signed(downloaded["pdf"]) == signed
    assert verify_certificate(signed, jwks)
    # The same check by hand: Ed25519 over the RFC 8785 canonical JSON of the content.
    signature = signed["signature"]
    assert verify_with_jwks(jwks, signature["kid"], canonical_json(signed["content"]),
                            b64url_decode(signature["value"]))

    runner = CliRunner()
    result = runner.invoke(verify_certificate_cmd,
                           [str(downloaded["path"]), "--jwks", str(downloaded["jwks_path"])])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid:")


def test_tampering_breaks_the_signature(downloaded):
    signed = _embedded_json(downloaded)
    jwks = downloaded["jwks"]

    def tampered(change):
        copy_ = copy.deepcopy(signed)
        change(copy_)
        return copy_

    forgeries = [
        tampered(lambda s: s["content"]["service"].update(total_hours="85.00")),
        tampered(lambda s: s["content"]["volunteer"].update(name="王淑芬")),
        tampered(lambda s: s["content"]["issuer"].update(name="另一个队伍")),
        tampered(lambda s: s["content"].update(issued_on="2024-01-01")),
        tampered(lambda s: s["content"]["service"]["items"].pop()),
        tampered(lambda s: s["signature"].update(
            value=b64url_encode(bytes([b64url_decode(s["signature"]["value"])[0] ^ 1])
                                + b64url_decode(s["signature"]["value"])[1:]))),
        tampered(lambda s: s["signature"].update(kid="gw-20000101-dead")),
    ]
    for forgery in forgeries:
        assert not verify_certificate(forgery, jwks)
    assert not verify_certificate(signed, {"keys": []})

    forged_file = downloaded["tmp"] / "forged.json"
    forged_file.write_text(json.dumps(forgeries[0], ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(verify_certificate_cmd,
                                [str(forged_file), "--jwks", str(downloaded["jwks_path"])])
    assert result.exit_code == 1 and result.output.startswith("invalid:")
