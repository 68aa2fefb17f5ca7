"""The certificate (志愿服务记录证明): signed content, the A4 PDF, reading it back, the CLI check."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from gateway.certificates import document
from gateway.certificates.document import (
    FontMissing,
    certificate_content,
    extract_signed,
    find_font,
    render_pdf,
    sign_certificate,
    verification_url,
    verify_certificate,
)
from gateway.cli.certificate_cmd import verify_certificate_cmd
from gateway.signing import KeyRing

BASE_URL = "https://vgw.example.org/"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _require(ok: bool, message: str) -> None:
    if not ok:
        if IN_CI:
            pytest.fail(message + " (CI=true requires it; run scripts/system-deps.sh)")
        pytest.skip(message + " (run scripts/system-deps.sh)")


def make_content(**overrides):
    args = dict(
        certificate_no="ZYZM-2026-000123",
        verification_code="K7Q2-9XPA",
        issued_on=date(2026, 11, 29),
        volunteer={"name": "欧阳娜娜", "id_type": "居民身份证",
                   "id_number_masked": "110101********123X", "volunteer_no": "V1101012026000001"},
        service={"total_hours": Decimal("36.5"), "period_from": date(2026, 1, 3),
                 "period_to": "2026-10-31", "items": [
                     {"project_name": "社区敬老助餐服务", "team_name": "朝阳区阳光志愿者服务队",
                      "from": "2026-01-03", "to": "2026-03-28", "hours": "12.5"},
                     {"project_name": "图书馆阅读推广暨周末亲子故事会",
                      "team_name": "北京市西城区青年志愿者协会",
                      "from": date(2026, 5, 1), "to": date(2026, 5, 1), "hours": 4},
                     {"project_name": "垃圾分类宣传", "team_name": "朝阳区阳光志愿者服务队",
                      "from": "2026-06-01", "to": "2026-10-31", "hours": "20"},
                 ]},
        issuer={"name": "朝阳区阳光志愿者服务队", "team_no": "T110105000123",
                "responsible_person": "李建国", "handler": "王小明", "contact": "010-65001234"},
        notes="本证明仅用于证明上述志愿服务记录。",
    )
    args.update(overrides)
    return certificate_content(**args)


@pytest.fixture(scope="module")
def keyring(tmp_path_factory) -> KeyRing:
    return KeyRing.load_or_create(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def signed(keyring):
    return sign_certificate(make_content(), keyring)


@pytest.fixture(scope="module")
def pdf(signed) -> bytes:
    try:
        return render_pdf(signed, BASE_URL)
    except FontMissing as exc:
        _require(False, str(exc))


@pytest.fixture(scope="module")
def page1(pdf, tmp_path_factory) -> Image.Image:
    _require(shutil.which("pdftoppm") is not None, "pdftoppm (poppler-utils) is not installed")
    out = tmp_path_factory.mktemp("png")
    (out / "cert.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "100", "-png", "-f", "1", "-l", "1",
                    str(out / "cert.pdf"), str(out / "page")], check=True, timeout=60)
    (png,) = out.glob("page*.png")
    with Image.open(png) as image:
        return image.convert("RGB")


def dark_share(image: Image.Image, threshold: int = 128) -> float:
    histogram = image.convert("L").histogram()
    return sum(histogram[:threshold]) / sum(histogram)


# --------------------------------------------------------------------------- content

def test_content_is_normalised_and_has_the_four_groups(signed):
    content = signed["content"]
    assert content["volunteer"]["name"] == "欧阳娜娜"
    assert content["service"]["total_hours"] == "36.50"
    assert [i["hours"] for i in content["service"]["items"]] == ["12.50", "4.00", "20.00"]
    assert content["service"]["items"][1]["from"] == "2026-05-01"
    assert content["service"]["period_from"] == "2026-01-03"
    assert content["issuer"]["responsible_person"] == "李建国"
    assert (content["certificate_no"], content["issued_on"]) == ("ZYZM-2026-000123", "2026-11-29")
    assert json.loads(json.dumps(content)) == content  # plain JSON, no floats anywhere
    assert "110101********123X" in json.dumps(content, ensure_ascii=False)


def test_a_full_id_number_is_refused():
    volunteer = {"name": "张三", "id_type": "居民身份证", "id_number_masked": "11010119900307123X"}
    with pytest.raises(ValueError, match="masked"):
        make_content(volunteer=volunteer)


@pytest.mark.parametrize("hours", ["-1", "abc", None, "NaN"])
def test_bad_hours_are_refused(hours):
    with pytest.raises(ValueError, match="total_hours"):
        make_content(service={"total_hours": hours, "items": []})


def test_verification_url_encodes_its_parts():
    assert verification_url(BASE_URL, "ZYZM-2026-000123", "K7Q2-9XPA") == (
        "https://vgw.example.org/verify/ZYZM-2026-000123?code=K7Q2-9XPA")
    assert verification_url("https://x.org/gw", "A/B 1", "c&d=e") == (
        "https://x.org/gw/verify/A%2FB%201?code=c%26d%3De")


# --------------------------------------------------------------------------- signature

def test_signed_certificate_verifies_with_only_the_jwk_set(signed, keyring):
    assert signed["signature"]["alg"] == "EdDSA"
    assert signed["signature"]["kid"] == keyring.active.kid
    jwks = json.loads(json.dumps(keyring.jwks()))
    assert verify_certificate(json.loads(json.dumps(signed, ensure_ascii=False)), jwks)


@pytest.mark.parametrize("change", [
    lambda s: s["content"]["service"].__setitem__("total_hours", "136.50"),
    lambda s: s["content"]["volunteer"].__setitem__("name", "欧阳娜"),
    lambda s: s["content"]["service"]["items"].pop(),
    lambda s: s["content"].__setitem__("extra", "x"),
    lambda s: s["signature"].__setitem__("kid", "gw-20000101-0000"),
    lambda s: s["signature"].__setitem__("alg", "none"),
    lambda s: s["signature"].__setitem__("value", s["signature"]["value"][:-4] + "AAAA"),
])
def test_changed_certificate_fails(signed, keyring, change):
    tampered = copy.deepcopy(signed)
    change(tampered)
    assert not verify_certificate(tampered, keyring.jwks())


def test_old_certificate_verifies_after_rotation(tmp_path):
    ring = KeyRing.load_or_create(tmp_path)
    old = sign_certificate(make_content(), ring)
    ring.generate()
    new = sign_certificate(make_content(certificate_no="ZYZM-2026-000124"), ring)
    assert old["signature"]["kid"] != new["signature"]["kid"]
    jwks = KeyRing(tmp_path).jwks()
    assert verify_certificate(old, jwks) and verify_certificate(new, jwks)


# --------------------------------------------------------------------------- PDF

def test_pdf_is_a4_with_the_signed_json_embedded(pdf, signed, keyring):
    assert pdf.startswith(b"%PDF-")
    assert b"/MediaBox [ 0 0 595.2756 841.8898 ]" in pdf
    assert b"/EmbeddedFiles" in pdf and b"certificate-ZYZM-2026-000123.json" in pdf
    extracted = extract_signed(pdf)
    assert extracted == signed
    assert verify_certificate(extracted, keyring.jwks())


def test_pdf_embeds_the_cjk_font(pdf):
    from reportlab.pdfbase.ttfonts import TTFont

    face_name = TTFont("probe", find_font(None), subfontIndex=0).face.name  # e.g. WenQuanYiMicroHei
    assert b"/FontFile2" in pdf
    assert b"+" + face_name in pdf  # subset tag: /BaseFont /AAAAAA+WenQuanYiMicroHei
    assert b"STSong" not in pdf and b"/Type0" not in pdf  # no unembedded CID fonts
    assert b"/Helvetica" not in pdf  # no unembedded standard fonts either


def test_pdf_text_is_real_chinese_text(pdf, tmp_path):
    _require(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) is not installed")
    (tmp_path / "c.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "c.pdf"), "-"], check=True,
                          capture_output=True, timeout=60).stdout.decode("utf-8")
    for expected in ("志愿服务记录证明", "欧阳娜娜", "110101********123X", "36.50", "李建国",
                     "ZYZM-2026-000123", "2026年11月29日", "朝阳区阳光志愿者服务队"):
        assert expected in text


def test_rendered_page_is_not_blank(page1):
    width, height = page1.size
    assert (width, height) == (827, 1170)  # A4 at 100 dpi
    assert dark_share(page1, 250) > 0.05
    assert dark_share(page1) > 0.01
    title_area = page1.crop((int(width * 0.3), int(height * 0.05), int(width * 0.7), int(height * 0.12)))
    assert dark_share(title_area, 100) > 0.03


def test_qr_code_holds_the_verification_url(page1, signed):
    results = zxingcpp.read_barcodes(page1)
    assert [r.format for r in results] == [zxingcpp.BarcodeFormat.QRCode]
    content = signed["content"]
    assert results[0].text == verification_url(BASE_URL, content["certificate_no"],
                                               content["verification_code"])


def test_long_certificates_flow_onto_more_pages(keyring):
    items = [{"project_name": f"社区服务项目第{i}期", "team_name": "朝阳区阳光志愿者服务队",
              "from": "2026-01-01", "to": "2026-01-02", "hours": "1.5"} for i in range(60)]
    content = make_content(service={"total_hours": "90", "items": items})
    signed = sign_certificate(content, keyring)
    try:
        pdf = render_pdf(signed, BASE_URL)
    except FontMissing as exc:
        _require(False, str(exc))
    assert max(int(n) for n in re.findall(rb"/Count (\d+)", pdf)) >= 2  # pages
    assert extract_signed(pdf) == signed


def test_extract_signed_returns_none_without_an_attachment(pdf):
    assert extract_signed(b"not a pdf") is None
    assert extract_signed(pdf.replace(b"/EmbeddedFile", b"/SomethingElse")) is None


# --------------------------------------------------------------------------- fonts

def test_font_setting_that_is_not_a_file(tmp_path):
    with pytest.raises(FontMissing, match="CERTIFICATE_FONT"):
        find_font(str(tmp_path / "nope.ttf"))


def test_no_known_font_names_the_package_to_install(monkeypatch):
    monkeypatch.setattr(document, "KNOWN_FONT_PATHS", ())
    with pytest.raises(FontMissing, match="fonts-wqy-microhei"):
        find_font(None)


def test_font_without_chinese_glyphs_is_refused(signed):
    latin = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    if not os.path.isfile(latin):
        pytest.skip("DejaVuSans.ttf is not installed")
    with pytest.raises(FontMissing, match="no Chinese glyphs"):
        render_pdf(signed, BASE_URL, font_path=latin)


# --------------------------------------------------------------------------- vgw verify-certificate

@pytest.fixture
def files(tmp_path, pdf, signed, keyring):
    (tmp_path / "cert.pdf").write_bytes(pdf)
    (tmp_path / "cert.json").write_text(json.dumps(signed, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "jwks.json").write_text(json.dumps(keyring.jwks()), encoding="utf-8")
    return tmp_path


def run_verify(*args):
    return CliRunner().invoke(verify_certificate_cmd, [str(a) for a in args])


@pytest.mark.parametrize("name", ["cert.pdf", "cert.json"])
def test_cli_valid(files, name):
    result = run_verify(files / name, "--jwks", files / "jwks.json")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid:")
    assert "ZYZM-2026-000123" in result.output and "欧阳娜娜" in result.output
    assert "36.50" in result.output


def test_cli_invalid_when_content_changed(files, signed):
    tampered = copy.deepcopy(signed)
    tampered["content"]["service"]["total_hours"] = "360.00"
    (files / "bad.json").write_text(json.dumps(tampered), encoding="utf-8")
    result = run_verify(files / "bad.json", "--jwks", files / "jwks.json")
    assert result.exit_code == 1
    assert result.output.startswith("invalid: the signature does not match")


def test_cli_invalid_with_another_jwk_set(files, tmp_path_factory):
    other = KeyRing.load_or_create(tmp_path_factory.mktemp("other")).jwks()
    (files / "other.json").write_text(json.dumps(other), encoding="utf-8")
    result = run_verify(files / "cert.pdf", "--jwks", files / "other.json")
    assert result.exit_code == 1 and "not in the JWK set" in result.output


@pytest.mark.parametrize("name, content", [
    ("garbage.bin", b"\x00\x01garbage"),
    ("plain.pdf", b"%PDF-1.4\n%%EOF\n"),
    ("other.json", b'{"hello": 1}'),
])
def test_cli_unreadable(files, name, content):
    (files / name).write_bytes(content)
    assert run_verify(files / name, "--jwks", files / "jwks.json").exit_code == 2


def test_cli_missing_files(files):
    assert run_verify(files / "missing.pdf", "--jwks", files / "jwks.json").exit_code == 2
    assert run_verify(files / "cert.pdf", "--jwks", files / "missing.json").exit_code == 2
