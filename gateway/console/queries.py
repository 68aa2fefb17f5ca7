"""What the console pages show, read from the store and cut to the account's region.

Reads only: every change goes through a service (gateway/services/, gateway/exchange/keys.py)
or the sync actions (gateway/sync_actions.py). A source's region is its scope's
``region_prefix``, a client's its own; an account sees what lies inside its region prefix
(an account for the whole country sees everything).
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import timefmt
from gateway.privacy import PiiKeyError, mask_name, scrub_text
from gateway.services import sync_status
from gateway.services.admins import Admin
from gateway.store.models import (Alert, Client, ClientKey, DeadLetter, IdempotencyKey, MessageLog,
                                  SyncRun, SyncSource, utcnow)

NAME_KEYS = ("name", "xm", "realname", "real_name", "contact_name", "guardian_name", "username")


def source_region(row: SyncSource) -> str:
    return (row.scope or {}).get("region_prefix") or ""


def visible_sources(session: Session, admin: Admin) -> list[SyncSource]:
    rows = session.execute(select(SyncSource).order_by(SyncSource.name)).scalars()
    return [r for r in rows if admin.covers(source_region(r))]


def visible_source(session: Session, admin: Admin, name: str) -> SyncSource | None:
    row = session.execute(select(SyncSource).where(SyncSource.name == name)).scalar_one_or_none()
    return row if row is not None and admin.covers(source_region(row)) else None


def visible_clients(session: Session, admin: Admin) -> list[Client]:
    rows = session.execute(select(Client).order_by(Client.client_id)).scalars()
    return [c for c in rows if admin.covers(c.region_prefix or "")]


def visible_client(session: Session, admin: Admin, client_id: str) -> Client | None:
    row = session.execute(select(Client).where(Client.client_id == client_id)).scalar_one_or_none()
    return row if row is not None and admin.covers(row.region_prefix or "") else None


def _badness(s: dict[str, Any]) -> tuple:
    last = s["last_run"] or {}
    return (not s["flagged"], last.get("status") != "failed", -s["consecutive_failures"],
            -(s["lag_seconds"] or 0), -s["dead_letters_pending"], s["name"])


def sources_overview(session: Session, admin: Admin) -> list[dict[str, Any]]:
    """sync_status.status() for the account's sources, worst first."""
    names = {r.name for r in visible_sources(session, admin)}
    rows = [s for s in sync_status.status(session)["sources"] if s["name"] in names]
    return sorted(rows, key=_badness)


