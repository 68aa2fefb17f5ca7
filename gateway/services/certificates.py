"""Service certificates (志愿服务记录证明): issue, read, revoke, list, verify publicly.

"谁组织谁记录，谁记录谁证明" (《志愿服务记录与证明出具办法（试行）》 2020, Art. 14): the issuer is
the team that recorded the service, and it must be active (approved, not suspended,
withdrawn, locked or dissolved: ``team.not_active``). A certificate covers the volunteer's
*effective* service records (status 2) of *actual service* (kind 1: honorary hours, kind 2,
are not service time and are left out — Art. 14 如实出具) recorded by that team
(``ServiceRecord.team_id``) whose day of service (``local_date``) lies in the period asked
for, grouped into one line per project with its service content (Art. 15). Its content
(gateway.certificates.document) is checked against the published certificate schema, signed
with the gateway's key ring and kept as issued.

A portal client (a volunteer-facing system with the ``certificate: request`` permission)
may request a certificate for the volunteer it acts for (Art. 14: volunteers may print
their own certificate from the information system): :func:`request_certificate`. The
issuer is still the recording team; its contact person and number are printed.

The verification code (8 characters from an alphabet without look-alikes) is shown once in
the issue answer and printed on the PDF. At rest it is only a SHA-256 hash (for the public
look-up) and a copy encrypted with the personal-data vault (to print the PDF again); the
stored ``signed`` column holds the signed document *without* ``content.verification_code``,
and :func:`signed_document` puts the decrypted code back before anyone sees or checks it.

Certificate numbers: ``C`` + the issuing team's 6-digit area + a 6-digit sequence per area
(``C110105000001``), from :meth:`ServiceContext.number`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal
from typing import Any, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import schemas
from gateway import timefmt
from gateway.certificates.document import certificate_content, content_fingerprint, sign_certificate
from gateway.privacy import Vault, mask_id_number, mask_name
from gateway.services.registration import record_keepers, require_team_issuing
from gateway.services.context import ServiceContext
from gateway.services.errors import Conflict, Invalid, NotFound
from gateway.services.lookups import get_team, get_volunteer
from gateway.signing import KeyRing
from gateway.standard.issues import Issue
from gateway.store.models import Certificate, Change, Project, ServiceRecord, Team, Volunteer

__all__ = [
    "CODE_ALPHABET", "CODE_LENGTH", "ENTITY", "IssuedCertificate",
    "code_hash", "get_certificate", "issue_certificate", "list_volunteer_certificates",
    "new_verification_code", "normalise_code", "public_view", "request_certificate",
    "revoke_certificate", "service_content",
    "signed_document", "verify_public",
]

ENTITY = "certificate"  # permission entity and history entity
# No 0/O, 1/I/L: a code read off paper is typed back without guessing.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
VALID, REVOKED, UNKNOWN = "valid", "revoked", "unknown"
ACTUAL_SERVICE = "1"  # hours_kind 1 志愿服务时长; 2 荣誉时长 is not service time (Art. 14)
CENT = Decimal("0.01")

# Where an issue the schema finds in the certificate record points in the issue request.
_REQUEST_POINTERS = {
    "/issuer/responsible_person": "/responsible_person",
    "/issuer/handler": "/handler",
    "/issuer/contact": "/contact",
    "/notes": "/notes",
    "/service/period_from": "/period_from",
    "/service/period_to": "/period_to",
    "/volunteer/volunteer_no": "/volunteer_no",
    "/issuer/team_no": "/team_no",
}


# --------------------------------------------------------------------------- codes

def new_verification_code() -> str:
    """A fresh verification code: 8 characters of :data:`CODE_ALPHABET` (about 40 bits)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str | None) -> str:
    """The code as typed, upper-cased, without spaces or hyphens."""
    return "".join(ch for ch in str(code or "").upper() if ch not in " -\t")


def code_hash(certificate_no: str, code: str) -> str:
    """SHA-256 hex of ``<certificate_no> NUL <normalised code>``.

    The certificate number salts the hash, so one table of precomputed codes does not open
    every certificate.
    """
    message = f"{certificate_no}\x00{normalise_code(code)}".encode("utf-8")
    return hashlib.sha256(message).hexdigest()


# --------------------------------------------------------------------------- issue

@dataclass(frozen=True)
class IssuedCertificate:
    certificate: Certificate
    verification_code: str  # shown once: only its hash and an encrypted copy are kept
    signed: dict[str, Any]  # the full signed document, code included


