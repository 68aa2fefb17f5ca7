"""The seam between the console and the sync engine: actions that live in ``sync_jobs``.

The gateway never imports ``sync_jobs`` by name (docs/architecture.md). What the console
needs to *do* to a source — run it now, pause, resume, check the connection, replay or
discard dead letters — is reached through the object registered under the entry-point group
``vgw.sync_actions`` (name ``default``), as ``vgw sources`` / ``vgw sync`` come in through
``vgw.commands``. Reading the sync state needs no seam: it is in the store
(:mod:`gateway.services.sync_status`).

The registered object provides (each takes the Flask app; names are source names):

- ``start_run(app, name) -> int``: start a run in a process of its own (never inside a web
  worker), returning that process's id; the source's lock keeps it from overlapping others.
- ``set_paused(app, name, paused, reason=None)``: pause, or resume (clears the failure flag).
- ``check(app, name) -> (ok, detail)``: the adapter's ``check()``.
- ``source_view(app, name) -> dict``: the source with its settings masked.
- ``replay(app, *, ids=(), source=None, entity=None, rule=None) -> dict``: ``replayed``,
  ``failed``, ``busy`` (source names being run, not replayed).
- ``discard(app, *, ids=(), source=None, entity=None, rule=None) -> int``.
- ``add_source(app, name, adapter, settings, **spec) -> None`` (the demo's sources).
- ``source_form(app, name) -> dict``: what the edit form shows — the adapter's settings as
  fields drawn from its ``settings_schema`` (``key``, ``widget``: text / number / boolean /
  choice / json, ``secret``, ``set``, ``required``, ``description``, ``choices``, ``value``;
  a secret's value is always empty), ``entities``, ``handled``, ``schedule``, ``scope``.
- ``update_source(app, name, *, settings, schedule, entities, scope) -> dict``: apply the
  form (an empty secret keeps the stored one), checked as ``vgw sources update`` checks it;
  ``status`` and ``changed`` (names only), or ``SourceError`` (``field``: a JSON Pointer,
  ``message``).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

GROUP = "vgw.sync_actions"
EXTENSION = "gateway.sync_actions"


class SyncActionsMissing(RuntimeError):
    """No package registered sync actions (sync_jobs is not installed)."""


def actions(app: Any) -> Any:
    """The registered sync actions, loaded once per app."""
    found = app.extensions.get(EXTENSION)
    if found is None:
        eps = [ep for ep in entry_points(group=GROUP) if ep.name == "default"]
        if not eps:
            raise SyncActionsMissing(f"no entry point 'default' in group {GROUP!r}: is the "
                                     "package with sync_jobs installed?")
        found = app.extensions[EXTENSION] = eps[0].load()
    return found
