"""Memory stays flat: a ~30 MB NDJSON batch is spooled, logged, applied and answered without the
gateway ever holding the body (the server runs in this process; tracemalloc sees every thread)."""

from __future__ import annotations

import gc
import tracemalloc

import orjson
import pytest

from gateway.store.models import Complaint, MessageLog
from tests import factories
from tests.integration.exchange_push import helpers as h

LINE_BYTES = 30_000
LINES = 1_000  # ~30 MB


def _body() -> bytes:
    header = orjson.dumps({"schema_version": "1", "sender": "city-01", "batch_id": "big-1",
                           "generated_at": "2024-05-01T18:00:00+08:00"})
    lines = [header]
    content = "项目已招满但页面仍显示招募中。" * 130  # 1,950 characters (the schema allows 2,000)
    for i in range(LINES):
        record = factories.complaint(team_no=factories.OMIT, project_no=factories.OMIT,
                                     complaint_no=f"BIG-{i:05d}", content=content)
        line = orjson.dumps(h.item("complaint", record))
        lines.append(line + b" " * (LINE_BYTES - len(line)))  # JSON allows trailing blanks
    return b"\n".join(lines) + b"\n"


class _PeakAtLastByte:
    """WSGI middleware: reads the traced peak when the answer's last byte has been handed over.

    Werkzeug's development server (the test server, not what runs in production) drains the
    socket after every answer with ``rfile.read(10_000_000)``, a 10 MB buffer of its own;
    measuring up to the end of the answer leaves that out and keeps everything the gateway does.
    """

    def __init__(self, app):
        self.app, self.peak = app, None

    def __call__(self, environ, start_response):
        result = self.app(environ, start_response)
        try:
            yield from result
            self.peak = tracemalloc.get_traced_memory()[1]
        finally:
            if hasattr(result, "close"):
                result.close()


@pytest.mark.slow
def test_a_30_mb_ndjson_batch_keeps_memory_flat(store_app, server, city):
    body = _body()
    assert len(body) > 29_000_000
    meter = store_app.wsgi_app = _PeakAtLastByte(store_app.wsgi_app)
    gc.collect()
    tracemalloc.start()
    try:
        answer = h.push(server, city, body, timeout=600)
    finally:
        tracemalloc.stop()
    assert answer.status_code == 200, answer.text[:500]
    summary = h.ndjson_lines(answer)[-1]["summary"]
    assert summary["created"] == LINES and summary["rejected"] == 0
    assert h.count(store_app, Complaint) == LINES
    assert h.count(store_app, MessageLog) == 1
    assert meter.peak is not None
    assert meter.peak < len(body) / 3, f"peak traced memory {meter.peak:,} bytes for a {len(body):,}-byte body"
