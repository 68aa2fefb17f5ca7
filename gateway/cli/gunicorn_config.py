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
#: "1" when ``vgw serve`` runs with its access log (with JSON logs, gunicorn's access lines
#: go through the logging configuration below, which must then leave them out itself).
ACCESS_LOG_ENV = "VGW_ACCESS_LOG"

# gunicorn's default access line, plus the request id the gateway answered with.
access_log_format = ('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
                     'request_id=%({x-request-id}o)s')


if os.environ.get("GATEWAY_LOG_FORMAT") == "json":
    # gunicorn's own lines (master and workers) as JSON from the first one; the gateway's
    # lines get their JSON handler on the root logger when the app starts (gateway/logs.py).
    _ACCESS = ["console"] if os.environ.get(ACCESS_LOG_ENV) == "1" else ["discard"]
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "WARNING", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"],
                               "propagate": False, "qualname": "gunicorn.error"},
            "gunicorn.access": {"level": "INFO", "handlers": _ACCESS,
                                "propagate": False, "qualname": "gunicorn.access"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json",
                        "stream": "ext://sys.stdout"},
            "error_console": {"class": "logging.StreamHandler", "formatter": "json",
                              "stream": "ext://sys.stderr"},
            "discard": {"class": "logging.NullHandler"},
        },
        "formatters": {"json": {"()": "gateway.logs.JsonFormatter"}},
    }


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and os.environ.get(TEMPORARY_DIR_ENV) == "1":
        shutil.rmtree(folder, ignore_errors=True)


def post_worker_init(worker):
    """The worker has built its app: keep the collector off everything built so far."""
    from gateway.gc_tuning import freeze

    freeze()  # a worker is always a process of the gateway's own
