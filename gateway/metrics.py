"""Prometheus metrics: every metric of the gateway and the scheduler is declared here, once.

Code records what happens through the small functions below (:func:`records`,
:func:`signature_refused`, :func:`push_answered`, :func:`sync_run_finished`), never by
touching a metric object or a name string of its own. ``GET /metrics`` answers the
Prometheus text format (prometheus-client), to the addresses METRICS_ALLOW lists only.

Names follow Prometheus's conventions: the ``vgw_`` prefix, base units (``_seconds``),
``_total`` on counters. Labels are bounded sets, never personal data or a client's free
text: ``channel`` (push / sync_pull / sync_push), ``source`` (a registered client id or a
configured source name), ``entity`` (an entity of the standard, else ``other``),
``outcome`` (created / updated / unchanged / deleted / rejected / written), ``rule`` (a
stable rule id, docs/rules.md), ``problem`` (a signature problem slug, docs/protocol.md).
No batch id, record id or number ever becomes a label.

Several processes. ``vgw serve`` sets PROMETHEUS_MULTIPROC_DIR before gunicorn starts (see
gateway/cli/gunicorn_config.py): every worker then writes its values to files there and a
scrape adds up every worker's files (prometheus-client's multiprocess mode), so the answer
does not depend on the worker that serves it. ``vgw scheduler`` is its own process and
serves its own /metrics on SCHEDULER_METRICS_PORT (:func:`serve_in_thread`).

Two values are read from the store at scrape time (:class:`StoreCollector`, gateway only):
the time of each source's last successful run and the dead letters waiting per source.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socketserver
import threading
import time
from typing import Any, Iterable, Mapping
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter,
                               Histogram, generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["ENTITIES", "StoreCollector", "allowed", "init_app", "multiprocess_dir", "push_answered",
           "records", "render", "serve_in_thread", "signature_refused", "sync_run_finished"]

log = logging.getLogger("gateway.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# -- the metrics (the one place they are declared) ---------------------------------------------

RECORDS = Counter(
    "vgw_records", "Records ingested or sent, by channel, source, entity and outcome; counted "
    "once their transaction has committed.", ["channel", "source", "entity", "outcome"])
REJECTIONS = Counter(
    "vgw_rejections", "Rejected records by the rule they broke (a record breaking several "
    "rules counts once under each).", ["channel", "source", "entity", "rule"])
SIGNATURE_REFUSALS = Counter(
    "vgw_signature_refusals", "Requests refused with 401, by problem type (/problems/<problem>).",
    ["problem"])
PUSH_DURATION = Histogram(
    "vgw_push_duration_seconds", "Time from receiving a push (POST /api/v1/exchange/batches) to "
    "its answer being ready, by result (done, replayed, refused).", ["result"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600))
SYNC_RUNS = Counter(
    "vgw_sync_runs", "Finished sync runs by source, direction and status (succeeded, partial, "
    "failed, interrupted).", ["source", "direction", "status"])
SYNC_RUN_DURATION = Histogram(
    "vgw_sync_run_duration_seconds", "Duration of finished sync runs.", ["source", "direction"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600))

#: Entities of the standard (schemas/v1); anything else is counted as ``other``.
ENTITIES = frozenset({"volunteer", "team", "project", "service_record", "enrollment", "training",
                      "commendation", "evaluation", "complaint", "certificate"})
OUTCOMES = frozenset({"created", "updated", "unchanged", "deleted", "rejected", "written"})
CHANNELS = frozenset({"push", "sync_pull", "sync_push"})
_RULE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def _entity(value: Any) -> str:
    return value if isinstance(value, str) and value in ENTITIES else "other"


def _rule(value: Any) -> str:
    return value if isinstance(value, str) and _RULE.match(value) else "other"


def _name(value: Any) -> str:
    """A client id or source name (registered by an operator, so a bounded set)."""
    return value if isinstance(value, str) and _NAME.match(value) else "other"


# -- recording ----------------------------------------------------------------------------------

def records(channel: str, source: str, outcomes: Iterable[tuple[Any, str, Iterable[Any]]]) -> None:
    """Count committed records: ``outcomes`` holds ``(entity, outcome, rule ids)`` per record
    (the rule ids of a rejected record; duplicates count once)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    source = _name(source)
    counts: dict[tuple[str, str], int] = {}
    rules: dict[tuple[str, str], int] = {}
    for entity, outcome, rule_ids in outcomes:
        entity = _entity(entity)
        outcome = outcome if outcome in OUTCOMES else "rejected"
        counts[entity, outcome] = counts.get((entity, outcome), 0) + 1
        for rule in {_rule(r) for r in rule_ids}:
            rules[entity, rule] = rules.get((entity, rule), 0) + 1
    for (entity, outcome), n in counts.items():
        RECORDS.labels(channel, source, entity, outcome).inc(n)
    for (entity, rule), n in rules.items():
        REJECTIONS.labels(channel, source, entity, rule).inc(n)


def signature_refused(problem: str) -> None:
    """A request refused with 401 ``/problems/<problem>``."""
    SIGNATURE_REFUSALS.labels(_rule(problem)).inc()


def push_answered(result: str, seconds: float) -> None:
    """A push answered: ``result`` is done, replayed or refused."""
    PUSH_DURATION.labels(result if result in ("done", "replayed") else "refused").observe(seconds)


def sync_run_finished(source: str, direction: str, status: str, seconds: float) -> None:
    source, direction = _name(source), direction if direction in ("pull", "push") else "other"
    SYNC_RUNS.labels(source, direction, _rule(status)).inc()
    SYNC_RUN_DURATION.labels(source, direction).observe(max(0.0, seconds))