def _period_issues(period_from: date, period_to: date, today: date) -> list[Issue]:
    issues = []
    if period_to < period_from:
        issues.append(Issue("/period_to", "certificate.period",
                            "证明期间的截止日期早于起始日期",
                            "period_to is before period_from"))
    if period_to > today:
        issues.append(Issue("/period_to", "certificate.period",
                            "证明期间的截止日期不能晚于今天（不能证明尚未发生的服务）",
                            "period_to is in the future: a certificate only covers service "
                            "already done"))
    return issues


def _service_items(ctx: ServiceContext, volunteer: Volunteer, team: Team,
                   period_from: date, period_to: date) -> list[dict[str, Any]]:
    """One line per project: the effective hours the team recorded for the volunteer."""
    rows = ctx.session.execute(
        select(Project.project_no, Project.name, Team.name,
               func.min(ServiceRecord.local_date), func.max(ServiceRecord.local_date),
               func.sum(ServiceRecord.hours), Project.service_category, Project.description)
        .join(Project, ServiceRecord.project_id == Project.id)
        .join(Team, Project.team_id == Team.id)
        .where(ServiceRecord.volunteer_id == volunteer.id,
               # its own records and those of dissolved teams it succeeded (records kept)
               ServiceRecord.team_id.in_(record_keepers(ctx, team)),
               ServiceRecord.status == "2",
               ServiceRecord.kind == ACTUAL_SERVICE,
               ServiceRecord.local_date >= period_from,
               ServiceRecord.local_date <= period_to)
        .group_by(Project.id, Project.project_no, Project.name, Team.name,
                  Project.service_category, Project.description)
        .order_by(func.min(ServiceRecord.local_date), Project.project_no)
    ).all()
    items = []
    for project_no, project_name, team_name, first, last, hours, category, description in rows:
        hours = Decimal(hours or 0).quantize(CENT)
        if hours > 0:
            items.append({"project_no": project_no, "project_name": project_name,
                          "team_name": team_name, "from": first, "to": last, "hours": hours,
                          "content": service_content(category, description)})
    return items


def service_content(category: str | None, description: str | None) -> str:
    """服务内容 as a certificate prints it: the service category's label and the project's
    description (at most 200 characters), e.g. ``社区服务：陪伴社区独居老人``."""
    labels = schemas.code_table("service_category")
    names = "、".join(labels.get(code, code) for code in (category or "").split(",") if code)
    text = " ".join((description or "").split())
    if len(text) > 200:
        text = text[:199] + "…"
    return "：".join(part for part in (names, text) if part)


def _schema_record(content: Mapping[str, Any], id_type_code: str,
                   items: list[dict[str, Any]]) -> dict[str, Any]:
    """The certificate as the published schema (schemas/v1/certificate.schema.json) shapes it.

    The signed content (format vgw-certificate/1) differs from the wire shape: hours are
    decimal strings there and numbers here, the ID type a label there and a code here, the
    masked ID number is ``id_number`` here, and the item lines carry the project number.
    Empty optional texts are left out (the schema wants them non-empty when present), but the
    issuer's responsible person, handler and contact are always there, so an empty one is
    reported.
    """
    vol, svc, iss = content["volunteer"], content["service"], content["issuer"]
    record: dict[str, Any] = {
        "certificate_no": content["certificate_no"],
        "verification_code": content["verification_code"],
        "volunteer": {"name": vol["name"], "id_type": id_type_code,
                      "id_number": vol["id_number_masked"]},
        "issuer": {"name": iss["name"], "responsible_person": iss["responsible_person"],
                   "handler": iss["handler"], "contact": iss["contact"]},
        "issued_on": content["issued_on"],
        "status": VALID,
    }
    if vol["volunteer_no"]:
        record["volunteer"]["volunteer_no"] = vol["volunteer_no"]
    if iss["team_no"]:
        record["issuer"]["team_no"] = iss["team_no"]
    service: dict[str, Any] = {"kind": "1"}
    if Decimal(svc["total_hours"]) > 0:
        service["hours"] = float(svc["total_hours"])
    for key in ("period_from", "period_to"):
        if svc[key]:
            service[key] = svc[key]
    service["items"] = [
        {"project_no": item["project_no"], "project_name": item["project_name"],
         "team_name": item["team_name"], "hours": float(item["hours"]),
         "from": item["from"].isoformat(), "to": item["to"].isoformat()}
        for item in items
    ]
    record["service"] = service
    if content["notes"]:
        record["notes"] = content["notes"]
    return record


