"""The service certificate (志愿服务记录证明) as signed data and as a printable A4 PDF.

Pure functions, no database. The flow is::

    content = certificate_content(certificate_no=..., verification_code=..., issued_on=...,
                                  volunteer={...}, service={...}, issuer={...}, notes="")
    signed = sign_certificate(content, keyring)      # {"content": ..., "signature": ...}
    pdf = render_pdf(signed, base_url, font_path)     # bytes
    extract_signed(pdf) == signed                     # the signed JSON travels in the PDF
    verify_certificate(signed, jwks)                  # offline, with the public JWK set only

The content states what 《志愿服务记录与证明出具办法（试行）》 (2020) Art. 15 asks —
服务时间、服务内容和记录单位: hours per project with the service content (the project's service
category and description) and the recording team — laid out in the four groups of the 2015
《关于规范志愿服务记录证明工作的指导意见》 (the volunteer: name, ID type, *masked* ID number,
volunteer number; the service; the issuer; the certificate's number, issue date and notes). The full ID
number never enters a certificate. Hours are decimal strings with two places (``"12.50"``)
and dates ISO strings, so the signed JSON has no floats (see :func:`gateway.signing.canonical_json`).

The PDF embeds the signed JSON as a file attachment (``certificate-<no>.json``, a PDF
``/EmbeddedFile`` in the catalog's ``/EmbeddedFiles`` name tree) so a downloaded copy can
be checked offline with ``vgw verify-certificate``. What is *printed* on the page is not
covered by the signature: a verifier must compare the signed content it is shown with the
page (or follow the QR code to the gateway's verification page).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote
from xml.sax.saxutils import escape

from gateway.signing import ALG, KeyRing, b64url_decode, b64url_encode, canonical_json, verify_with_jwks

__all__ = [
    "CERTIFICATE_FORMAT",
    "KNOWN_FONT_PATHS",
    "FontMissing",
    "certificate_content",
    "content_fingerprint",
    "extract_signed",
    "find_font",
    "render_pdf",
    "sign_certificate",
    "verification_url",
    "verify_certificate",
]

log = logging.getLogger("gateway.certificates")

CERTIFICATE_FORMAT = "vgw-certificate/1"
TITLE = "志愿服务记录证明"

# TrueType fonts with Chinese glyphs that reportlab can read, in order of preference (Debian
# package in the comment). OpenType/CFF fonts such as Noto CJK cannot be embedded by reportlab.
KNOWN_FONT_PATHS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",          # fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",            # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",              # fonts-arphic-uming
    "/usr/share/fonts/truetype/arphic/ukai.ttc",               # fonts-arphic-ukai
    "/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf",  # fonts-arphic-gbsn00lp
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)


class FontMissing(RuntimeError):
    """No usable TrueType font with Chinese glyphs: certificates cannot be printed."""


# --------------------------------------------------------------------------- content

def _text(value: Any, field: str, *, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ValueError(f"certificate: {field} is required")
    return text


def _hours(value: Any, field: str) -> str:
    """A non-negative number of hours as a string with exactly two decimals."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"certificate: {field} must be a number of hours")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"certificate: {field} {value!r} is not a number") from exc
    if not number.is_finite() or number < 0:
        raise ValueError(f"certificate: {field} must be a finite number ≥ 0")
    return str(number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _day(value: Any, field: str, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise ValueError(f"certificate: {field} is required")
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError as exc:
        raise ValueError(f"certificate: {field} {value!r} is not an ISO date") from exc


def certificate_content(
    *,
    certificate_no: str,
    verification_code: str,
    issued_on: date | str,
    volunteer: Mapping[str, Any],
    service: Mapping[str, Any],
    issuer: Mapping[str, Any],
    notes: str | None = "",
) -> dict[str, Any]:
    """The content dict of a certificate, normalised from plain inputs.

    ``volunteer``: name, id_type, id_number_masked (must contain ``*``: the full number is
    refused), volunteer_no. ``service``: total_hours, period_from, period_to, items (each
    project_name, team_name, from, to, hours, and optionally content: 服务内容). ``issuer``: name, team_no,
    responsible_person, handler, contact. Hours become ``"12.50"``-style strings, dates ISO
    strings. Raises ``ValueError`` naming the field on bad input.
    """
    masked = _text(volunteer.get("id_number_masked"), "volunteer.id_number_masked", required=True)
    if "*" not in masked:
        raise ValueError("certificate: volunteer.id_number_masked must be masked "
                         "(e.g. privacy.mask_id_number); a full ID number is never signed")
    items = []
    for i, item in enumerate(service.get("items") or ()):
        where = f"service.items[{i}]"
        items.append({
            "project_name": _text(item.get("project_name"), f"{where}.project_name", required=True),
            "team_name": _text(item.get("team_name"), f"{where}.team_name"),
            "from": _day(item.get("from"), f"{where}.from"),
            "to": _day(item.get("to"), f"{where}.to"),
            "hours": _hours(item.get("hours"), f"{where}.hours"),
        })
        # 服务内容 (办法 Art. 15: a certificate states 服务时间、服务内容和记录单位); only when
        # known, so a certificate issued before it was printed keeps its signed shape.
        content_text = _text(item.get("content"), f"{where}.content")
        if content_text:
            items[-1]["content"] = content_text
    return {
        "format": CERTIFICATE_FORMAT,
        "certificate_no": _text(certificate_no, "certificate_no", required=True),
        "verification_code": _text(verification_code, "verification_code", required=True),
        "issued_on": _day(issued_on, "issued_on"),
        "volunteer": {
            "name": _text(volunteer.get("name"), "volunteer.name", required=True),
            "id_type": _text(volunteer.get("id_type"), "volunteer.id_type", required=True),
            "id_number_masked": masked,
            "volunteer_no": _text(volunteer.get("volunteer_no"), "volunteer.volunteer_no"),
        },
        "service": {
            "total_hours": _hours(service.get("total_hours"), "service.total_hours"),
            "period_from": _day(service.get("period_from"), "service.period_from", required=False),
            "period_to": _day(service.get("period_to"), "service.period_to", required=False),
            "items": items,
        },
        "issuer": {
            "name": _text(issuer.get("name"), "issuer.name", required=True),
            "team_no": _text(issuer.get("team_no"), "issuer.team_no"),
            "responsible_person": _text(issuer.get("responsible_person"), "issuer.responsible_person"),
            "handler": _text(issuer.get("handler"), "issuer.handler"),
            "contact": _text(issuer.get("contact"), "issuer.contact"),
        },
        "notes": _text(notes, "notes"),
    }


def content_fingerprint(content: Mapping[str, Any]) -> str:
    """A short human-comparable fingerprint: the first 64 bits of SHA-256(canonical content)."""
    digest = hashlib.sha256(canonical_json(content)).hexdigest()[:16].upper()
    return "-".join(digest[i:i + 4] for i in range(0, 16, 4))


def sign_certificate(content: Mapping[str, Any], keyring: KeyRing) -> dict[str, Any]:
    """``{"content": content, "signature": {"alg": "EdDSA", "kid", "value"}}`` over its JCS form."""
    kid, signature = keyring.sign(canonical_json(content))
    return {"content": content,
            "signature": {"alg": ALG, "kid": kid, "value": b64url_encode(signature)}}


def verify_certificate(signed: Any, jwks: Mapping[str, Any]) -> bool:
    """True if ``signed`` carries a valid Ed25519 signature by a key of ``jwks``.

    Works offline with only the public JWK set; anything malformed is simply invalid.
    """
    if not isinstance(signed, Mapping):
        return False
    content, signature = signed.get("content"), signed.get("signature")
    if not isinstance(content, Mapping) or not isinstance(signature, Mapping):
        return False
    if signature.get("alg") != ALG:
        return False
    try:
        value = b64url_decode(signature.get("value"))
        data = canonical_json(content)
    except (TypeError, ValueError):
        return False
    return verify_with_jwks(jwks, signature.get("kid"), data, value)


def verification_url(base_url: str, certificate_no: str, code: str) -> str:
    """``{base}/verify/{certificate_no}?code={code}``, both parts percent-encoded."""
    return (f"{base_url.rstrip('/')}/verify/{quote(str(certificate_no), safe='')}"
            f"?code={quote(str(code), safe='')}")


# --------------------------------------------------------------------------- fonts

@dataclass(frozen=True)
class _Font:
    name: str
    path: str
    glyphs: frozenset[int]

    def missing(self, texts: Iterable[str]) -> set[str]:
        return {ch for t in texts for ch in t if ord(ch) > 0x20 and ord(ch) not in self.glyphs}


_FONTS: dict[str, _Font] = {}


def find_font(font_path: str | None = None) -> str:
    """The font file to use: ``font_path`` (setting CERTIFICATE_FONT) or a known system font."""
    if font_path:
        if not Path(font_path).is_file():
            raise FontMissing(f"CERTIFICATE_FONT {font_path!r} is not a file; point it at a "
                              "TrueType (.ttf/.ttc) font with Chinese glyphs")
        return font_path
    for candidate in KNOWN_FONT_PATHS:
        if os.path.isfile(candidate):
            return candidate
    raise FontMissing(
        "no TrueType font with Chinese glyphs found for certificate PDFs: install the Debian "
        "package fonts-wqy-microhei (see scripts/system-deps.sh) or set CERTIFICATE_FONT "
        "(GATEWAY_CERTIFICATE_FONT) to a .ttf/.ttc file; looked in " + ", ".join(KNOWN_FONT_PATHS)
    )


def check_font(font_path: str | None = None) -> str:
    """The font certificates will embed, checked as rendering checks it (a TrueType file with
    Chinese glyphs); raises :class:`FontMissing` naming what to do. `vgw serve` calls it."""
    return _register_font(font_path).path


def _register_font(font_path: str | None) -> _Font:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    path = os.path.realpath(find_font(font_path))
    if path in _FONTS:
        return _FONTS[path]
    name = "CertCJK-" + hashlib.sha256(path.encode()).hexdigest()[:8]
    try:
        # subfontIndex picks the first face of a .ttc collection; .ttf files ignore it.
        font = TTFont(name, path, subfontIndex=0)
    except (TTFError, OSError) as exc:
        raise FontMissing(f"font {path} cannot be embedded ({exc}); use a TrueType font with "
                          "Chinese glyphs, e.g. Debian package fonts-wqy-microhei") from exc
    glyphs = frozenset(font.face.charToGlyph)
    if not {ord(c) for c in TITLE} <= glyphs:
        raise FontMissing(f"font {path} has no Chinese glyphs; install fonts-wqy-microhei "
                          "or set CERTIFICATE_FONT")
    pdfmetrics.registerFont(font)
    _FONTS[path] = _Font(name=name, path=path, glyphs=glyphs)
    return _FONTS[path]


# --------------------------------------------------------------------------- PDF

def _cn_date(iso: str) -> str:
    if not iso:
        return ""
    d = date.fromisoformat(iso)
    return f"{d.year}年{d.month}月{d.day}日"


def _attachment_name(certificate_no: str) -> str:
    return "certificate-" + (re.sub(r"[^A-Za-z0-9._-]+", "_", certificate_no) or "x") + ".json"


def _attach_json(canvas: Any, filename: str, data: bytes, description: str) -> None:
    """Add ``data`` as an embedded file (PDF 1.7 §7.11.4) to the document's catalog."""
    from reportlab.pdfbase.pdfdoc import (
        PDFArray, PDFDictionary, PDFName, PDFStream, PDFString, PDFZCompress,
    )

    stream = PDFStream(
        PDFDictionary({"Type": PDFName("EmbeddedFile"), "Subtype": "/application#2Fjson",
                       "Params": PDFDictionary({"Size": len(data)})}),
        content=data, filters=[PDFZCompress])
    filespec = PDFDictionary({
        "Type": PDFName("Filespec"), "F": PDFString(filename), "UF": PDFString(filename),
        "Desc": PDFString(description), "AFRelationship": PDFName("Data"),
        "EF": PDFDictionary({"F": stream, "UF": stream}),
    })
    doc = canvas._doc  # reportlab has no public attachment API; the catalog takes /Names
    doc.Catalog.Names = PDFDictionary({
        "EmbeddedFiles": PDFDictionary({"Names": PDFArray([PDFString(filename), filespec])}),
    })


def _qr_flowable(data: str, size: float) -> Any:
    """A flowable drawing the QR code of ``data`` as one vector path (no seams between modules)."""
    import segno
    from reportlab.platypus import Flowable

    qr = segno.make(data, error="m", micro=False)

    class QRFlowable(Flowable):
        def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
            return size, size

        def draw(self) -> None:
            matrix = [list(row) for row in qr.matrix]
            n, quiet = len(matrix), 4
            unit = size / (n + 2 * quiet)
            canv = self.canv
            canv.saveState()
            canv.setFillColorRGB(1, 1, 1)
            canv.rect(0, 0, size, size, stroke=0, fill=1)
            canv.setFillColorRGB(0, 0, 0)
            path = canv.beginPath()
            for r, row in enumerate(matrix):
                c = 0
                while c < n:
                    if not row[c]:
                        c += 1
                        continue
                    start = c
                    while c < n and row[c]:
                        c += 1
                    path.rect((quiet + start) * unit, size - (quiet + r + 1) * unit,
                              (c - start) * unit, unit)
            canv.drawPath(path, stroke=0, fill=1)
            canv.restoreState()

    return QRFlowable()


def render_pdf(signed: Mapping[str, Any], base_url: str, font_path: str | None = None) -> bytes:
    """An A4 PDF of the certificate with its QR code, footer and the signed JSON embedded.

    ``font_path`` is the CERTIFICATE_FONT setting (empty: the first known system font); the
    font is embedded as a subset. Raises :class:`FontMissing` when no usable font exists.

    The page reads top-down as its parts: the title, the volunteer beside the QR code
    (:func:`_volunteer_section`), the service hours (:func:`_service_section`), the issuer
    (:func:`_issuer_section`), the certificate's own data (:func:`_certificate_section`), the
    sign-off (:func:`_sign_off`); every page has the signature footer and the first one
    carries the signed JSON (:func:`_page_decorations`).
    """
    content, signature = signed["content"], signed["signature"]
    font = _register_font(font_path)
    _warn_missing_glyphs(font, content)
    url = verification_url(base_url, content["certificate_no"], content["verification_code"])
    kid = str(signature.get("kid", ""))
    look = _Look(font)
    story: list[Any] = [
        *_title(look, content),
        *_volunteer_section(look, content, url),
        *_service_section(look, content["service"]),
        *_issuer_section(look, content["issuer"]),
        *_certificate_section(look, content, kid),
        _sign_off(look, content, url),
    ]
    first_page, later_pages = _page_decorations(look, signed, kid)
    return _build(look, story, content, kid, first_page, later_pages)


def _warn_missing_glyphs(font: _Font, content: Mapping[str, Any]) -> None:
    missing = font.missing(_strings(content))
    if missing:
        log.warning("certificate %s: font %s lacks glyphs for %s; they will print as boxes",
                    content["certificate_no"], font.path, "".join(sorted(missing)))


class _Look:
    """The certificate's look: page geometry, colours, paragraph styles and the two kinds of
    table every section is made of (label/value pairs, and the grid)."""

    def __init__(self, font: _Font) -> None:
        from reportlab.lib import colors
        from reportlab.lib.enums import TA_CENTER, TA_RIGHT
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.units import mm

        self.font = font
        self.page_width = A4[0]
        self.margin = 20 * mm
        self.width = self.page_width - 2 * self.margin
        self.grid = colors.HexColor("#9A9A9A")
        self.shade = colors.HexColor("#F1EEE8")
        style = self.style
        self.title = style("title", 24, alignment=TA_CENTER, spaceAfter=2 * mm, leading=32)
        self.subtitle = style("subtitle", 9.5, alignment=TA_CENTER, textColor=colors.HexColor("#444444"))
        self.heading = style("heading", 12, spaceBefore=3.5 * mm, spaceAfter=1.5 * mm,
                             textColor=colors.HexColor("#8B1A1A"))
        self.body = style("body", 10.5)
        self.cell = style("cell", 9.5)
        self.cell_r = style("cell_r", 9.5, alignment=TA_RIGHT)
        self.label = style("label", 9.5, textColor=colors.HexColor("#333333"))
        self.small = style("small", 8.5, textColor=colors.HexColor("#555555"))
        self.sign_off = style("signoff", 11, alignment=TA_RIGHT, leading=20)
        self.caption = style("qrcap", 8, alignment=TA_CENTER, leading=10)
        self.code = style("qrcode", 8, alignment=TA_CENTER, leading=10)

    def style(self, name: str, size: float, **kw: Any) -> Any:
        from reportlab.lib.styles import ParagraphStyle

        kw.setdefault("leading", size * 1.45)
        return ParagraphStyle(name, fontName=self.font.name, fontSize=size, wordWrap="CJK", **kw)

    def p(self, text: str, st: Any = None) -> Any:
        """A paragraph of plain ``text`` (escaped; line breaks kept), in a cell's style by default."""
        from reportlab.platypus import Paragraph

        return Paragraph(escape(text).replace("\n", "<br/>"), st or self.cell)

    def kv_table(self, rows: list[list[tuple[str, str]]], total: float) -> Any:
        """Label/value pairs, two per row; a row of one pair spans the full width."""
        from reportlab.lib.units import mm
        from reportlab.platypus import Table, TableStyle

        p, label, lw = self.p, self.label, 24 * mm
        if all(len(pairs) == 1 for pairs in rows):
            t = Table([[p(k, label), p(v or "—")] for (k, v), in rows], colWidths=[lw, total - lw])
            extra: list[tuple[Any, ...]] = []
        else:
            half = total / 2
            data, extra = [], []
            for r, pairs in enumerate(rows):
                if len(pairs) == 1:
                    (k, v), = pairs
                    data.append([p(k, label), p(v or "—"), "", ""])
                    extra.append(("SPAN", (1, r), (3, r)))
                else:
                    (k1, v1), (k2, v2) = pairs
                    data.append([p(k1, label), p(v1 or "—"), p(k2, label), p(v2 or "—")])
                    extra.append(("BACKGROUND", (2, r), (2, r), self.shade))
            t = Table(data, colWidths=[lw, half - lw, lw, half - lw])
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.5, self.grid),
            ("BACKGROUND", (0, 0), (0, -1), self.shade),
            ("FONTNAME", (0, 0), (-1, -1), self.font.name),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
            *extra,
        ]))
        return t


