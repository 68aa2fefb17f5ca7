"""What the console does to sources, registered as ``vgw.sync_actions`` / ``default``
(gateway/sync_actions.py documents the interface; the gateway never imports this by name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Mapping

from flask import Flask

from gateway.settings import SETTINGS
from sync_jobs import dead_letters as dead_mod
from sync_jobs import engine
from sync_jobs import sources as sources_mod

__all__ = ["add_source", "check", "discard", "replay", "set_paused", "source_form", "source_view",
           "start_run", "update_source"]

SourceError = sources_mod.SourceError


def _env_of(app: Flask) -> dict[str, str]:
    """The environment of a ``vgw`` child with exactly this app's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    for setting in SETTINGS:
        value = app.config.get(setting.name)
        if value is None:
            continue
        env[f"GATEWAY_{setting.name}"] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env


def start_run(app: Flask, name: str) -> int:
    """``vgw sync run NAME`` in a new process (detached, output to the instance's log folder)."""
    with app.extensions["store.sessionmaker"]() as session:
        sources_mod.get(session, name)  # SourceError for an unknown source
    logs = os.path.join(app.instance_path, "logs")
    os.makedirs(logs, exist_ok=True)
    with open(os.path.join(logs, "console-runs.log"), "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "sync", "run", name],
                                env=_env_of(app), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    return proc.pid


def set_paused(app: Flask, name: str, paused: bool, reason: str | None = None) -> None:
    with app.extensions["store.sessionmaker"]() as session:
        sources_mod.set_paused(session, name, paused, reason)
        session.commit()


def check(app: Flask, name: str) -> tuple[bool, str]:
    with app.extensions["store.sessionmaker"]() as session:
        source = sources_mod.get(session, name)
        session.expunge(source)
    try:
        with engine.adapter_for(app, source) as adapter:
            result = adapter.check()
    except Exception as exc:  # noqa: BLE001 - a broken adapter is an answer here, not a crash
        return False, f"{type(exc).__name__}: the adapter could not be built"
    return bool(result.ok), result.detail or ""


def source_view(app: Flask, name: str) -> dict[str, Any]:
    with app.extensions["store.sessionmaker"]() as session:
        return sources_mod.view(app.extensions["privacy.vault"], sources_mod.get(session, name))


def _filter(ids, source, entity, rule) -> dead_mod.Filter:
    return dead_mod.Filter(ids=tuple(int(i) for i in ids), source=source or None,
                           entity=entity or None, rule=rule or None)


def replay(app: Flask, *, ids=(), source: str | None = None, entity: str | None = None,
           rule: str | None = None) -> dict[str, Any]:
    summary = dead_mod.replay(app, _filter(ids, source, entity, rule))
    return {"replayed": summary.replayed, "failed": summary.failed, "busy": list(summary.busy_sources)}


def discard(app: Flask, *, ids=(), source: str | None = None, entity: str | None = None,
            rule: str | None = None) -> int:
    with app.extensions["store.sessionmaker"]() as session:
        count = dead_mod.discard(session, _filter(ids, source, entity, rule))
        session.commit()
    return count


def add_source(app: Flask, name: str, adapter: str, settings: dict[str, Any], **spec: Any) -> str:
    with app.extensions["store.sessionmaker"]() as session:
        status, _row = sources_mod.add_or_update(session, app.extensions["privacy.vault"],
                                                 sources_mod.SourceSpec(name=name, adapter=adapter,
                                                                        settings=settings, **spec))
        session.commit()
    return status


def run_inline(app: Flask, name: str) -> list[dict[str, Any]]:
    """Run now in this process (the demo loader and the CLI only, never a web worker)."""
    results = engine.run_source(app, name, trigger="manual", include_paused=True)
    return [r.as_dict() for r in results or []]


# -- editing a source from the console -----------------------------------------------------------
#
# The form is drawn from the adapter's own settings_schema (one field per property), and what
# comes back is checked by the same add_or_update as ``vgw sources update``: the adapter's
# schema, the entities it handles, the schedule, the scope. Secrets never leave: their fields
# are shown empty and an empty one keeps the stored value; "***" inside a JSON field does too.

MASK = "***"


def _widget(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "choice"
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "string":
        return "text"
    return "json"


def _secret(key: str) -> bool:
    return bool(sources_mod._SECRET_KEY.search(key))


def _shown(value: Any, widget: str) -> str:
    if value is None:
        return ""
    if widget == "json":
        return json.dumps(sources_mod.masked_settings({"v": value})["v"] if isinstance(value, dict)
                          else value, ensure_ascii=False, indent=2)
    if widget == "boolean":
        return "true" if value else "false"
    return str(value)


def source_form(app: Flask, name: str) -> dict[str, Any]:
    """What the console's edit form shows: the adapter's settings as fields (secrets empty),
    the entities it handles, the schedule and the scope."""
    with app.extensions["store.sessionmaker"]() as session:
        row = sources_mod.get(session, name)
        settings = sources_mod.settings_of(app.extensions["privacy.vault"], row)
        cls = sources_mod._adapter_class(row.adapter)
        schema = cls.settings_schema
        properties = dict(schema.get("properties") or {})
        for key in settings:                         # settings the schema lets in unnamed
            properties.setdefault(key, {})
        required = set(schema.get("required") or ())
        fields = []
        for key, prop in properties.items():
            widget = _widget(prop)
            secret = _secret(key) and widget != "json"
            fields.append({"key": key, "widget": widget, "secret": secret,
                           "set": settings.get(key) not in (None, ""),
                           "required": key in required, "description": prop.get("description", ""),
                           "choices": [str(c) for c in prop.get("enum", ())],
                           "value": "" if secret else _shown(settings.get(key), widget)})
        try:
            with cls(settings) as adapter:
                handled = list(adapter.entities)
        except Exception:  # noqa: BLE001 - stored settings the adapter now refuses: all it names
            handled = list(cls.entities)
        return {"adapter": row.adapter, "title": schema.get("title", row.adapter), "fields": fields,
                "entities": list(row.entities), "handled": handled, "schedule": row.schedule or "",
                "scope": dict(row.scope or {}), "direction": row.direction}


def _unmask(new: Any, old: Any) -> Any:
    """``new`` with every "***" put back to the stored value at the same place."""
    if new == MASK and old is not None:
        return old
    if isinstance(new, dict) and isinstance(old, dict):
        return {k: _unmask(v, old.get(k)) for k, v in new.items()}
    return new


def _value(key: str, widget: str, text: str, old: Any) -> Any:
    pointer = f"/settings/{key}"
    if widget == "number":
        try:
            number = float(text)
        except ValueError:
            raise SourceError(pointer, "must be a number") from None
        return int(number) if number.is_integer() and "." not in text else number
    if widget == "boolean":
        if text not in ("true", "false"):
            raise SourceError(pointer, "must be true or false")
        return text == "true"
    if widget == "json":
        try:
            return _unmask(json.loads(text), old)
        except ValueError as exc:
            raise SourceError(pointer, f"is not valid JSON ({exc})") from None
    return text


def update_source(app: Flask, name: str, *, settings: Mapping[str, str], schedule: str,
                  entities: list[str], scope: dict[str, Any]) -> dict[str, Any]:
    """Apply the console's edit form: ``settings`` as the form sent them (text per key; an
    empty secret keeps the stored one, an empty other field drops the key so the adapter's
    default applies). Checked by add_or_update (SourceError with a pointer); returns
    ``status`` and the names of what changed (never a value of a secret)."""
    vault = app.extensions["privacy.vault"]
    form = source_form(app, name)
    with app.extensions["store.sessionmaker"]() as session:
        row = sources_mod.get(session, name)
        old = sources_mod.settings_of(vault, row)
        new: dict[str, Any] = {}
        for field in form["fields"]:
            key, text = field["key"], (settings.get(field["key"]) or "").strip()
            if not text:
                if field["secret"] and key in old:
                    new[key] = old[key]
                continue
            new[key] = _value(key, field["widget"], text, old.get(key))
        if not entities:
            raise SourceError("/entities", "choose at least one entity")
        # the order a form sends is no change: keep the stored order, new ones after it
        entities = ([e for e in row.entities if e in entities]
                    + [e for e in entities if e not in row.entities])
        spec = sources_mod.SourceSpec(name=name, adapter=row.adapter, settings=new,
                                      direction=row.direction, entities=entities,
                                      schedule=schedule, scope=scope)
        before = {"schedule": row.schedule or "", "entities": list(row.entities),
                  "scope": dict(row.scope or {})}
        status, row = sources_mod.add_or_update(session, vault, spec, declared_in=row.declared_in,
                                                update=True)
        stored = sources_mod.settings_of(vault, row)
        changed = sorted(f"settings.{k}" for k in set(old) | set(stored) if old.get(k) != stored.get(k))
        changed += [k for k in ("schedule", "entities", "scope")
                    if before[k] != ({"schedule": row.schedule or "", "entities": list(row.entities),
                                      "scope": dict(row.scope or {})}[k])]
        session.commit()
    return {"status": status, "changed": changed}