# -- values read from the store at scrape time ----------------------------------------------------

class StoreCollector(Collector):
    """The time of each source's last successful run, dead letters waiting, read when scraped.

    A run that succeeded or ended ``partial`` (some records dead-lettered, the rest applied)
    counts as a success. If the store does not answer, ``vgw_store_up`` is 0 and the two
    families are left out of this scrape.
    """

    def __init__(self, sessions: Any):
        self.sessions = sessions

    def collect(self):
        from sqlalchemy import func, select

        from gateway.store.models import DeadLetter, SyncRun, SyncSource

        up = GaugeMetricFamily("vgw_store_up", "1 if the store answered this scrape's queries.")
        last = GaugeMetricFamily(
            "vgw_sync_last_success_timestamp_seconds", "When each source's last successful "
            "(succeeded or partial) run finished, Unix time.", labels=["source", "direction"])
        waiting = GaugeMetricFamily("vgw_dead_letters_pending",
                                    "Dead letters waiting for replay or discard, per source.",
                                    labels=["source"])
        try:
            with self.sessions() as session:
                successes = session.execute(
                    select(SyncSource.name, SyncRun.direction, func.max(SyncRun.finished_at))
                    .join(SyncRun, SyncRun.source_id == SyncSource.id)
                    .where(SyncRun.status.in_(("succeeded", "partial")))
                    .group_by(SyncSource.name, SyncRun.direction)).all()
                pending = session.execute(
                    select(SyncSource.name, func.count(DeadLetter.id))
                    .outerjoin(DeadLetter, (DeadLetter.source_id == SyncSource.id)
                               & (DeadLetter.status == "pending"))
                    .group_by(SyncSource.name)).all()
        except Exception:  # noqa: BLE001 - a scrape must answer even when the store does not
            log.warning("metrics: the store did not answer the scrape's queries", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for name, direction, finished in successes:
            if finished is not None:
                last.add_metric([_name(name), direction], _unix(finished))
        for name, count in pending:
            waiting.add_metric([_name(name)], count)
        yield up
        yield last
        yield waiting


def _unix(moment) -> float:
    import datetime as dt

    if moment.tzinfo is None:  # stored as UTC without an offset (SQLite)
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


class _ThisProcess(Collector):
    """This process's own registry (not multiprocess mode: tests, the scheduler)."""

    def collect(self):
        return REGISTRY.collect()


def multiprocess_dir() -> str | None:
    """The multiprocess folder when this process runs in prometheus-client's multiprocess mode."""
    return os.environ.get(MULTIPROC_ENV) or None


def render(extra: Iterable[Collector] = ()) -> bytes:
    """The text exposition: every worker's values (multiprocess mode) or this process's, then
    ``extra`` collectors."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


# -- who may read them ------------------------------------------------------------------------

def networks(setting: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(part.strip(), strict=False)
            for part in setting.split(",") if part.strip()]


def allowed(address: str | None, allow: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Whether ``address`` (the client address) falls in one of the ``allow`` networks."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in allow)


_REFUSED = {"type": "/problems/metrics-not-allowed", "title": "Metrics not allowed",
            "status": 403, "detail": "this address may not read /metrics (setting METRICS_ALLOW)"}


# -- the gateway's /metrics -----------------------------------------------------------------------

def init_app(app) -> None:
    """``GET /metrics``, for the addresses METRICS_ALLOW lists (after PROXY_FIX)."""
    from flask import Response, request

    from gateway.errors import Problem, problem_response

    allow = networks(app.config["METRICS_ALLOW"])
    store = StoreCollector(app.extensions["store.sessionmaker"])

    def metrics_view():
        if not allowed(request.remote_addr, allow):
            return problem_response(Problem(403, "metrics-not-allowed", _REFUSED["title"],
                                            _REFUSED["detail"]))
        return Response(render([store]), mimetype=None, content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])


# -- the scheduler's /metrics -----------------------------------------------------------------------

class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass


def wsgi_app(allow_setting: str, extra: Iterable[Collector] = ()):
    """A WSGI app answering ``GET /metrics`` (this process's values) to allowed addresses."""
    import json

    allow = networks(allow_setting)
    extra = list(extra)

    def app(environ: Mapping[str, Any], start_response):
        if not allowed(environ.get("REMOTE_ADDR"), allow):
            body = json.dumps(_REFUSED).encode()
            start_response("403 Forbidden", [("Content-Type", "application/problem+json"),
                                             ("Content-Length", str(len(body)))])
            return [body]
        if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") != "GET":
            body = json.dumps({"type": "/problems/not-found", "title": "Not Found",
                               "status": 404}).encode()
            start_response("404 Not Found", [("Content-Type", "application/problem+json"),
                                             ("Content-Length", str(len(body)))])
            return [body]
        body = render(extra)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return app


def serve_in_thread(host: str, port: int, allow_setting: str) -> tuple[Any, threading.Thread]:
    """Serve this process's /metrics on ``host:port`` from a daemon thread: (server, thread).
    ``server.shutdown()`` stops it."""
    server = make_server(host, port, wsgi_app(allow_setting), server_class=_Server,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="vgw-metrics", daemon=True)
    thread.start()
    log.info("metrics: serving /metrics on http://%s:%d", host, server.server_port)
    return server, thread


def elapsed(started: float) -> float:
    """Seconds since ``started`` (a :func:`time.perf_counter` value)."""
    return time.perf_counter() - started