def _title(look: _Look, content: Mapping[str, Any]) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    return [look.p(TITLE, look.title), look.p(f"证明编号  {content['certificate_no']}", look.subtitle),
            Spacer(1, 3 * mm)]


def _volunteer_section(look: _Look, content: Mapping[str, Any], url: str) -> list[Any]:
    """一、志愿者信息: the volunteer's four fields, the QR code to the verification page beside them."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Table, TableStyle

    vol = content["volunteer"]
    qr_size = 32 * mm
    left_w = look.width - qr_size - 6 * mm
    volunteer_table = look.kv_table([
        [("姓　　名", vol["name"])],
        [("证件类型", vol["id_type"])],
        [("证件号码", vol["id_number_masked"])],
        [("志愿者编号", vol["volunteer_no"])],
    ], left_w)
    qr_cell = [_qr_flowable(url, qr_size), look.p("扫码核验", look.caption),
               look.p(f"验证码 {content['verification_code']}", look.code)]
    top = Table([[volunteer_table, qr_cell]], colWidths=[left_w, look.width - left_w])
    top.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), look.font.name),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ("LEFTPADDING", (1, 0), (1, 0), 6 * mm), ("TOPPADDING", (1, 0), (1, 0), -2 * mm),
    ]))
    return [look.p("一、志愿者信息", look.heading), top]


def _service_section(look: _Look, svc: Mapping[str, Any]) -> list[Any]:
    """二、志愿服务信息: total hours and period, then one row per item and the sum."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer, Table, TableStyle

    p, cell_r = look.p, look.cell_r
    period = ""
    if svc["period_from"] or svc["period_to"]:
        period = f"；服务期间：{_cn_date(svc['period_from'])} 至 {_cn_date(svc['period_to'])}"
    header = [p(h, look.label) for h in ("序号", "服务项目", "组织 / 队伍", "服务时间", "时长（小时）")]
    rows = [header] + [
        [p(str(i)), p(it["project_name"] + (f"\n服务内容：{it['content']}" if it.get("content") else "")),
         p(it["team_name"] or "—"),
         p(f"{it['from']} 至 {it['to']}" if it["from"] != it["to"] else it["from"]),
         p(it["hours"], cell_r)]
        for i, it in enumerate(svc["items"], start=1)
    ]
    if svc["items"]:
        rows.append([p(""), p("合计", look.label), p(""), p(""), p(svc["total_hours"], cell_r)])
    else:
        rows.append([p("—"), p("（无明细）"), p(""), p(""), p("")])
    items_table = Table(rows, colWidths=[11 * mm, 57 * mm, 42 * mm, 34 * mm, look.width - 144 * mm],
                        repeatRows=1)
    items_table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, look.grid),
        ("BACKGROUND", (0, 0), (-1, 0), look.shade),
        ("FONTNAME", (0, 0), (-1, -1), look.font.name),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return [p("二、志愿服务信息", look.heading),
            p(f"累计志愿服务时长：{svc['total_hours']} 小时{period}", look.body),
            Spacer(1, 2 * mm), items_table]


