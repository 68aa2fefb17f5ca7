"""gunicorn's settings under ``vgw serve`` (``--config python:gateway.cli.gunicorn_config``).

prometheus-client's multiprocess mode, as its documentation sets it up: ``vgw serve`` puts
PROMETHEUS_MULTIPROC_DIR in the environment (a wiped or new folder) before gunicorn starts,
so every worker writes its metric values to files there; when a worker exits,
:func:`child_exit` marks it dead (its live gauges are dropped; its counters stay, so totals
never go backwards). A temporary folder made by ``vgw serve`` is removed when gunicorn stops.
"""

import os
import shutil

from prometheus_client import multiprocess

#: Set by ``vgw serve`` when it made the multiprocess folder itself (removed on exit).
TEMPORARY_DIR_ENV = "VGW_METRICS_DIR_TEMPORARY"

# gunicorn's default access line, plus the request id the gateway answered with.
access_log_format = ('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
                     'request_id=%({x-request-id}o)s')


def on_starting(server):
    """JSON lines from the master too when LOG_FORMAT is json (``vgw serve`` passes it on)."""
    if os.environ.get("GATEWAY_LOG_FORMAT") == "json":
        from gateway import logs

        logs.configure("json")


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and os.environ.get(TEMPORARY_DIR_ENV) == "1":
        shutil.rmtree(folder, ignore_errors=True)