def _day_start(now: datetime) -> datetime:
    """The start of ``now``'s day in TIMEZONE, as a UTC instant: "today" on screen is the
    reader's calendar day, the one every shown time is in (gateway/timefmt.py), not UTC's."""
    local = timefmt.local(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


def clients_overview(session: Session, admin: Admin) -> list[dict[str, Any]]:
    """Every inbound client: last push, records and rejections today (TIMEZONE), worst first."""
    clients = visible_clients(session, admin)
    today = _day_start(utcnow())
    ids = [c.client_id for c in clients]
    last = dict(session.execute(select(MessageLog.client_id, func.max(MessageLog.received_at))
                                .where(MessageLog.direction == "in", MessageLog.client_id.in_(ids))
                                .group_by(MessageLog.client_id)).all()) if ids else {}
    totals: dict[str, Counter] = defaultdict(Counter)
    if ids:
        for client_id, summary in session.execute(
                select(MessageLog.client_id, MessageLog.summary).where(
                    MessageLog.direction == "in", MessageLog.client_id.in_(ids),
                    MessageLog.received_at >= today)):
            totals[client_id]["total"] += int((summary or {}).get("total") or 0)
            totals[client_id]["rejected"] += int((summary or {}).get("rejected") or 0)
    out = [{"client_id": c.client_id, "name": c.name, "kind": c.kind, "region": c.region_prefix,
            "disabled": c.disabled, "last_push": last.get(c.client_id),
            "records_today": totals[c.client_id]["total"],
            "rejected_today": totals[c.client_id]["rejected"]} for c in clients]
    return sorted(out, key=lambda r: (r["disabled"], -r["rejected_today"], r["client_id"]))


def hourly(session: Session, admin: Admin, hours: int) -> dict[str, Any]:
    """Records in, out and rejected per hour over the last ``hours`` (runs and pushes)."""
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=hours - 1)
    slots = [start + timedelta(hours=i) for i in range(hours)]
    index = {s: i for i, s in enumerate(slots)}
    series = {"in": [0] * hours, "out": [0] * hours, "rejected": [0] * hours}
    sources = {r.id: r for r in visible_sources(session, admin)}
    if sources:
        for run in session.execute(select(SyncRun).where(SyncRun.started_at >= start,
                                                          SyncRun.source_id.in_(list(sources)))).scalars():
            i = index.get(run.started_at.replace(minute=0, second=0, microsecond=0))
            if i is None:
                continue
            series["in" if run.direction == "pull" else "out"][i] += run.written + run.unchanged
            # a rejected record of a pull is also dead-lettered: count it once
            series["rejected"][i] += max(run.rejected, run.dead_lettered)
    ids = [c.client_id for c in visible_clients(session, admin)]
    if ids:
        for at, summary in session.execute(select(MessageLog.received_at, MessageLog.summary).where(
                MessageLog.direction == "in", MessageLog.received_at >= start,
                MessageLog.client_id.in_(ids), MessageLog.source_name.is_(None))):
            i = index.get(at.replace(minute=0, second=0, microsecond=0))
            if i is None:
                continue
            summary = summary or {}
            series["in"][i] += int(summary.get("total") or 0) - int(summary.get("rejected") or 0)
            series["rejected"][i] += int(summary.get("rejected") or 0)
    # the hours are counted in UTC, as stored, and shown in TIMEZONE like every other time
    # (gateway/timefmt.py); the offset goes into the chart's caption, once
    shown = [timefmt.local(s) for s in slots]
    offset = shown[-1].strftime("%z")
    return {"labels": [s.strftime("%m-%d %H:%M") for s in shown], "offset": f"{offset[:3]}:{offset[3:]}",
            **series}


def run_rows(session: Session, source: SyncSource, limit: int = 50) -> list[dict[str, Any]]:
    rows = sync_status.runs(session, source.name, limit)
    for r in rows:
        started = datetime.fromisoformat(r["started_at"]) if r["started_at"] else None
        finished = datetime.fromisoformat(r["finished_at"]) if r["finished_at"] else None
        r["duration"] = (finished - started).total_seconds() if started and finished else None
    return rows


# -- dead letters --------------------------------------------------------------------------------

def dead_letter_query(admin: Admin, session: Session, *, source: str = "", entity: str = "",
                      rule: str = "", status: str = "pending", since: datetime | None = None,
                      until: datetime | None = None):
    names = [r.name for r in visible_sources(session, admin)]
    stmt = (select(DeadLetter, SyncSource.name).join(SyncSource, SyncSource.id == DeadLetter.source_id)
            .where(SyncSource.name.in_(names)))
    if source:
        stmt = stmt.where(SyncSource.name == source)
    if entity:
        stmt = stmt.where(DeadLetter.entity == entity)
    if rule:
        stmt = stmt.where(DeadLetter.rule == rule)
    if status and status != "any":
        stmt = stmt.where(DeadLetter.status == status)
    if since is not None:
        stmt = stmt.where(DeadLetter.created_at >= since)
    if until is not None:
        stmt = stmt.where(DeadLetter.created_at < until)
    return stmt.order_by(DeadLetter.id.desc())


