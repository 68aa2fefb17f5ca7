"""Keep the cyclic garbage collector off the objects every process builds at start.

A worker that has built its app holds hundreds of thousands of long-lived objects (modules,
schemas, compiled validators, SQLAlchemy metadata and mappers). Each full collection walks
them all again, and a push or sync page allocates enough containers to trigger collections
often: 16.8% of a push worker's CPU went to the collector (issue 14). ``gc.freeze()``
after start moves what is alive then to a permanent generation the collector never
scans; what requests allocate is still collected as before. Done once per process, after
the app is built: gunicorn's ``post_worker_init`` hook (gateway/cli/gunicorn_config.py,
:func:`freeze`) and ``vgw sync run`` (sync_jobs/cli.py, :func:`freeze_after_startup`). Not
in long-lived processes at arbitrary moments: what is frozen is never collected.

``vgw sync run`` freezes only when it is the process's own command — started as ``vgw``
(:func:`gateway.cli.main` calls :func:`command_process`) — never when a test runner (or
any other host) calls the command inside its own long-lived process: frozen there, the
objects of every later test would stay in memory for good.
"""

from __future__ import annotations

import gc

__all__ = ["command_process", "freeze", "freeze_after_startup"]

_COMMAND_PROCESS = False


def command_process() -> None:
    """Mark this process as a one-shot ``vgw`` command (its console-script entry calls this)."""
    global _COMMAND_PROCESS
    _COMMAND_PROCESS = True


def freeze() -> int:
    """Collect once, then freeze what survives; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def freeze_after_startup() -> int:
    """:func:`freeze` in a ``vgw`` command's own process; elsewhere nothing (0)."""
    return freeze() if _COMMAND_PROCESS else 0