def _issuer_section(look: _Look, iss: Mapping[str, Any]) -> list[Any]:
    """三、出具单位: the issuing team, its contact and the people who sign."""
    return [look.p("三、出具单位", look.heading), look.kv_table([
        [("单位名称", iss["name"])],
        [("团体编号", iss["team_no"]), ("联系方式", iss["contact"])],
        [("负 责 人", iss["responsible_person"]), ("经 办 人", iss["handler"])],
    ], look.width)]


def _certificate_section(look: _Look, content: Mapping[str, Any], kid: str) -> list[Any]:
    """四、证明信息: number, issue date, verification code, signing key, notes."""
    return [look.p("四、证明信息", look.heading), look.kv_table([
        [("证明编号", content["certificate_no"]), ("出具日期", _cn_date(content["issued_on"]))],
        [("验 证 码", content["verification_code"]), ("签名密钥", kid)],
        [("备　　注", content["notes"])],
    ], look.width)]


def _sign_off(look: _Look, content: Mapping[str, Any], url: str) -> Any:
    """特此证明, the issuer's seal line and date, and how to verify (kept on one page)."""
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Spacer

    p, name = look.p, content["issuer"]["name"]
    return KeepTogether([
        Spacer(1, 5 * mm),
        p("特此证明。", look.body),
        Spacer(1, 2 * mm),
        p(f"出具单位（盖章）：{name}", look.sign_off),
        p(_cn_date(content["issued_on"]), look.sign_off),
        Spacer(1, 6 * mm),
        p("本证明免费出具。核验：扫描二维码或访问 " + url + " 。本 PDF 内嵌经网关电子签名的证明数据"
          f"（附件 {_attachment_name(content['certificate_no'])}），可凭网关公布的公钥离线核验。",
          look.small),
    ])


