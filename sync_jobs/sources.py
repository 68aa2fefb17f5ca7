"""Sources: which local system, through which adapter, which way, what, when, and in what scope.

A source lives in the store (:class:`gateway.store.models.SyncSource`); it is added with
``vgw sources add`` or declared in the sources file (setting SOURCES_FILE), a TOML file with one
table per source::

    [sources.js-zyh365]
    adapter = "zyh365"
    direction = "pull"                 # pull | push | both
    entities = ["volunteer", "team"]
    schedule = "every 5m"              # every Ns / Nm / Nh / Nd, or a five-field cron line
    scope = { region_prefix = "32", pii = "full" }

    [sources.js-zyh365.settings]       # the adapter's settings (its settings_schema)
    base_url = "https://zyh.example"
    access_key_id = "gateway"
    access_key_secret = "${JS_ZYH365_SECRET}"   # ${NAME}: from the environment

The settings are validated against the adapter's ``settings_schema`` and kept encrypted (they
hold credentials); ``show`` masks values of keys that look secret.

The source's name is also its identity as a sender: the store records it as the
``source_system`` of what it brings (provenance, history, SOURCE_PRIORITY), so a name may not
be the id of a registered exchange client.

Scope: ``region_prefix`` (records outside it are rejected on the way in and not sent on the
way out), ``teams`` (team numbers; empty: all), ``pii`` — ``full`` (the default: a local
system needs whole ID numbers to match people) or ``masked``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.caller import Caller
from gateway.adapter import Adapter, AdapterSettingsError, discover
from gateway.privacy import Vault
from gateway.store.models import Client, SyncSource, utcnow

__all__ = ["SourceError", "SourceSpec", "add_or_update", "apply_file", "caller_for", "get",
           "masked_settings", "parse_schedule", "read_file", "remove", "set_paused",
           "settings_of", "trigger_for", "view"]

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_EVERY = re.compile(r"^every\s+(\d+)\s*(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_KEY = re.compile(r"secret|password|private|token|key_pem|credential", re.I)
DIRECTIONS = ("pull", "push", "both")
PII = ("full", "masked")


class SourceError(ValueError):
    """A source that cannot be stored as given: ``field`` is a JSON Pointer into the source."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"{field or '/'}: {message}")


@dataclass
class SourceSpec:
    """A source as declared (CLI or file), before it is checked and stored."""

    name: str
    adapter: str
    settings: dict[str, Any]
    direction: str = "pull"
    entities: list[str] | None = None
    schedule: str = ""
    scope: dict[str, Any] | None = None


# -- schedules -----------------------------------------------------------------------------------

def parse_schedule(text: str) -> tuple[str, Any]:
    """``("interval", seconds)``, ``("cron", text)`` or ``("manual", None)``; ValueError if neither."""
    text = (text or "").strip()
    if not text:
        return "manual", None
    match = _EVERY.match(text)
    if match:
        seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
        if seconds <= 0:
            raise ValueError("an interval must be at least 1 second")
        return "interval", seconds
    try:
        CronTrigger.from_crontab(text)
    except ValueError as exc:
        raise ValueError(f"not 'every N s|m|h|d' nor a five-field cron line ({exc})") from None
    return "cron", text


def trigger_for(schedule: str, timezone: Any):
    """The APScheduler trigger of a schedule, or None for a source run by hand only."""
    kind, value = parse_schedule(schedule)
    if kind == "interval":
        return IntervalTrigger(seconds=value, timezone=timezone)
    if kind == "cron":
        return CronTrigger.from_crontab(value, timezone=timezone)
    return None


# -- checking ------------------------------------------------------------------------------------

def _adapter_class(name: str) -> type[Adapter]:
    adapters = discover()
    if name not in adapters:
        raise SourceError("/adapter", f"no adapter named {name!r} is installed "
                                      f"(installed: {', '.join(sorted(adapters)) or 'none'})")
    return adapters[name]


