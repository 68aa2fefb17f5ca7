"""The console's pages and actions (each action: role checked, confirmed in the page, audited)."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

from flask import (abort, current_app, flash, redirect, render_template, request, send_file,
                   url_for)
from sqlalchemy import delete, select

from gateway import sync_actions, timefmt
from gateway.services.clients import revoke_tokens
from gateway.console import bp, queries
from gateway.console.auth import audit, current_admin, require
from gateway.console.i18n import _
from gateway.exchange import keys as client_keys
from gateway.exchange import message_log
from gateway.privacy import vault
from gateway.services import alerts as alerts_mod
from gateway.services import audit as audit_mod
from gateway.store import get_session
from gateway.store.models import Alert, AlertRule, ClientKey, DeadLetter, MessageLog, utcnow

PAGE = 50
#: After "run now", how long a source's page polls for the new run to appear.
WATCH_SECONDS = 30


def _app():
    return current_app._get_current_object()


def _date(name: str) -> datetime | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        day = datetime.strptime(value[:10], "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return day + timedelta(days=1) if name == "until" else day


def _page() -> int:
    try:
        return max(0, int(request.args.get("page", "0")))
    except ValueError:
        return 0


@bp.app_template_filter("when")
def _when(value) -> str:
    if not value:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return timefmt.table(value)  # the one rule for shown times (gateway/timefmt.py)


@bp.app_template_filter("seconds")
def _seconds(value) -> str:
    if value is None:
        return "—"
    value = int(value)
    if value < 120:
        return f"{value}s"
    if value < 7200:
        return f"{value // 60}m"
    if value < 172800:
        return f"{value // 3600}h"
    return f"{value // 86400}d"


@bp.errorhandler(403)
def _forbidden(_e):
    return render_template("error.html", code=403, message=_("You may not do this.")), 403


@bp.errorhandler(404)
def _not_found(_e):
    return render_template("error.html", code=404, message=_("Not found.")), 404


@bp.after_request
def _headers(response):
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
        "data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.endpoint != "console.static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# -- overview ------------------------------------------------------------------------------------

@bp.route("/")
def overview():
    db = get_session()
    admin = current_admin()
    sources = queries.sources_overview(db, admin)
    clients = queries.clients_overview(db, admin)
    charts = {"day": queries.hourly(db, admin, 24), "week": queries.hourly(db, admin, 24 * 7)}
    totals = {"in": sum(charts["day"]["in"]), "out": sum(charts["day"]["out"]),
              "rejected": sum(charts["day"]["rejected"]),
              "flagged": sum(1 for s in sources if s["flagged"]),
              "dead": sum(s["dead_letters_pending"] for s in sources)}
    firing = queries.firing_alerts(db, admin, 10)
    template = "_overview_body.html" if request.headers.get("HX-Request") else "overview.html"
    return render_template(template, sources=sources, clients=clients, charts=charts,
                           totals=totals, firing=firing)


# -- a source ------------------------------------------------------------------------------------

def _source_or_404(name: str):
    row = queries.visible_source(get_session(), current_admin(), name)
    if row is None:
        abort(404)
    return row


@bp.route("/sources/<name>")
def source(name: str):
    db = get_session()
    row = _source_or_404(name)
    status = next(s for s in queries.sources_overview(db, current_admin()) if s["name"] == name)
    runs = queries.run_rows(db, row)
    live = any(r["status"] == "running" for r in runs[:3])
    # "run now" starts a process that takes a moment to open its run: the page keeps polling
    # until the watch the action set runs out (WATCH_SECONDS), so the run shows without a reload
    watch = request.args.get("watch", "")
    watching = watch.isdigit() and datetime.now(timezone.utc).timestamp() < int(watch)
    poll = url_for("console.source", name=name, **({"watch": watch} if watching else {}))
    if request.headers.get("HX-Request"):
        # the facts (last success, lag, failure streak, dead letters) come along out of band
        return render_template("_runs.html", source=row, runs=runs, live=live or watching,
                               poll=poll, status=status, oob=True)
    view = sync_actions.actions(_app()).source_view(_app(), name)
    chart = {"labels": [f"#{r['id']}" for r in reversed(runs)],
             "durations": [round(r["duration"] or 0) for r in reversed(runs)],
             "read": [r["read"] for r in reversed(runs)],
             "written": [r["written"] for r in reversed(runs)]}
    return render_template("source.html", source=row, status=status, runs=runs, view=view,
                           live=live or watching, poll=poll, chart_data=chart)


@bp.route("/sources/<name>/edit", methods=["GET", "POST"])
@require("operator")
def source_edit(name: str):
    """The source's schedule, entities, scope and adapter settings (secrets kept masked)."""
    row = _source_or_404(name)
    seam = sync_actions.actions(_app())
    admin = current_admin()
    error = None
    if request.method == "POST":
        form = request.form
        region = form.get("region_prefix", "").strip()
        scope = {"region_prefix": region, "pii": form.get("pii", "full"),
                 "teams": [t.strip() for t in form.get("teams", "").split(",") if t.strip()]}
        settings = {k[len("s."):]: v for k, v in form.items() if k.startswith("s.")}
        db = get_session()
        db.rollback()  # the seam works in a session of its own
        try:
            if not admin.covers(region):
                # an account never gives a source a wider region than its own
                raise ValueError(f"/scope/region_prefix: {region or _('whole country')!r} is "
                                 f"outside your region {admin.region_prefix!r}")
            result = seam.update_source(_app(), name, settings=settings,
                                        schedule=form.get("schedule", ""),
                                        entities=form.getlist("entity"), scope=scope)
        except ValueError as exc:  # the seam's SourceError (a ValueError with a pointer)
            error = {"field": getattr(exc, "field", ""), "message": getattr(exc, "message", str(exc))}
            audit("source.update", name, "refused", field=error["field"],
                  reason=error["message"][:300])
            get_session().commit()
        else:
            audit("source.update", name, result["status"], changed=result["changed"],
                  schedule=form.get("schedule", ""), scope=scope)
            get_session().commit()
            flash(f"{_('Saved')}: {', '.join(result['changed']) or _('nothing changed')}", "ok")
            return redirect(url_for("console.source", name=name))
    shown = seam.source_form(_app(), name)
    if error is not None:   # show what was sent back, never a secret
        shown["schedule"] = request.form.get("schedule", "")
        shown["entities"] = request.form.getlist("entity")
        shown["scope"] = {"region_prefix": request.form.get("region_prefix", ""),
                          "pii": request.form.get("pii", "full"),
                          "teams": [t for t in request.form.get("teams", "").split(",") if t.strip()]}
        for field in shown["fields"]:
            if not field["secret"]:
                field["value"] = request.form.get("s." + field["key"], "")
    return render_template("source_edit.html", source=row, form=shown, error=error), \
        (422 if error else 200)


