"""One rule for showing times, everywhere the gateway shows one.

The store keeps instants in UTC. Whatever the gateway *shows* — API answers, the sync status
(API, `vgw sync status --json`, the console), CLI tables — is in the zone of the TIMEZONE
setting (default Asia/Shanghai) with its offset written out: ISO 8601 in JSON
(``2026-12-03T18:30:00+08:00``), ``2026-12-03 18:30:00 +08:00`` in tables. An instant is
never shown without its offset, so nothing is ambiguous whichever zone the reader is in.
Stated in docs/protocol.md ("Times") and docs/operations.md.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"  # the TIMEZONE setting's default (gateway/settings.py)


def zone(name: str | None = None) -> tzinfo:
    """The zone times are shown in: ``name``, else the running app's TIMEZONE, else the default."""
    if name is None:
        try:
            from flask import current_app

            name = current_app.config["TIMEZONE"] if current_app else None
        except (ImportError, KeyError):
            name = None
    return ZoneInfo(name or DEFAULT_ZONE)


def local(value: datetime, tz: tzinfo | None = None) -> datetime:
    """``value`` in the display zone (a naive value is taken as UTC, as the store keeps it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(tz or zone())


def iso(value: datetime | None, tz: tzinfo | None = None, timespec: str = "seconds") -> str | None:
    """ISO 8601 with the offset, to the second (``timespec="auto"``: with the microseconds the
    value has, as the volunteer and team views and the change feed show them); None stays None."""
    return local(value, tz).isoformat(timespec=timespec) if value is not None else None


def table(value: datetime | None, tz: tzinfo | None = None) -> str:
    """For CLI tables: ``2026-12-03 18:30:00 +08:00``; ``-`` for none."""
    if value is None:
        return "-"
    shown = local(value, tz)
    offset = shown.strftime("%z")
    return f"{shown:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def table_from_iso(text: str | None) -> str:
    """A time the API shape already carries (ISO 8601 with offset), for a table: ``-`` for none."""
    return table(datetime.fromisoformat(text)) if text else "-"
