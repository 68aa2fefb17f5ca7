"""JSON log lines (gateway/logs.py): the context fields, and no personal data in any field."""

from __future__ import annotations

import io
import json
import logging

from gateway import logs
from gateway.privacy import PiiLogFilter, install_log_filter
from tests import factories
from tests.conftest import known_personal_data, make_caller

MOBILE = "13800138000"  # tests/factories.py's mobile number


def _capture() -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs._Stamp())
    logger = logging.getLogger("gateway.test_json_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    install_log_filter()  # the privacy filter on gateway.* loggers, as in production
    return logger, stream, handler


def test_json_lines_carry_the_context_and_mask_personal_data(app):
    logger, stream, handler = _capture()
    assert any(isinstance(f, PiiLogFilter) for f in logger.filters)
    try:
        with app.test_request_context("/api/v1/exchange/batches", method="POST"):
            logs.reset(request_id="req-42")
            logs.bind(batch_id=f"b-{factories.CITIZEN_ID}", client_id="city-01")
            logger.info("volunteer %s with mobile %s", factories.CITIZEN_ID, MOBILE)
            try:
                raise ValueError(f"bad number {factories.MINOR_CITIZEN_ID}")
            except ValueError:
                logger.exception("failed for %s", MOBILE)
        logs.reset()
        logger.info("outside any request")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    first, failed, outside = lines
    assert (first["request_id"], first["client_id"]) == ("req-42", "city-01")
    assert first["batch_id"].startswith("b-110105") and "*" in first["batch_id"]
    assert first["message"] == "volunteer 110105********002X with mobile 138****8000"
    assert failed["level"] == "ERROR" and "ValueError" in failed["exception"]
    assert "request_id" not in outside and outside["logger"] == "gateway.test_json_logs"
    for secret in known_personal_data():
        assert secret not in text


def test_the_client_id_comes_from_the_authenticated_caller(app):
    """Without an explicit bind, the client id is the request's authenticated caller."""
    logger, stream, handler = _capture()
    headers = make_caller(app, "city-07", perms={"*": ["read"]})

    @app.get("/_test/log-me")
    def log_me():
        from gateway.api.auth import current_caller

        current_caller()
        logger.info("inside")
        return {}

    try:
        answer = app.test_client().get("/_test/log-me", headers={**headers, "X-Request-Id": "abc-1"})
    finally:
        logger.removeHandler(handler)
    assert answer.headers["X-Request-Id"] == "abc-1"
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert (line["request_id"], line["client_id"]) == ("abc-1", "city-07")
