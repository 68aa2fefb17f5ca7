"""Scheduled syncs with existing local systems, through adapters (gateway/adapter.py).

* :mod:`sync_jobs.sources` — sources in the store (``vgw sources …``) and in a sources file;
* :mod:`sync_jobs.engine` — one run of one source: pull pages into the store, push the change
  feed out, cursors, retries, dead letters, message log, run history;
* :mod:`sync_jobs.locks` — at most one run of a source at a time, across processes;
* :mod:`sync_jobs.dead_letters` — listing, replaying and discarding records that kept failing;
* :mod:`sync_jobs.scheduler` — ``vgw scheduler``: APScheduler in its own process;
* :mod:`sync_jobs.cli` — the ``sources``, ``sync`` and ``scheduler`` commands, registered
  in the ``vgw.commands`` entry-point group (gateway never imports this package by name).

docs/operations.md ("Syncing with local systems") is the operator's guide.
"""