@bp.route("/sources/<name>/<action>", methods=["POST"])
@require("operator")
def source_action(name: str, action: str):
    _source_or_404(name)
    seam = sync_actions.actions(_app())
    db = get_session()
    if action == "run":
        pid = seam.start_run(_app(), name)
        audit("source.run", name, pid=pid)
        flash(f"{_('Run started in process')} {pid}")
    elif action == "pause":
        reason = request.form.get("reason", "").strip()[:200] or None
        seam.set_paused(_app(), name, True, reason)
        audit("source.pause", name, reason=reason)
        flash(_("Paused."))
    elif action == "resume":
        seam.set_paused(_app(), name, False)
        audit("source.resume", name)
        flash(_("Resumed."))
    elif action == "check":
        ok, detail = seam.check(_app(), name)
        audit("source.check", name, "ok" if ok else "failed", detail=detail[:300])
        flash(f"{_('Connection OK') if ok else _('Connection failed')}: {detail}",
              "ok" if ok else "error")
    else:
        abort(404)
    db.commit()
    if action == "run":
        until = int(datetime.now(timezone.utc).timestamp()) + WATCH_SECONDS
        return redirect(url_for("console.source", name=name, watch=until))
    return redirect(url_for("console.source", name=name))


# -- dead letters --------------------------------------------------------------------------------

def _dl_filters() -> dict:
    args = request.values
    return {"source": args.get("source", "").strip(), "entity": args.get("entity", "").strip(),
            "rule": args.get("rule", "").strip(), "status": args.get("status", "pending").strip()}


@bp.route("/dead-letters")
def dead_letters():
    db = get_session()
    admin = current_admin()
    filters = _dl_filters()
    stmt = queries.dead_letter_query(admin, db, **filters, since=_date("since"), until=_date("until"))
    page = _page()
    rows = db.execute(stmt.offset(page * PAGE).limit(PAGE + 1)).all()
    sources = [s.name for s in queries.visible_sources(db, admin)]
    return render_template("dead_letters.html", rows=rows[:PAGE], more=len(rows) > PAGE, page=page,
                           filters=filters, sources=sources, since=request.args.get("since", ""),
                           until=request.args.get("until", ""))