def _schema_issues(ctx: ServiceContext, record: Mapping[str, Any]) -> list[Issue]:
    """The schema's and rules' issues, pointed at the request's fields where they came from."""
    try:
        ctx.validate(ENTITY, record)
    except Invalid as exc:
        return [Issue(_REQUEST_POINTERS.get(i.pointer, i.pointer), i.rule, i.message_zh,
                      i.message_en) for i in exc.issues]
    return []


def _id_type_label(code: str) -> str:
    """What a certificate prints for an ID type: the code table's label (内地居民身份证)."""
    return schemas.code_table("id_type").get(code, code)


def issue_certificate(ctx: ServiceContext, volunteer_no: str, team_no: str, period_from: date,
                      period_to: date, *, responsible_person: str, handler: str, contact: str,
                      notes: str | None = None, keyring: KeyRing) -> IssuedCertificate:
    """Issue a certificate of the volunteer's effective hours recorded by ``team_no``.

    Needs ``certificate:write`` and a scope covering the team (403 otherwise). Raises
    Invalid with every issue at once: ``certificate.period`` (period_to before period_from
    or in the future), ``certificate.no_hours`` (no effective hours recorded by the team in
    the period) and the certificate schema's own (e.g. a malformed contact number).
    """
    ctx.caller.require(ENTITY, "write")
    team = get_team(ctx, team_no, in_scope=False)
    ctx.caller.require_team(team.team_no, team.area_code)
    require_team_issuing(team)
    volunteer = get_volunteer(ctx, volunteer_no, in_scope=False)
    return _issue(ctx, volunteer, team, period_from, period_to,
                  responsible_person=responsible_person, handler=handler, contact=contact,
                  notes=notes, keyring=keyring)


def _issue(ctx: ServiceContext, volunteer: Volunteer, team: Team, period_from: date,
           period_to: date, *, responsible_person: str, handler: str, contact: str,
           notes: str | None, keyring: KeyRing) -> IssuedCertificate:
    volunteer_no, team_no = volunteer.volunteer_no, team.team_no

    today = ctx.now.date()
    issues = _period_issues(period_from, period_to, today)
    items: list[dict[str, Any]] = []
    if not issues:
        items = _service_items(ctx, volunteer, team, period_from, period_to)
        if not items:
            issues.append(Issue("/period_from", "certificate.no_hours",
                                "该志愿者在此期间没有由本队伍记录的已生效服务时长（荣誉时长不计），不能出具证明",
                                "the volunteer has no effective service hours recorded by this "
                                "team in the period (honorary hours do not count); there is "
                                "nothing to certify"))
    total = sum((item["hours"] for item in items), Decimal("0"))

    certificate_no = ctx.number("C", team.area_code)
    code = new_verification_code()
    masked_id = mask_id_number(ctx.vault.decrypt(volunteer.id_number_enc))
    content = certificate_content(
            certificate_no=certificate_no, verification_code=code, issued_on=today,
            volunteer={"name": volunteer.name, "id_type": _id_type_label(volunteer.id_type),
                       "id_number_masked": masked_id,
                       "volunteer_no": volunteer.volunteer_no},
            service={"total_hours": total, "period_from": period_from, "period_to": period_to,
                     "items": items},
            issuer={"name": team.name, "team_no": team.team_no,
                    "responsible_person": responsible_person, "handler": handler,
                    "contact": contact},
            notes=notes,
        )
    issues += _schema_issues(ctx, _schema_record(content, volunteer.id_type, items))
    if issues:
        raise Invalid(f"certificate for {volunteer_no} by team {team_no} cannot be issued",
                      issues)

    signed = sign_certificate(content, keyring)
    stored_content = {k: v for k, v in content.items() if k != "verification_code"}
    certificate = Certificate(
        certificate_no=certificate_no,
        verification_code_hash=code_hash(certificate_no, code),
        verification_code_enc=ctx.vault.encrypt(code),
        volunteer_id=volunteer.id, team_id=team.id,
        period_from=period_from, period_to=period_to, hours=total, issued_on=today,
        signed={"content": stored_content, "signature": signed["signature"]},
        status=VALID, issued_by=ctx.caller.client_id,
    )
    ctx.session.add(certificate)
    ctx.session.flush()
    ctx.record_change(ENTITY, certificate_no, "issue", None, {
        "volunteer_no": volunteer.volunteer_no, "team_no": team.team_no,
        "period_from": period_from.isoformat(), "period_to": period_to.isoformat(),
        "hours": str(total), "issued_on": today.isoformat(), "status": VALID,
        "kid": signed["signature"]["kid"],
    }, area=team.area_code, team_no=team.team_no)
    return IssuedCertificate(certificate, code, signed)