def _page_decorations(look: _Look, signed: Mapping[str, Any], kid: str) -> tuple[Any, Any]:
    """``(first_page, later_pages)`` for reportlab: the signature footer on every page, and on
    the first one the signed JSON as the PDF's file attachment."""
    from reportlab.lib.units import mm

    content = signed["content"]
    fingerprint = content_fingerprint(content)
    margin, page_w = look.margin, look.page_width

    def footer(canv: Any, doc: Any) -> None:
        canv.saveState()
        canv.setFont(look.font.name, 7)
        canv.setFillColorRGB(0.4, 0.4, 0.4)
        canv.drawString(margin, 11 * mm,
                        f"电子签名 Ed25519 · 密钥 {kid} · 内容指纹 SHA-256 {fingerprint}")
        canv.drawRightString(page_w - margin, 11 * mm,
                             f"{content['certificate_no']} · 第 {doc.page} 页")
        canv.restoreState()

    def first_page(canv: Any, doc: Any) -> None:
        data = json.dumps(dict(signed), ensure_ascii=False, indent=2).encode("utf-8")
        _attach_json(canv, _attachment_name(content["certificate_no"]), data,
                     f"{TITLE} {content['certificate_no']} (signed JSON)")
        footer(canv, doc)

    return first_page, footer