def mask_payload(value: Any, key: str = "") -> Any:
    """A record for display: names masked, every ID- or mobile-like number masked."""
    if isinstance(value, dict):
        return {k: mask_payload(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_payload(v, key) for v in value]
    if isinstance(value, str):
        if key.lower() in NAME_KEYS:
            return mask_name(value)
        return scrub_text(value)
    return value


# -- message log ---------------------------------------------------------------------------------

def message_query(admin: Admin, session: Session, *, batch: str = "", sender: str = "",
                  direction: str = "", outcome: str = "", since: datetime | None = None,
                  until: datetime | None = None):
    stmt = select(MessageLog)
    if admin.region_prefix:
        clients = [c.client_id for c in visible_clients(session, admin)]
        sources = [s.name for s in visible_sources(session, admin)]
        stmt = stmt.where((MessageLog.client_id.in_(clients) & MessageLog.source_name.is_(None))
                          | MessageLog.source_name.in_(sources))
    if batch:
        stmt = stmt.where(MessageLog.batch_id == batch)
    if sender:
        stmt = stmt.where((MessageLog.client_id == sender) | (MessageLog.source_name == sender))
    if direction in ("in", "out"):
        stmt = stmt.where(MessageLog.direction == direction)
    if outcome:
        stmt = stmt.where(MessageLog.status == outcome)
    if since is not None:
        stmt = stmt.where(MessageLog.received_at >= since)
    if until is not None:
        stmt = stmt.where(MessageLog.received_at < until)
    return stmt.order_by(MessageLog.id.desc())


def message_visible(session: Session, admin: Admin, entry: MessageLog) -> bool:
    if not admin.region_prefix:
        return True
    if entry.source_name:
        return visible_source(session, admin, entry.source_name) is not None
    return visible_client(session, admin, entry.client_id) is not None


# -- data quality --------------------------------------------------------------------------------
#
# Read from where the rejections are already recorded, no store of its own: a source's from its
# dead letters (every record a pull rejects is dead-lettered; the rows stay after a replay or a
# discard, with their status), a client's from the stored answers to its pushes (the
# idempotency rows' sealed response blobs, opened with message_log.read_blob). Both are kept
# as long as MESSAGE_LOG_RETENTION_DAYS (90 by default), so the 30-day series is whole.

#: Days in the per-day series (the table covers the page's ``days``).
SERIES_DAYS = 30
#: Rules drawn in a group's series; the rest are summed as "other".
SERIES_RULES = 5
OTHER = "other"


def _quality_group(name: str, events: Iterable[tuple[datetime, str, dict[str, Any]]],
                   days: int, now: datetime) -> dict[str, Any] | None:
    """One source's or client's figures from its rejections ``(when, rule, example)``: the
    rules that reject most in the last ``days`` (with up to 3 masked examples each) and a
    per-day series of the last SERIES_DAYS days for the rules that reject most in it."""
    table_since = now - timedelta(days=days)
    first_day = timefmt.local(now).date() - timedelta(days=SERIES_DAYS - 1)  # days of TIMEZONE
    day_index = {first_day + timedelta(days=i): i for i in range(SERIES_DAYS)}
    rules: Counter = Counter()
    over_series: Counter = Counter()
    per_day: dict[str, list[int]] = defaultdict(lambda: [0] * SERIES_DAYS)
    examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for when, rule, example in events:
        i = day_index.get(timefmt.local(when).date())
        if i is not None:
            per_day[rule][i] += 1
            over_series[rule] += 1
        if when >= table_since:
            rules[rule] += 1
            if len(examples[rule]) < 3:
                examples[rule].append(example)
    if not rules and not over_series:
        return None
    drawn = [r for r, _n in over_series.most_common(SERIES_RULES)]
    datasets = [{"rule": r, "counts": per_day[r]} for r in drawn]
    rest = [sum(col) for col in zip(*(per_day[r] for r in over_series if r not in drawn))]
    if rest:
        datasets.append({"rule": OTHER, "counts": rest})
    labels = [(first_day + timedelta(days=i)).strftime("%m-%d") for i in range(SERIES_DAYS)]
    return {"name": name, "series": {"labels": labels, "datasets": datasets},
            "rules": [{"rule": r, "count": n, "examples": examples[r]}
                      for r, n in rules.most_common(10)]}


def _example(entity: Any, key: Any, issue: dict[str, Any]) -> dict[str, Any]:
    """A rejection as a vendor may be shown it: keys, pointer and messages, no personal data."""
    return {"entity": entity, "key": key, "pointer": issue.get("pointer"),
            "message_zh": scrub_text(issue.get("message_zh") or ""),
            "message_en": scrub_text(issue.get("message_en") or "")}


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; the store writes UTC
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def quality_sources(session: Session, admin: Admin, days: int, *,
                    letters: int = 20000) -> list[dict[str, Any]]:
    """Per source: the rules that put most records into dead letters (the last ``days``,
    with masked examples) and per day over the last SERIES_DAYS days."""
    now = utcnow()
    since = min(now - timedelta(days=days), _day_start(now) - timedelta(days=SERIES_DAYS - 1))
    out = []
    for source in visible_sources(session, admin):
        def events(source=source):
            for letter in session.execute(select(DeadLetter).where(
                    DeadLetter.source_id == source.id, DeadLetter.created_at >= since)
                    .order_by(DeadLetter.id.desc()).limit(letters)).scalars():
                for issue in letter.reason or [{"rule": letter.rule or "?"}]:
                    yield (_aware(letter.created_at), issue.get("rule") or "?",
                           _example(letter.entity, letter.record_key, issue))
        group = _quality_group(source.name, events(), days, now)
        if group is not None:
            out.append(group)
    return out


def quality_clients(session: Session, admin: Admin, days: int, *, batches: int = 1000,
                    read_blob: Any = None) -> list[dict[str, Any]]:
    """Per client: the rules that rejected most in its pushes (the last ``days``, with masked
    examples) and per day over the last SERIES_DAYS days, from the stored answers (sealed
    blobs, opened by ``read_blob``; the newest ``batches`` answers at most)."""
    now = utcnow()
    since = min(now - timedelta(days=days), _day_start(now) - timedelta(days=SERIES_DAYS - 1))
    ids = [c.client_id for c in visible_clients(session, admin)]
    if not ids or read_blob is None:
        return []
    per: dict[str, list[tuple[datetime, str, dict[str, Any]]]] = defaultdict(list)
    rows = session.execute(select(IdempotencyKey.client_id, IdempotencyKey.created_at,
                                  IdempotencyKey.response_blob).where(
        IdempotencyKey.client_id.in_(ids), IdempotencyKey.status == "done",
        IdempotencyKey.response_blob.is_not(None), IdempotencyKey.created_at >= since,
        # pushes only (each has its message-log entry): not the services' POSTs' answers
        # (gateway/api/idempotency.py), which carry no per-record results
        IdempotencyKey.message_id.is_not(None))
        .order_by(IdempotencyKey.id.desc()).limit(batches)).all()
    for client_id, created_at, blob in rows:
        for result in _answer_results(session, blob, read_blob):
            for issue in result.get("errors") or ():
                per[client_id].append((_aware(created_at), issue.get("rule") or "?",
                                       _example(result.get("entity"), result.get("source_id"),
                                                issue)))
    groups = (_quality_group(cid, per[cid], days, now) for cid in sorted(per))
    return [g for g in groups if g is not None]


def _answer_results(session: Session, blob: str, read_blob: Any) -> Iterable[dict[str, Any]]:
    try:
        data = b"".join(read_blob(session, blob))
    except KeyError:       # purged meanwhile
        return []
    except PiiKeyError:    # sealed under a key no longer configured: say so, skip it
        logging.getLogger(__name__).warning("stored answer %s cannot be opened", blob)
        return []
    text = data.decode("utf-8", "replace").strip()
    if text.startswith("{") and "\n" not in text:
        try:
            return json.loads(text).get("results") or []
        except ValueError:
            return []
    results = []
    for line in text.splitlines():  # NDJSON: one result per line, then the summary
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "errors" in value:
            results.append(value)
    return results


# -- keys and alerts -----------------------------------------------------------------------------

def key_last_use(session: Session, key_ids: list[str]) -> dict[str, datetime]:
    if not key_ids:
        return {}
    return dict(session.execute(select(MessageLog.key_id, func.max(MessageLog.received_at))
                                .where(MessageLog.key_id.in_(key_ids), MessageLog.direction == "in")
                                .group_by(MessageLog.key_id)).all())


def keys_of(session: Session, client: Client) -> list[ClientKey]:
    return list(session.execute(select(ClientKey).where(ClientKey.client_pk == client.id)
                                .order_by(ClientKey.created_at, ClientKey.id)).scalars())


def firing_alerts(session: Session, admin: Admin, limit: int = 200) -> list[Alert]:
    rows = session.execute(select(Alert).where(Alert.state != "resolved")
                           .order_by(Alert.last_at.desc()).limit(limit)).scalars()
    return [a for a in rows if admin.covers(a.region_prefix)]