def _letter_or_404(letter_id: int) -> tuple[DeadLetter, str]:
    db = get_session()
    found = db.execute(queries.dead_letter_query(current_admin(), db, status="any")
                       .where(DeadLetter.id == letter_id)).first()
    if found is None:
        abort(404)
    return found[0], found[1]


@bp.route("/dead-letters/<int:letter_id>")
def dead_letter(letter_id: int):
    letter, source_name = _letter_or_404(letter_id)
    payload = json.loads(vault().decrypt(letter.payload_enc))
    return render_template("dead_letter.html", letter=letter, source_name=source_name,
                           payload=json.dumps(queries.mask_payload(payload), ensure_ascii=False,
                                              indent=2))


@bp.route("/dead-letters/<action>", methods=["POST"])
@require("operator")
def dead_letters_action(action: str):
    if action not in ("replay", "discard"):
        abort(404)
    db = get_session()
    admin = current_admin()
    seam = sync_actions.actions(_app())
    everything = request.form.get("all") == "1"
    filters = _dl_filters()
    if everything:
        # "all that match": the ids the account can see under the filter, resolved here so
        # the scope check is the same as the list's
        stmt = queries.dead_letter_query(admin, db, **{**filters, "status": "pending"},
                                         since=_date("since"), until=_date("until"))
        ids = [d.id for d, _n in db.execute(stmt).all()]
    else:
        wanted = [int(i) for i in request.form.getlist("id") if i.isdigit()]
        ids = [d.id for d, _n in db.execute(queries.dead_letter_query(admin, db, status="any")
                                            .where(DeadLetter.id.in_(wanted))).all()]
    db.rollback()  # the replay works in sessions of its own; let go of this one's snapshot
    if not ids:
        flash(_("No dead letters match."), "error")
        return redirect(request.referrer or url_for("console.dead_letters"))
    if action == "replay":
        result = seam.replay(_app(), ids=ids)
        audit("dead_letters.replay", f"{len(ids)} dead letter(s)", "ok" if not result["failed"] else "partial",
              ids=ids[:200], all_matching=everything, filters=filters if everything else {}, **result)
        message = f"{_('Replayed')}: {result['replayed']}, {_('still failing')}: {result['failed']}"
        if result["busy"]:
            message += f"; {_('busy, try again')}: {', '.join(result['busy'])}"
        flash(message, "error" if result["failed"] or result["busy"] else "ok")
    else:
        count = seam.discard(_app(), ids=ids)
        audit("dead_letters.discard", f"{len(ids)} dead letter(s)", ids=ids[:200], discarded=count)
        flash(f"{_('Discarded')}: {count}")
    get_session().commit()
    back = request.form.get("back") or url_for("console.dead_letters")
    return redirect(back if back.startswith("/console") else url_for("console.dead_letters"))


# -- message log ---------------------------------------------------------------------------------

@bp.route("/messages")
def messages():
    db = get_session()
    args = request.args
    filters = {k: args.get(k, "").strip() for k in ("batch", "sender", "direction", "outcome")}
    stmt = queries.message_query(current_admin(), db, **filters, since=_date("since"),
                                 until=_date("until"))
    page = _page()
    rows = list(db.execute(stmt.offset(page * PAGE).limit(PAGE + 1)).scalars())
    return render_template("messages.html", rows=rows[:PAGE], more=len(rows) > PAGE, page=page,
                           filters=filters, since=args.get("since", ""), until=args.get("until", ""))


def _entry_or_404(entry_id: int) -> MessageLog:
    db = get_session()
    entry = db.get(MessageLog, entry_id)
    if entry is None or not queries.message_visible(db, current_admin(), entry):
        abort(404)
    return entry


@bp.route("/messages/<int:entry_id>")
def message(entry_id: int):
    entry = _entry_or_404(entry_id)
    verification = None
    if request.args.get("verify"):
        verification = message_log.verify_entry(get_session(), entry)
        audit("message.verify", str(entry.id), "ok" if verification.verified else "failed",
              batch_id=entry.batch_id)
        get_session().commit()
    if request.headers.get("HX-Request") and verification is not None:
        return render_template("_verification.html", v=verification)
    return render_template("message.html", entry=entry, v=verification)