def _build(look: _Look, story: list[Any], content: Mapping[str, Any], kid: str,
           first_page: Any, later_pages: Any) -> bytes:
    """The A4 document with its metadata (title, issuer, format, key id, fingerprint)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    margin = look.margin
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=18 * mm,
        bottomMargin=20 * mm, initialFontName=look.font.name, initialFontSize=10,
        title=f"{TITLE} {content['certificate_no']}",
        author=content["issuer"]["name"],
        subject=f"{TITLE} · {content['volunteer']['name']} · {content['service']['total_hours']} 小时",
        creator="志愿服务数据交换网关 (volunteer-service data exchange gateway)",
        keywords=f"{CERTIFICATE_FORMAT}, kid={kid}, fingerprint={content_fingerprint(content)}",
    )
    doc.build(story, onFirstPage=first_page, onLaterPages=later_pages)
    return buffer.getvalue()


def _strings(obj: Any) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


# --------------------------------------------------------------------------- reading back

_STREAM_RE = re.compile(
    rb"\d+\s+\d+\s+obj\s*<<((?:(?!endobj|stream).)*?)>>\s*stream\r?\n", re.DOTALL)


def extract_signed(pdf_bytes: bytes) -> dict[str, Any] | None:
    """The signed certificate JSON embedded by :func:`render_pdf`, or None if there is none.

    A small reader for the PDFs this module writes (uncompressed object syntax, the
    attachment stream Flate-compressed or plain); PDFs rewritten by other tools into object
    streams may not be readable this way.
    """
    if not isinstance(pdf_bytes, (bytes, bytearray)) or not pdf_bytes.lstrip().startswith(b"%PDF"):
        return None
    data = bytes(pdf_bytes)
    for match in _STREAM_RE.finditer(data):
        dictionary = match.group(1)
        if not re.search(rb"/Type\s*/EmbeddedFile\b", dictionary):
            continue
        length = re.search(rb"/Length\s+(\d+)\b(?!\s+\d+\s+R)", dictionary)
        if not length:
            continue
        raw = data[match.end():match.end() + int(length.group(1))]
        filters = re.findall(rb"/(\w+Decode)\b", dictionary)
        try:
            if filters == [b"FlateDecode"]:
                raw = zlib.decompress(raw)
            elif filters:
                continue
            signed = json.loads(raw.decode("utf-8"))
        except (zlib.error, UnicodeDecodeError, ValueError):
            continue
        if (isinstance(signed, dict) and isinstance(signed.get("content"), dict)
                and isinstance(signed.get("signature"), dict)):
            return signed
    return None
