"""Keep the cyclic garbage collector off the objects every process builds at start.

A worker that has built its app holds hundreds of thousands of long-lived objects (modules,
schemas, compiled validators, SQLAlchemy metadata and mappers). Each full collection walks
them all again, and a push or sync page allocates enough containers to trigger collections
often: 16.8% of a push worker's CPU went to the collector (issue 14). ``gc.freeze()``
after start moves what is alive then to a permanent generation the collector never
scans; what requests allocate is still collected as before. Called once per process,
after the app is built: gunicorn's ``post_worker_init`` hook (gateway/cli/gunicorn_config.py)
and ``vgw sync run`` (sync_jobs/cli.py). Not in long-lived processes at arbitrary moments:
what is frozen is never collected.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_after_startup"]


def freeze_after_startup() -> int:
    """Collect once, then freeze what survives; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
