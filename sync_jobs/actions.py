"""What the console does to sources, registered as ``vgw.sync_actions`` / ``default``
(gateway/sync_actions.py documents the interface; the gateway never imports this by name)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from flask import Flask

from gateway.settings import SETTINGS
from sync_jobs import dead_letters as dead_mod
from sync_jobs import engine
from sync_jobs import sources as sources_mod

__all__ = ["add_source", "check", "discard", "replay", "set_paused", "source_view", "start_run"]

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