@bp.route("/messages/<int:entry_id>/evidence.json")
def message_download(entry_id: int):
    entry = _entry_or_404(entry_id)
    evidence = {"id": entry.id, "direction": entry.direction, "batch_id": entry.batch_id,
                "client_id": entry.client_id, "source_name": entry.source_name,
                "adapter": entry.adapter, "key_id": entry.key_id,
                "key_algorithm": entry.key_algorithm, "public_key_pem": entry.public_key_pem,
                "method": entry.method, "target_uri": entry.target_uri,
                "content_type": entry.content_type, "content_digest": entry.content_digest,
                "body_sha256": entry.body_sha256, "body_bytes": entry.body_bytes,
                "signed_headers": entry.signed_headers, "signature_input": entry.signature_input,
                "signature": entry.signature, "nonce": entry.nonce,
                "received_at": entry.received_at.isoformat(), "status": entry.status,
                "http_status": entry.http_status, "summary": entry.summary,
                "body_purged_at": entry.body_purged_at.isoformat() if entry.body_purged_at else None}
    audit("message.download", str(entry.id), batch_id=entry.batch_id)
    get_session().commit()
    data = json.dumps(evidence, ensure_ascii=False, indent=2).encode()
    return send_file(io.BytesIO(data), mimetype="application/json", as_attachment=True,
                     download_name=f"evidence-{entry.id}.json")


# -- data quality --------------------------------------------------------------------------------

@bp.route("/quality")
def quality():
    db = get_session()
    try:
        days = min(90, max(1, int(request.args.get("days", "7"))))
    except ValueError:
        days = 7
    admin = current_admin()
    per_source = queries.quality_sources(db, admin, days)
    per_client = queries.quality_clients(db, admin, days, read_blob=message_log.read_blob)
    totals: dict[str, int] = {}
    for group in per_source + per_client:
        for r in group["rules"]:
            totals[r["rule"]] = totals.get(r["rule"], 0) + r["count"]
    chart = sorted(totals.items(), key=lambda kv: -kv[1])[:12]
    return render_template("quality.html", days=days, per_source=per_source,
                           per_client=per_client, chart_data={"labels": [k for k, _v in chart],
                                                         "counts": [v for _k, v in chart]})


# -- clients and keys ----------------------------------------------------------------------------

@bp.route("/clients")
def clients():
    db = get_session()
    rows = queries.visible_clients(db, current_admin())
    keys = {c.client_id: queries.keys_of(db, c) for c in rows}
    last = queries.key_last_use(db, [k.key_id for ks in keys.values() for k in ks])
    return render_template("clients.html", clients=rows, keys=keys, last=last)


def _client_or_404(client_id: str):
    row = queries.visible_client(get_session(), current_admin(), client_id)
    if row is None:
        abort(404)
    return row


def _pem_of(text: str) -> str:
    text = text.strip()
    if text.startswith("{"):
        return client_keys.pem_from_jwk(json.loads(text))
    return text


@bp.route("/clients/<client_id>/<action>", methods=["POST"])
@require("key_manager")
def client_action(client_id: str, action: str):
    db = get_session()
    client = _client_or_404(client_id)
    try:
        if action in ("add-key", "rotate"):
            pem = _pem_of(request.form.get("key", ""))
            row = client_keys.add_key(db, client, pem, key_id=request.form.get("key_id", "").strip() or None)
            old = request.form.get("old_key_id", "")
            if action == "rotate" and request.form.get("revoke_old") == "1":
                _key_of_client(client, old)
                client_keys.revoke_key(db, old)
            audit(f"client.{action}", client_id, key_id=row.key_id,
                  **({"old_key_id": old, "old_revoked": request.form.get("revoke_old") == "1"}
                     if action == "rotate" else {}))
            flash(f"{_('Key rotated') if action == 'rotate' else _('Key added')}: {row.key_id}")
        elif action == "revoke":
            key_id = request.form.get("key_id", "")
            _key_of_client(client, key_id)
            client_keys.revoke_key(db, key_id)
            audit("client.revoke-key", client_id, key_id=key_id)
            flash(f"{_('Key revoked')}: {key_id}")
        elif action == "disable":
            client.disabled = True
            revoked = revoke_tokens(db, client)
            audit("client.disable", client_id, tokens_revoked=revoked)
            flash(_("Client disabled"))
        else:
            abort(404)
    except (client_keys.ClientKeyError, ValueError) as exc:
        db.rollback()
        audit(f"client.{action}", client_id, "refused", reason=str(exc)[:300])
        db.commit()
        flash(str(exc), "error")
        return redirect(url_for("console.clients") + f"#client-{client_id}")
    db.commit()
    return redirect(url_for("console.clients") + f"#client-{client_id}")