def _check(session: Session, spec: SourceSpec) -> tuple[type[Adapter], dict[str, Any], list[str], dict[str, Any]]:
    if not isinstance(spec.name, str) or not NAME.match(spec.name):
        raise SourceError("/name", "a name is 1-64 characters: lower-case letters, digits, '_', '.', "
                                   "'-', starting with a letter or digit")
    if session.execute(select(Client.id).where(Client.client_id == spec.name)).first():
        raise SourceError("/name", f"{spec.name!r} is the id of an exchange client; a source's name "
                                   "is its identity as a sender and must differ")
    cls = _adapter_class(spec.adapter)
    if spec.direction not in DIRECTIONS:
        raise SourceError("/direction", f"must be one of {', '.join(DIRECTIONS)}")
    if spec.direction in ("push", "both") and not cls.writable:
        raise SourceError("/direction", f"the {cls.name} adapter cannot write: direction must be pull")
    try:
        # Built once, without touching the system: some settings are checked in __init__ (a
        # spreadsheet's columns), and some adapters handle fewer entities once set up.
        with cls(spec.settings or {}) as adapter:
            settings, handled = adapter.settings, tuple(adapter.entities)
    except AdapterSettingsError as exc:
        raise SourceError("/settings" + exc.field, exc.message) from None
    entities = list(spec.entities or handled)
    unknown = [e for e in entities if e not in handled]
    if unknown or not entities or len(set(entities)) != len(entities):
        raise SourceError("/entities", f"entities must be some of {', '.join(handled)}, each once"
                                       + (f" (not {', '.join(unknown)})" if unknown else ""))
    try:
        parse_schedule(spec.schedule)
    except ValueError as exc:
        raise SourceError("/schedule", str(exc)) from None
    scope = dict(spec.scope or {})
    unknown_keys = sorted(set(scope) - {"region_prefix", "teams", "pii"})
    if unknown_keys:
        raise SourceError(f"/scope/{unknown_keys[0]}", "unknown scope key (region_prefix, teams, pii)")
    prefix = scope.get("region_prefix", "")
    if not isinstance(prefix, str) or (prefix and not (prefix.isdigit() and len(prefix) <= 12)):
        raise SourceError("/scope/region_prefix", "must be digits of a region code, e.g. 32 or 3201")
    teams = scope.get("teams", [])
    if not isinstance(teams, list) or not all(isinstance(t, str) and t for t in teams):
        raise SourceError("/scope/teams", "must be a list of team numbers")
    pii = scope.get("pii", "full")
    if pii not in PII:
        raise SourceError("/scope/pii", "must be full or masked")
    return cls, settings, entities, {"region_prefix": prefix, "teams": teams, "pii": pii}


def add_or_update(session: Session, vault: Vault, spec: SourceSpec, *, declared_in: str = "cli",
                  update: bool = False) -> tuple[str, SyncSource]:
    """Store a source: ``("created" | "updated" | "unchanged", row)``.

    An existing name is refused unless ``update`` (the sources file updates what it
    declares) — or unless it is defined exactly so already: adding the same source again is
    ``unchanged``, not an error, so a script that adds it (the README's tour) can run twice.
    Status, flags, cursors and history of an updated source stay as they are.
    """
    _cls, settings, entities, scope = _check(session, spec)
    row = session.execute(select(SyncSource).where(SyncSource.name == spec.name)).scalar_one_or_none()
    values = {"adapter": spec.adapter, "direction": spec.direction, "entities": entities,
              "schedule": (spec.schedule or "").strip(), "scope": scope, "declared_in": declared_in}
    if row is not None and not update:
        if all(getattr(row, k) == v for k, v in values.items()) and settings_of(vault, row) == settings:
            return "unchanged", row
        raise SourceError("/name", f"a source named {spec.name!r} exists with another definition "
                                   "(change it with `vgw sources update`, remove it first, or "
                                   "declare it in the sources file to keep it updated)")
    if row is None:
        row = SyncSource(name=spec.name, settings_enc=vault.encrypt(_dump(settings)), status="active",
                         flagged=False, consecutive_failures=0, created_at=utcnow(),
                         updated_at=utcnow(), **values)
        session.add(row)
        session.flush()
        return "created", row
    same = all(getattr(row, k) == v for k, v in values.items()) and settings_of(vault, row) == settings
    if same:
        return "unchanged", row
    for key, value in values.items():
        setattr(row, key, value)
    row.settings_enc = vault.encrypt(_dump(settings))
    row.updated_at = utcnow()
    session.flush()
    return "updated", row


def _dump(settings: Mapping[str, Any]) -> str:
    return json.dumps(settings, ensure_ascii=False, sort_keys=True)


def settings_of(vault: Vault, row: SyncSource) -> dict[str, Any]:
    """The source's adapter settings, decrypted (credentials: never log them)."""
    return json.loads(vault.decrypt(row.settings_enc))