PORTAL_HANDLER = "志愿者本人申请，系统出具"  # 经办人 of a certificate a portal requested


def request_certificate(ctx: ServiceContext, volunteer_no: str, team_no: str,
                        period_from: date, period_to: date, *, keyring: KeyRing,
                        notes: str | None = None) -> IssuedCertificate:
    """A portal asks for a certificate for the volunteer it acts for (办法 2020 Art. 14:
    volunteers may also print their own certificate from the information system).

    Needs ``certificate:request``; the volunteer must be inside the caller's region (a portal
    acts for the volunteers of its region; anyone else's reads as not found). The issuer is
    still the team that recorded the service (谁记录谁证明), which need not be in the
    portal's scope but must be active (``team.not_active``); the team's contact person and
    number are printed as responsible person and contact (``certificate.issuer_contact``
    when the team has none on record), the handler is :data:`PORTAL_HANDLER`. Every other
    rule of :func:`issue_certificate` applies.
    """
    ctx.caller.require(ENTITY, "request")
    volunteer = get_volunteer(ctx, volunteer_no)          # in the portal's region, or 404
    if volunteer.deleted_at is not None:
        raise NotFound(f"no volunteer {volunteer_no}")
    team = get_team(ctx, team_no, in_scope=False)
    require_team_issuing(team)
    contact = ctx.vault.decrypt(team.contact_mobile_enc) if team.contact_mobile_enc else ""
    if not (team.contact_name and contact):
        raise Invalid(f"team {team_no} has no contact on record", [Issue(
            "/team_no", "certificate.issuer_contact",
            "出具队伍没有登记联系人和联系电话，不能由系统出具证明，请向队伍申请",
            "the issuing team has no contact person and number on record: the certificate "
            "cannot be issued on request; ask the team to issue it")])
    return _issue(ctx, volunteer, team, period_from, period_to,
                  responsible_person=team.contact_name, handler=PORTAL_HANDLER, contact=contact,
                  notes=notes, keyring=keyring)


# --------------------------------------------------------------------------- read

def signed_document(vault: Vault, certificate: Certificate) -> dict[str, Any]:
    """The full signed document (verification code put back), as it was signed."""
    stored = certificate.signed
    code = vault.decrypt(certificate.verification_code_enc)
    content: dict[str, Any] = {}
    for key, value in stored["content"].items():
        content[key] = value
        if key == "certificate_no":
            content["verification_code"] = code
    content.setdefault("verification_code", code)
    return {"content": content, "signature": dict(stored["signature"])}


def _find(session: Session, certificate_no: str, *, for_update: bool = False) -> Certificate | None:
    stmt = select(Certificate).where(Certificate.certificate_no == certificate_no)
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def _readable(ctx: ServiceContext, certificate: Certificate) -> bool:
    """Inside the caller's region: the issuing team's or the volunteer's."""
    return (ctx.caller.covers_region(certificate.team.area_code)
            or ctx.caller.covers_region(certificate.volunteer.area_code))


def get_certificate(ctx: ServiceContext, certificate_no: str, *,
                    for_update: bool = False) -> Certificate:
    """The certificate numbered ``certificate_no`` (``certificate:read``); out of scope is 404."""
    ctx.caller.require(ENTITY, "read")
    certificate = _find(ctx.session, certificate_no, for_update=for_update)
    if certificate is None or not _readable(ctx, certificate):
        raise NotFound(f"no certificate {certificate_no}")
    return certificate


