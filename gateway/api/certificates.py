"""Service certificates (志愿服务记录证明) over HTTP: issue, read, print, revoke, list.

The public verification page and the JWK set are in gateway.api.public (no login).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request, url_for
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from gateway import timefmt
from gateway.api.common import (Blueprint, BEARER, PageArgs, PageMeta, VersionArgs, page_in_version,
                                page_of, record_in_version, schema_version_field, service_context,
                                versioned)
from gateway.certificates.document import FontMissing, render_pdf, verification_url
from gateway.errors import Problem
from gateway.services import certificates as service
from gateway.services.context import ServiceContext
from gateway.services.errors import Conflict
from gateway.store.models import Certificate

blp = Blueprint("certificates", __name__, url_prefix="/api/v1",
                description="Service certificates (志愿服务记录证明): issued by the team that "
                            "recorded the service, signed by the gateway, verifiable offline.")


# --------------------------------------------------------------------------- schemas

class CertificateIssueArgs(Schema):
    volunteer_no = fields.String(required=True, metadata={"description": "unified volunteer number"})
    team_no = fields.String(required=True, metadata={
        "description": "the issuing team: the team that recorded the service (谁记录谁证明)"})
    period_from = fields.Date(required=True, metadata={"description": "first day certified"})
    period_to = fields.Date(required=True, metadata={
        "description": "last day certified; not before period_from, not in the future"})
    responsible_person = fields.String(required=True, metadata={"description": "负责人 (≤ 20)"})
    handler = fields.String(required=True, metadata={"description": "经办人 (≤ 20)"})
    contact = fields.String(required=True, metadata={
        "description": "联系电话: mainland mobile or landline (010-65001234)"})
    notes = fields.String(load_default=None, allow_none=True,
                          metadata={"description": "备注 (≤ 2000)"})


class CertificateRevokeArgs(Schema):
    reason = fields.String(required=True, validate=validate.Length(max=500),
                           metadata={"description": "why the certificate is revoked"})


SIGNED_DESCRIPTION = ('The signed document: {"content": {...}, "signature": {"alg": "EdDSA", '
                      '"kid", "value"}}; verify with /.well-known/jwks.json over the RFC 8785 '
                      'canonical JSON of content.')


class CertificateIssuedSchema(Schema):
    certificate_no = fields.String()
    verification_code = fields.String(metadata={
        "description": "shown once here and printed on the PDF; the gateway keeps only its hash "
                       "and an encrypted copy"})
    verification_url = fields.String(metadata={"description": "the public page the QR code opens"})
    signed = fields.Dict(metadata={"description": SIGNED_DESCRIPTION})
    pdf_url = fields.String(metadata={"description": "path of the printable A4 PDF"})


class CertificateSummarySchema(Schema):
    certificate_no = fields.String()
    status = fields.String(metadata={"description": "valid or revoked"})
    volunteer_no = fields.String()
    team_no = fields.String(metadata={"description": "the issuing team"})
    team_name = fields.String()
    period_from = fields.Date()
    period_to = fields.Date()
    hours = fields.String(metadata={"description": "total hours certified, 2 decimals"})
    issued_on = fields.Date()
    issued_by = fields.String(metadata={"description": "client that issued it"})
    revoked_at = fields.DateTime(allow_none=True)
    revoked_reason = fields.String(allow_none=True)
    pdf_url = fields.String()


class CertificateSchema(CertificateSummarySchema):
    verification_url = fields.String()
    signed = fields.Dict(metadata={"description": SIGNED_DESCRIPTION})


class CertificatePageSchema(PageMeta):
    items = fields.List(fields.Nested(CertificateSummarySchema))


# --------------------------------------------------------------------------- helpers

def _pdf_url(certificate_no: str) -> str:
    return url_for("certificates.CertificatePdf", certificate_no=certificate_no)


def public_base_url() -> str:
    """Where certificates point: PUBLIC_BASE_URL, or (unset) the address this request came to
    (scheme, host and port; what reverse proxies forwarded when PROXY_FIX trusts them)."""
    return current_app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/")


def _issued_answer(issued):
    """201 for a certificate just issued: its number, code, links (no-store: the code is secret)."""
    no = issued.certificate.certificate_no
    body = {"certificate_no": no, "verification_code": issued.verification_code,
            "verification_url": _verification_url(no, issued.verification_code),
            "signed": issued.signed, "pdf_url": _pdf_url(no)}
    return body, 201, {"Location": url_for("certificates.CertificateItem", certificate_no=no),
                       "Cache-Control": "no-store"}


def _verification_url(certificate_no: str, code: str) -> str:
    return verification_url(public_base_url(), certificate_no, code)


def _summary(ctx: ServiceContext, certificate: Certificate) -> dict[str, Any]:
    revoked_at = timefmt.local(certificate.revoked_at, ctx.tz) if certificate.revoked_at else None
    return {
        "certificate_no": certificate.certificate_no,
        "status": certificate.status,
        "volunteer_no": certificate.volunteer.volunteer_no,
        "team_no": certificate.team.team_no,
        "team_name": certificate.team.name,
        "period_from": certificate.period_from,
        "period_to": certificate.period_to,
        "hours": str(certificate.hours.quantize(service.CENT)),
        "issued_on": certificate.issued_on,
        "issued_by": certificate.issued_by,
        "revoked_at": revoked_at,
        "revoked_reason": certificate.revoked_reason,
        "pdf_url": _pdf_url(certificate.certificate_no),
    }


def _full(ctx: ServiceContext, certificate: Certificate) -> dict[str, Any]:
    signed = service.signed_document(ctx.vault, certificate)
    return {**_summary(ctx, certificate), "signed": signed,
            "verification_url": _verification_url(certificate.certificate_no,
                                                  signed["content"]["verification_code"])}


# --------------------------------------------------------------------------- resources


class CertificateListArgs(PageArgs):
    schema_version = schema_version_field()

@blp.route("/certificates")
class Certificates(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(CertificateIssueArgs)
    @blp.response(201, CertificateIssuedSchema)
    @blp.alt_response(403, description="The caller's scope does not cover the team (problem+json)")
    @blp.alt_response(404, description="No such volunteer or team (problem+json)")
    @blp.alt_response(422, description="Rules certificate.period, certificate.no_hours or the "
                                       "certificate schema's (problem+json)")
    def post(self, args: dict[str, Any]):
        """Issue a certificate of a volunteer's effective hours recorded by the team.

        Needs certificate:write on the team. The answer carries the verification code; it is
        not shown again (the PDF prints it).
        """
        ctx = service_context()
        issued = service.issue_certificate(
            ctx, args["volunteer_no"], args["team_no"], args["period_from"], args["period_to"],
            responsible_person=args["responsible_person"], handler=args["handler"],
            contact=args["contact"], notes=args.get("notes"),
            keyring=current_app.extensions["signing.keyring"])
        ctx.session.commit()
        return _issued_answer(issued)


@blp.route("/certificates/<string:certificate_no>")
class CertificateItem(MethodView):
    @blp.doc(security=BEARER, **versioned(CertificateSchema, "certificate"))
    @blp.arguments(VersionArgs, location="query", as_kwargs=True)
    @blp.response(200, CertificateSchema)
    @blp.alt_response(404, description="No such certificate in the caller's scope (problem+json)")
    @blp.alt_response(409, description="schema_version=2 and the record fails v2's published "
                                       "schema or rules: `/problems/not-renderable` (problem+json)")
    def get(self, certificate_no: str, schema_version: str = "1"):
        """A certificate: the signed document and its status (issuer's or volunteer's region)."""
        ctx = service_context()
        certificate = service.get_certificate(ctx, certificate_no)
        if schema_version != "1":
            return record_in_version(ctx, "certificate", certificate_no, schema_version,
                                     {"Cache-Control": "no-store"})
        return _full(ctx, certificate), 200, {"Cache-Control": "no-store"}


@blp.route("/certificates/<string:certificate_no>/pdf")
class CertificatePdf(MethodView):
    @blp.doc(security=BEARER)
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf",
                  description="The printable A4 PDF with its QR code and the signed JSON embedded")
    @blp.alt_response(404, description="No such certificate in the caller's scope (problem+json)")
    @blp.alt_response(409, description="The certificate was revoked (problem+json)")
    @blp.alt_response(503, description="No font with Chinese glyphs is installed (problem+json)")
    def get(self, certificate_no: str):
        """The certificate as a printable A4 PDF (CJK font embedded, QR to the public page)."""
        ctx = service_context()
        certificate = service.get_certificate(ctx, certificate_no)
        if certificate.status != service.VALID:
            raise Conflict(f"certificate {certificate_no} was revoked; it is no longer printed",
                           revoked_at=timefmt.iso(certificate.revoked_at)
                           if certificate.revoked_at else None)
        signed = service.signed_document(ctx.vault, certificate)
        config = current_app.config
        try:
            pdf = render_pdf(signed, public_base_url(), config["CERTIFICATE_FONT"] or None)
        except FontMissing as exc:
            raise Problem(503, "certificate-font-missing", "Certificate font missing",
                          str(exc)) from None
        filename = f"certificate-{certificate_no}.pdf"
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, no-store",
        })


@blp.route("/certificates/<string:certificate_no>/revoke")
class CertificateRevoke(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(CertificateRevokeArgs)
    @blp.response(200, CertificateSchema)
    @blp.alt_response(403, description="The caller's scope does not cover the issuing team")
    @blp.alt_response(404, description="No such certificate in the caller's scope (problem+json)")
    @blp.alt_response(409, description="Already revoked (problem+json)")
    def post(self, args: dict[str, Any], certificate_no: str):
        """Revoke a certificate; the record is kept (status revoked, when, why, history)."""
        ctx = service_context()
        certificate = service.revoke_certificate(ctx, certificate_no, args["reason"])
        ctx.session.commit()
        return _full(ctx, certificate), 200, {"Cache-Control": "no-store"}


class CertificateRequestArgs(Schema):
    team_no = fields.String(required=True, metadata={
        "description": "the team that recorded the service: it is the issuer (谁记录谁证明)"})
    period_from = fields.Date(required=True, metadata={"description": "first day certified"})
    period_to = fields.Date(required=True, metadata={
        "description": "last day certified; not before period_from, not in the future"})
    notes = fields.String(load_default=None, allow_none=True,
                          metadata={"description": "备注 (≤ 2000)"})


@blp.route("/volunteers/<string:volunteer_no>/certificates")
class VolunteerCertificates(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(CertificateRequestArgs)
    @blp.response(201, CertificateIssuedSchema)
    @blp.alt_response(403, description="The caller lacks certificate:request (problem+json)")
    @blp.alt_response(404, description="No such volunteer in the caller's region, or no such "
                                       "team (problem+json)")
    @blp.alt_response(409, description="Rule team.not_active: the team cannot issue (problem+json)")
    @blp.alt_response(422, description="Rules certificate.period, certificate.no_hours, "
                                       "certificate.issuer_contact (problem+json)")
    def post(self, args: dict[str, Any], volunteer_no: str):
        """A portal requests a certificate for the volunteer it acts for (办法 2020 Art. 14).

        Needs certificate:request; the volunteer is inside the portal's region. The issuer is
        the team that recorded the service; its contact person and number are printed.
        """
        ctx = service_context()
        issued = service.request_certificate(
            ctx, volunteer_no, args["team_no"], args["period_from"], args["period_to"],
            notes=args.get("notes"), keyring=current_app.extensions["signing.keyring"])
        ctx.session.commit()
        return _issued_answer(issued)

    @blp.doc(security=BEARER, **versioned(CertificatePageSchema, "certificate", page=True))
    @blp.arguments(CertificateListArgs, location="query", as_kwargs=True)
    @blp.response(200, CertificatePageSchema)
    @blp.alt_response(404, description="No such volunteer in the caller's scope (problem+json)")
    def get(self, volunteer_no: str, page: int, per_page: int, schema_version: str = "1"):
        """A volunteer's certificates, newest first (those the caller's scope covers)."""
        ctx = service_context()
        rows, total = service.list_volunteer_certificates(ctx, volunteer_no, page, per_page)
        if schema_version != "1":
            return page_in_version(ctx, "certificate", [c.certificate_no for c in rows], page,
                                   per_page, total, schema_version)
        return page_of((_summary(ctx, c) for c in rows), page, per_page, total)
