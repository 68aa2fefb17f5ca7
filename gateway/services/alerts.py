"""Alert rules, evaluated by the scheduler process; alerts delivered to the console, a webhook
(signed with the gateway's own key) and e-mail.

Kinds (``threshold`` in the rule's unit):

- ``lag``: a source's lag after its last run is over ``threshold`` seconds;
- ``failure_streak``: ``threshold`` failed runs in a row or more;
- ``stale``: no successful run for ``threshold`` seconds or more (since the source was added, if it
  never succeeded) — the sync that goes quiet without failing;
- ``rejection_rate``: over the last 24 hours more than ``threshold`` percent of a source's
  records (read by its runs) or a client's pushed records were rejected or dead-lettered;
- ``key_unused``: an active client key not used for ``threshold`` days (since it was added,
  if never) — a key to revoke, or a client that stopped sending.

An alert opens (``firing``) when its condition holds for a subject (a source, client or
key), stays open while it holds (an operator may ``acknowledge`` it) and is ``resolved`` when
it no longer does. Deliveries happen once, when an alert opens, unless the rule is silenced.
The webhook body is canonical JSON (gateway.signing.canonical_json) signed with the gateway's
active Ed25519 key: headers ``X-Gateway-Key-Id`` and ``X-Gateway-Signature`` (base64url),
verifiable with the JWK set at ``/.well-known/jwks.json``.

No Flask here: :func:`evaluate` takes a session, the settings and the key ring.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Callable, Mapping

import requests
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gateway import timefmt
from gateway.services import audit, sync_status
from gateway.signing import b64url_encode, canonical_json
from gateway.store.models import (Alert, AlertRule, Client, ClientKey, MessageLog, SyncRun,
                                  SyncSource, utcnow)
from gateway.store.models.console import ALERT_KINDS

__all__ = ["ALERT_KINDS", "AlertError", "acknowledge", "add_rule", "evaluate", "silence",
           "signed_webhook_body"]

log = logging.getLogger("gateway.alerts")


class AlertError(ValueError):
    pass


def add_rule(session: Session, *, name: str, kind: str, threshold: int, subject_prefix: str = "",
             region_prefix: str = "", webhook: str = "", email: str = "",
             created_by: str = "") -> AlertRule:
    if kind not in ALERT_KINDS:
        raise AlertError(f"kind must be one of {', '.join(ALERT_KINDS)}")
    if not name.strip() or len(name) > 100:
        raise AlertError("a rule needs a name (at most 100 characters)")
    if threshold < 0:
        raise AlertError("threshold must be 0 or more")
    if webhook and not webhook.startswith(("http://", "https://")):
        raise AlertError("webhook must be an http:// or https:// URL")
    if session.execute(select(AlertRule.id).where(AlertRule.name == name)).scalar_one_or_none():
        raise AlertError(f"a rule named {name!r} exists")
    channels = {k: v.strip() for k, v in (("webhook", webhook), ("email", email)) if v.strip()}
    row = AlertRule(name=name.strip(), kind=kind, threshold=threshold, subject_prefix=subject_prefix,
                    region_prefix=region_prefix, channels=channels, enabled=True,
                    created_by=created_by, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def silence(rule: AlertRule, minutes: int | None) -> None:
    rule.silenced_until = utcnow() + timedelta(minutes=minutes) if minutes else None


def acknowledge(alert: Alert, who: str) -> None:
    if alert.state == "firing":
        alert.state, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", who, utcnow()


# -- evaluation ----------------------------------------------------------------------------------

def _in_rule(rule: AlertRule, name: str, region: str) -> bool:
    region_ok = not rule.region_prefix or (region or "").startswith(rule.region_prefix)
    return region_ok and name.startswith(rule.subject_prefix or "")


def _conditions(session: Session, rule: AlertRule, now: datetime,
                status: list[dict[str, Any]], regions: dict[str, str]) -> dict[str, tuple[int, str, str]]:
    """{subject: (value, region, message)} of the subjects for which ``rule`` holds now."""
    out: dict[str, tuple[int, str, str]] = {}
    t = rule.threshold
    if rule.kind in ("lag", "failure_streak", "stale"):
        for s in status:
            region = regions.get(s["name"], "")
            if not _in_rule(rule, s["name"], region):
                continue
            if rule.kind == "lag" and s["lag_seconds"] is not None and s["lag_seconds"] > t:
                out[s["name"]] = (s["lag_seconds"], region,
                                  f"source {s['name']}: lag {s['lag_seconds']}s over {t}s")
            elif rule.kind == "failure_streak" and s["consecutive_failures"] >= t > 0:
                out[s["name"]] = (s["consecutive_failures"], region,
                                  f"source {s['name']}: {s['consecutive_failures']} failed runs in a row")
            elif rule.kind == "stale":
                since = (datetime.fromisoformat(s["last_success_at"]) if s["last_success_at"]
                         else s["_created_at"])
                quiet = int((now - since).total_seconds())
                if quiet >= t:
                    out[s["name"]] = (quiet, region, f"source {s['name']}: no successful run for "
                                                     f"{quiet}s (limit {t}s)")
    elif rule.kind == "rejection_rate":
        day = now - timedelta(hours=24)
        for name, read, bad in session.execute(
                select(SyncSource.name, func.sum(SyncRun.read),
                       # a rejected record of a pull is also dead-lettered: count it once
                       func.sum(case((SyncRun.rejected > SyncRun.dead_lettered, SyncRun.rejected),
                                     else_=SyncRun.dead_lettered)))
                .join(SyncRun, SyncRun.source_id == SyncSource.id)
                .where(SyncRun.started_at >= day).group_by(SyncSource.name)):
            region = regions.get(name, "")
            if read and _in_rule(rule, name, region) and bad * 100 > t * read:
                out[name] = (int(bad * 100 // read), region,
                             f"source {name}: {bad} of {read} records rejected in 24h")
        totals: dict[str, list[int]] = {}
        for client_id, summary in session.execute(
                select(MessageLog.client_id, MessageLog.summary).where(
                    MessageLog.direction == "in", MessageLog.source_name.is_(None),
                    MessageLog.received_at >= day)):
            pair = totals.setdefault(client_id, [0, 0])
            pair[0] += int((summary or {}).get("total") or 0)
            pair[1] += int((summary or {}).get("rejected") or 0)
        client_regions = dict(session.execute(select(Client.client_id, Client.region_prefix)).all())
        for client_id, (total, bad) in totals.items():
            region = client_regions.get(client_id) or ""
            if total and _in_rule(rule, client_id, region) and bad * 100 > t * total:
                out[client_id] = (bad * 100 // total, region,
                                  f"client {client_id}: {bad} of {total} records rejected in 24h")
    elif rule.kind == "key_unused":
        last = dict(session.execute(select(MessageLog.key_id, func.max(MessageLog.received_at))
                                    .where(MessageLog.key_id.is_not(None))
                                    .group_by(MessageLog.key_id)).all())
        for key, client in session.execute(select(ClientKey, Client).join(
                Client, Client.id == ClientKey.client_pk).where(ClientKey.status == "active")):
            if not _in_rule(rule, client.client_id, client.region_prefix or ""):
                continue
            since = last.get(key.key_id) or key.created_at
            days = (now - since).days
            if days >= t:
                out[key.key_id] = (days, client.region_prefix or "",
                                   f"key {key.key_id} of client {client.client_id}: unused for {days} days")
    return out


def evaluate(session: Session, config: Mapping[str, Any], keyring: Any, *,
             now: datetime | None = None,
             post: Callable[..., Any] = requests.post,
             send_mail: Callable[[Mapping[str, Any], EmailMessage], None] | None = None) -> dict[str, int]:
    """Open, refresh and resolve alerts for every enabled rule; deliver the newly opened ones.

    The caller commits. Returns counts: ``opened``, ``resolved``, ``delivered``, ``failed``."""
    now = now or utcnow()
    send_mail = send_mail or _smtp_send
    status = sync_status.status(session)["sources"]
    created = dict(session.execute(select(SyncSource.name, SyncSource.created_at)).all())
    regions = {name: (scope or {}).get("region_prefix") or ""
               for name, scope in session.execute(select(SyncSource.name, SyncSource.scope))}
    for s in status:
        s["_created_at"] = created.get(s["name"], now)
    counts = {"opened": 0, "resolved": 0, "delivered": 0, "failed": 0}
    for rule in session.execute(select(AlertRule).where(AlertRule.enabled.is_(True))
                                .order_by(AlertRule.id)).scalars():
        holding = _conditions(session, rule, now, status, regions)
        open_ = {a.subject: a for a in session.execute(select(Alert).where(
            Alert.rule_id == rule.id, Alert.state != "resolved")).scalars()}
        for subject, alert in open_.items():
            if subject not in holding:
                alert.state, alert.resolved_at = "resolved", now
                counts["resolved"] += 1
        for subject, (value, region, message) in holding.items():
            alert = open_.get(subject)
            if alert is not None:
                alert.last_at, alert.value, alert.message = now, value, message
                continue
            alert = Alert(rule_id=rule.id, kind=rule.kind, subject=subject, region_prefix=region,
                          state="firing", message=message, value=value, first_at=now, last_at=now,
                          deliveries={})
            session.add(alert)
            session.flush()
            counts["opened"] += 1
            if rule.silenced_until is None or rule.silenced_until <= now:
                ok, failed = _deliver(session, config, keyring, rule, alert, post, send_mail)
                counts["delivered"] += ok
                counts["failed"] += failed
    return counts


def signed_webhook_body(keyring: Any, payload: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = canonical_json(dict(payload))
    kid, signature = keyring.sign(body)
    return body, {"Content-Type": "application/json", "X-Gateway-Key-Id": kid,
                  "X-Gateway-Signature": b64url_encode(signature)}


def _payload(rule: AlertRule, alert: Alert) -> dict[str, Any]:
    return {"alert_id": alert.id, "rule": rule.name, "kind": rule.kind, "subject": alert.subject,
            "region_prefix": alert.region_prefix, "state": alert.state, "value": alert.value,
            "threshold": rule.threshold, "message": alert.message,
            "first_at": timefmt.iso(alert.first_at)}


def _deliver(session: Session, config: Mapping[str, Any], keyring: Any, rule: AlertRule,
             alert: Alert, post: Callable[..., Any],
             send_mail: Callable[[Mapping[str, Any], EmailMessage], None]) -> tuple[int, int]:
    ok = failed = 0
    deliveries: dict[str, str] = {}
    payload = _payload(rule, alert)
    url = (rule.channels or {}).get("webhook")
    if url:
        try:
            body, headers = signed_webhook_body(keyring, payload)
            answer = post(url, data=body, headers=headers,
                          timeout=config["ALERT_WEBHOOK_TIMEOUT_SECONDS"])
            good = 200 <= answer.status_code < 300
            deliveries["webhook"] = f"{'sent' if good else 'refused'} {answer.status_code}"
        except (requests.RequestException, OSError) as exc:
            good = False
            deliveries["webhook"] = f"failed: {type(exc).__name__}"
        ok, failed = ok + good, failed + (not good)
    to = (rule.channels or {}).get("email")
    if to and config.get("ALERT_SMTP_HOST"):
        message = EmailMessage()
        message["Subject"] = f"[vgw alert] {rule.name}: {alert.subject}"
        message["From"] = config["ALERT_SMTP_FROM"]
        message["To"] = to
        message.set_content(f"{alert.message}\n\nrule {rule.name} ({rule.kind}, threshold "
                            f"{rule.threshold}), since {timefmt.iso(alert.first_at)}\n")
        try:
            send_mail(config, message)
            deliveries["email"] = "sent"
            ok += 1
        except (smtplib.SMTPException, OSError) as exc:
            deliveries["email"] = f"failed: {type(exc).__name__}"
            failed += 1
    alert.deliveries = deliveries
    if deliveries:
        audit.record(session, actor="scheduler", region_prefix=alert.region_prefix,
                     action="alert.deliver", target=f"{rule.name}: {alert.subject}",
                     outcome="ok" if not failed else "failed", details=deliveries)
    return ok, failed


def smtp_tls_context(config: Mapping[str, Any]) -> ssl.SSLContext:
    """The TLS context of STARTTLS: the certificate and the host name verified, against
    ALERT_SMTP_CA_FILE or the system's CAs. (``smtplib.starttls()`` without a context
    verifies nothing, so the context is always passed.)"""
    return ssl.create_default_context(cafile=config.get("ALERT_SMTP_CA_FILE") or None)


def _smtp_send(config: Mapping[str, Any], message: EmailMessage) -> None:
    with smtplib.SMTP(config["ALERT_SMTP_HOST"], config["ALERT_SMTP_PORT"], timeout=30) as smtp:
        if config["ALERT_SMTP_STARTTLS"]:
            # a server that does not offer STARTTLS is refused (SMTPNotSupportedError), never
            # spoken to in the clear
            smtp.starttls(context=smtp_tls_context(config))
        if config["ALERT_SMTP_USER"]:
            smtp.login(config["ALERT_SMTP_USER"], config["ALERT_SMTP_PASSWORD"])
        smtp.send_message(message)
