"""``vgw log``: the exchange's message log — show (and re-verify) a batch, list, purge old bodies."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from gateway import store, timefmt
from gateway.exchange import message_log
from gateway.store.models import MessageLog


@click.group("log", help="The message log: every batch that crossed the boundary, with its "
                         "signature evidence.")
def log_group() -> None:
    pass


def _when(value) -> str:
    return timefmt.table(value)


@log_group.command("show")
@click.argument("batch_id")
@click.option("--client", "client_id", help="Only messages of this client.")
@with_appcontext
def show(batch_id: str, client_id: str | None) -> None:
    """Show every logged message of BATCH_ID and verify its signature again.

    The signed message is rebuilt from the log alone (method, target URI, the covered header
    fields, Signature-Input, Signature) and verified with the public key recorded on receipt;
    the stored body is checked against the signed Content-Digest. Prints VERIFIED or FAILED
    per message; exits 1 if any message fails (or none is found).
    """
    with store.session_scope(current_app) as session:
        entries = [e for e in message_log.entries_for_batch(session, batch_id)
                   if client_id is None or e.client_id == client_id]
        if not entries:
            click.echo(f"no logged message with batch id {batch_id!r}", err=True)
            sys.exit(1)
        failed = False
        for entry in entries:
            check = message_log.verify_entry(session, entry)
            failed |= not check.verified
            _print_entry(entry)
            verdict = "VERIFIED" if check.verified else "FAILED"
            click.echo(f"  verification:    {verdict}")
            for problem in check.problems:
                click.echo(f"    - {problem}")
            click.echo("")
    sys.exit(1 if failed else 0)


def _print_entry(entry: MessageLog) -> None:
    click.echo(f"message {entry.id} ({'inbound' if entry.direction == 'in' else 'outbound'})")
    rows = [
        ("batch", entry.batch_id), ("client", entry.client_id), ("received", _when(entry.received_at)),
        ("request", f"{entry.method} {entry.target_uri}"), ("content type", entry.content_type),
        *([("adapter", f"{entry.adapter} (source {entry.source_name})")] if entry.adapter else []),
        ("idempotency key", entry.idempotency_key), ("key id", entry.key_id),
        ("algorithm", entry.key_algorithm), ("nonce", entry.nonce),
        ("content digest", entry.content_digest), ("body sha-256", entry.body_sha256),
        ("body", f"{entry.body_bytes} bytes" + (f", purged {_when(entry.body_purged_at)}"
                                                 if entry.body_blob is None else ", stored")),
        ("signature input", entry.signature_input), ("signature", entry.signature),
        ("status", f"{entry.status}" + (f" (HTTP {entry.http_status})" if entry.http_status else "")),
        ("summary", json.dumps(entry.summary or {}, ensure_ascii=False, sort_keys=True)),
    ]
    for label, value in rows:
        click.echo(f"  {label + ':':<17}{value if value is not None else '-'}")


@log_group.command("list")
@click.option("--client", "client_id", help="Only messages of this client.")
@click.option("--direction", type=click.Choice(["in", "out"]), help="Only inbound or outbound.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@with_appcontext
def list_entries(client_id: str | None, direction: str | None, limit: int) -> None:
    """The latest logged messages, newest first."""
    stmt = select(MessageLog).order_by(MessageLog.id.desc()).limit(limit)
    if client_id:
        stmt = stmt.where(MessageLog.client_id == client_id)
    if direction:
        stmt = stmt.where(MessageLog.direction == direction)
    with store.session_scope(current_app) as session:
        entries = list(session.execute(stmt).scalars())
        if not entries:
            click.echo("the message log is empty")
            return
        # Whole client and batch ids (what `vgw log show` takes), however long: the columns
        # are as wide as the longest shown.
        client_w = max(6, *(len(e.client_id) for e in entries))
        batch_w = max(5, *(len(e.batch_id or "-") for e in entries))
        click.echo(f"{'id':>6} {'dir':<3} {'received':<26} {'client':<{client_w}} "
                   f"{'batch':<{batch_w}} {'status':<9} {'records':>7} {'body':>10}")
        for e in entries:
            summary = e.summary or {}
            body = f"{e.body_bytes}" if e.body_blob else "purged"
            click.echo(f"{e.id:>6} {e.direction:<3} {_when(e.received_at):<26} "
                       f"{e.client_id:<{client_w}} {(e.batch_id or '-'):<{batch_w}} {e.status:<9} "
                       f"{summary.get('total', '-')!s:>7} {body:>10}")


@log_group.command("purge")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Drop bodies older than this many days (default: MESSAGE_LOG_RETENTION_DAYS).")
@with_appcontext
def purge(days: int | None) -> None:
    """Drop message bodies (and stored push answers) past the retention; keep the evidence."""
    days = days or current_app.config["MESSAGE_LOG_RETENTION_DAYS"]
    with store.session_scope(current_app) as session:
        counts = message_log.purge(session, older_than_days=days)
    click.echo(f"purged {counts['bodies']} message bodies and {counts['idempotency_keys']} stored "
               f"push answers older than {days} days; signatures, digests, keys and counts stay")