def masked_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings for display: values of keys that look secret replaced by ``"***"``."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            out[key] = masked_settings(value)
        elif _SECRET_KEY.search(key) and value not in (None, ""):
            out[key] = "***"
        else:
            out[key] = value
    return out


def get(session: Session, name: str) -> SyncSource:
    row = session.execute(select(SyncSource).where(SyncSource.name == name)).scalar_one_or_none()
    if row is None:
        raise SourceError("/name", f"no source named {name!r} (vgw sources list)")
    return row


def set_paused(session: Session, name: str, paused: bool, reason: str | None = None) -> SyncSource:
    """Pause (the scheduler stops starting runs) or resume (also clears the failure flag)."""
    row = get(session, name)
    row.status = "paused" if paused else "active"
    row.paused_reason = (reason or "paused by an operator") if paused else None
    if not paused:
        row.flagged = False
        row.consecutive_failures = 0
    row.updated_at = utcnow()
    return row


def remove(session: Session, name: str) -> None:
    """Remove a source with its cursors, run history and dead letters (the store's records stay)."""
    row = get(session, name)
    session.execute(delete(SyncSource).where(SyncSource.id == row.id))


def caller_for(row: SyncSource) -> Caller:
    """The source as a caller of the services: its entities, region, teams and personal-data access."""
    scope = row.scope or {}
    return Caller(client_id=row.name, region_prefix=scope.get("region_prefix") or "",
                  team_nos=frozenset(scope.get("teams") or ()),
                  permissions={e: frozenset({"read", "write"}) for e in row.entities},
                  pii_full=scope.get("pii", "full") == "full")


def view(vault: Vault, row: SyncSource) -> dict[str, Any]:
    """The source as ``vgw sources show`` prints it (secrets masked)."""
    return {"name": row.name, "adapter": row.adapter, "direction": row.direction,
            "entities": list(row.entities), "schedule": row.schedule or "(by hand)",
            "scope": row.scope, "status": row.status, "flagged": row.flagged,
            "paused_reason": row.paused_reason, "consecutive_failures": row.consecutive_failures,
            "declared_in": row.declared_in,
            "settings": masked_settings(settings_of(vault, row)),
            "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat()}


# -- the sources file ----------------------------------------------------------------------------

def _expand(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        def sub(match: re.Match) -> str:
            name = match[1]
            if name not in environ:
                raise SourceError(where, f"environment variable {name} is not set")
            return environ[name]
        return _ENV.sub(sub, value)
    if isinstance(value, Mapping):
        return {k: _expand(v, f"{where}/{k}", environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{where}/{i}", environ) for i, v in enumerate(value)]
    return value


def read_file(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> list[SourceSpec]:
    """The sources a TOML file declares (``${NAME}`` in settings from the environment)."""
    environ = os.environ if environ is None else environ
    try:
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise SourceError("", f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceError("", f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"sources"})
    if unknown:
        raise SourceError(f"/{unknown[0]}", "a sources file holds [sources.NAME] tables only")
    specs = []
    for name, table in (data.get("sources") or {}).items():
        where = f"/sources/{name}"
        if not isinstance(table, dict):
            raise SourceError(where, "must be a table")
        extra = sorted(set(table) - {"adapter", "direction", "entities", "schedule", "scope", "settings"})
        if extra:
            raise SourceError(f"{where}/{extra[0]}", "unknown key")
        if "adapter" not in table:
            raise SourceError(f"{where}/adapter", "is required")
        specs.append(SourceSpec(
            name=name, adapter=table["adapter"],
            settings=_expand(table.get("settings") or {}, f"{where}/settings", environ),
            direction=table.get("direction", "pull"), entities=table.get("entities"),
            schedule=table.get("schedule", ""), scope=table.get("scope")))
    return specs


def apply_file(session: Session, vault: Vault, path: str | os.PathLike[str],
               environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Create or update every source the file declares: ``[(name, created|updated|unchanged)]``.

    All or nothing: the caller commits only if no source was refused (a SourceError names
    the source and field). Sources not in the file are left alone.
    """
    results = []
    for spec in read_file(path, environ):
        try:
            status, _row = add_or_update(session, vault, spec, declared_in=str(path), update=True)
        except SourceError as exc:
            raise SourceError(f"/sources/{spec.name}{exc.field}", exc.message) from None
        results.append((spec.name, status))
    return results