def list_volunteer_certificates(ctx: ServiceContext, volunteer_no: str, page: int,
                                per_page: int) -> tuple[list[Certificate], int]:
    """The volunteer's certificates, newest first, as far as the caller may see them.

    A caller covering the volunteer's region sees all of them; one covering only some
    issuing teams' regions sees theirs. With neither, the volunteer reads as not found.
    """
    ctx.caller.require(ENTITY, "read")
    volunteer = get_volunteer(ctx, volunteer_no, in_scope=False)
    stmt = (select(Certificate).join(Team, Certificate.team_id == Team.id)
            .where(Certificate.volunteer_id == volunteer.id))
    prefix = ctx.caller.region_prefix
    covers_volunteer = ctx.caller.covers_region(volunteer.area_code)
    if not covers_volunteer:
        stmt = stmt.where(Team.area_code.startswith(prefix, autoescape=True))
    total = ctx.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    if not covers_volunteer and total == 0:
        raise NotFound(f"no volunteer {volunteer_no}")
    rows = ctx.session.execute(
        stmt.order_by(Certificate.issued_on.desc(), Certificate.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ).scalars().all()
    return list(rows), total


# --------------------------------------------------------------------------- revoke

def revoke_certificate(ctx: ServiceContext, certificate_no: str, reason: str) -> Certificate:
    """Revoke a certificate, keeping it (status 'revoked', when, why, history).

    Needs ``certificate:write`` and a scope covering the issuing team. Revoking a revoked
    certificate is a Conflict; an empty reason is Invalid (``certificate.revoke_reason``).
    """
    ctx.caller.require(ENTITY, "write")
    certificate = get_certificate(ctx, certificate_no, for_update=True)
    ctx.caller.require_team(certificate.team.team_no, certificate.team.area_code)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("a revocation needs a reason", [Issue(
            "/reason", "certificate.revoke_reason", "撤销证明须说明理由",
            "a certificate is only revoked with a reason")])
    if certificate.status == REVOKED:
        raise Conflict(f"certificate {certificate_no} was already revoked",
                       revoked_at=timefmt.iso(certificate.revoked_at))
    before = {"status": certificate.status}
    certificate.status = REVOKED
    certificate.revoked_at = ctx.now
    certificate.revoked_reason = reason
    ctx.session.flush()
    ctx.record_change(ENTITY, certificate_no, "revoke", before,
                      {"status": REVOKED, "revoked_reason": reason}, note=reason,
                      area=certificate.team.area_code, team_no=certificate.team.team_no)
    return certificate


# --------------------------------------------------------------------------- public

# Compared against when the number is unknown, so both paths do the same work.
_NO_HASH = hashlib.sha256(b"no such certificate").hexdigest()


def public_view(certificate: Certificate, tz: tzinfo) -> dict[str, Any]:
    """What the public verification page shows: the content with personal data masked.

    ``revoked_at`` is given in ``tz`` (the gateway's time zone), so its date is the local one.
    """
    content = certificate.signed["content"]
    vol, svc, iss = content["volunteer"], content["service"], content["issuer"]
    view: dict[str, Any] = {
        "status": certificate.status,
        "certificate_no": certificate.certificate_no,
        "issued_on": content["issued_on"],
        "volunteer": {"name": mask_name(vol["name"]), "id_type": vol["id_type"],
                      "id_number": vol["id_number_masked"]},
        "service": {"total_hours": svc["total_hours"], "period_from": svc["period_from"],
                    "period_to": svc["period_to"],
                    "items": [{k: item[k] for k in ("project_name", "team_name", "from", "to",
                                                     "hours")} for item in svc["items"]]},
        "issuer": {"name": iss["name"], "team_no": iss["team_no"]},
        "signature": {"kid": certificate.signed["signature"]["kid"]},
    }
    if certificate.status == REVOKED and certificate.revoked_at is not None:
        view["revoked_at"] = timefmt.iso(certificate.revoked_at, tz, timespec="auto")
    return view


def verify_public(session: Session, vault: Vault, certificate_no: str, code: str | None,
                  tz: tzinfo) -> dict[str, Any]:
    """Look a certificate up by number and code, without login.

    ``{"status": "unknown"}`` for a wrong number *or* a wrong code (which one is not told);
    otherwise :func:`public_view`, whose ``fingerprint`` matches the PDF's footer. The
    hashes are compared in constant time.
    """
    certificate = _find(session, str(certificate_no or "")[:64]) if certificate_no else None
    given = code_hash(str(certificate_no or ""), code or "")
    expected = certificate.verification_code_hash if certificate is not None else _NO_HASH
    matches = hmac.compare_digest(given, expected)
    if certificate is None or not matches or not normalise_code(code):
        return {"status": UNKNOWN}
    view = public_view(certificate, tz)
    view["fingerprint"] = content_fingerprint(signed_document(vault, certificate)["content"])
    return view


def history_of(session: Session, certificate_no: str) -> list[Change]:
    """The certificate's change history, oldest first."""
    return list( session.execute(select(Change).where(Change.entity == ENTITY,
                                                 Change.entity_no == certificate_no)
                           .order_by(Change.id)).scalars())