def _key_of_client(client, key_id: str) -> ClientKey:
    key = client_keys.find_key(get_session(), key_id)
    if key is None or key.client_pk != client.id:
        raise client_keys.ClientKeyError(f"no key {key_id!r} for this client")
    return key


# -- alerts --------------------------------------------------------------------------------------

def _visible_rules():
    admin = current_admin()
    rows = get_session().execute(select(AlertRule).order_by(AlertRule.name)).scalars()
    return [r for r in rows if admin.covers(r.region_prefix)]


@bp.route("/alerts")
def alerts():
    db = get_session()
    admin = current_admin()
    recent = db.execute(select(Alert).order_by(Alert.last_at.desc()).limit(300)).scalars()
    rules = {r.id: r for r in _visible_rules()}
    rows = [a for a in recent if admin.covers(a.region_prefix) and a.rule_id in rules]
    return render_template("alerts.html", alerts=rows, rules=list(rules.values()),
                           kinds=alerts_mod.ALERT_KINDS, now=utcnow())


@bp.route("/alerts/rules", methods=["POST"])
@require("operator")
def alert_rule_add():
    db = get_session()
    admin = current_admin()
    form = request.form
    try:
        threshold = int(form.get("threshold", ""))
        row = alerts_mod.add_rule(db, name=form.get("name", ""), kind=form.get("kind", ""),
                                  threshold=threshold, subject_prefix=form.get("subject_prefix", "").strip(),
                                  region_prefix=admin.region_prefix, webhook=form.get("webhook", "").strip(),
                                  email=form.get("email", "").strip(), created_by=admin.username)
    except (alerts_mod.AlertError, ValueError) as exc:
        db.rollback()
        audit("alert_rule.add", form.get("name", ""), "refused", reason=str(exc)[:300])
        db.commit()
        flash(str(exc), "error")
        return redirect(url_for("console.alerts"))
    audit("alert_rule.add", row.name, kind=row.kind, threshold=row.threshold,
          channels=sorted(row.channels))
    db.commit()
    flash(_("Rule added"))
    return redirect(url_for("console.alerts"))


@bp.route("/alerts/rules/<int:rule_id>/<action>", methods=["POST"])
@require("operator")
def alert_rule_action(rule_id: int, action: str):
    db = get_session()
    rule = next((r for r in _visible_rules() if r.id == rule_id), None)
    if rule is None:
        abort(404)
    if action == "silence":
        minutes = int(request.form.get("minutes", "60") or 60)
        alerts_mod.silence(rule, minutes)
    elif action == "unsilence":
        alerts_mod.silence(rule, None)
    elif action in ("enable", "disable"):
        rule.enabled = action == "enable"
    elif action == "delete":
        db.execute(delete(Alert).where(Alert.rule_id == rule.id))
        db.delete(rule)
    else:
        abort(404)
    audit(f"alert_rule.{action}", rule.name, **({"minutes": request.form.get("minutes")}
                                                if action == "silence" else {}))
    db.commit()
    flash(_("Saved"))
    return redirect(url_for("console.alerts"))


@bp.route("/alerts/<int:alert_id>/ack", methods=["POST"])
@require("operator")
def alert_ack(alert_id: int):
    db = get_session()
    alert = db.get(Alert, alert_id)
    if alert is None or not current_admin().covers(alert.region_prefix):
        abort(404)
    alerts_mod.acknowledge(alert, current_admin().username)
    audit("alert.acknowledge", f"{alert.kind}: {alert.subject}", alert_id=alert.id)
    db.commit()
    flash(_("Acknowledged"))
    return redirect(request.form.get("back") or url_for("console.alerts"))


# -- audit trail ---------------------------------------------------------------------------------

@bp.route("/audit")
def audit_trail():
    admin = current_admin()
    rows = audit_mod.entries(get_session(), region_prefix=admin.region_prefix,
                             actor=request.args.get("actor") or None,
                             action=request.args.get("action") or None, limit=300)
    return render_template("audit.html", rows=rows)
