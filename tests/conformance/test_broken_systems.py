"""The suite can fail: each broken system under test fails exactly the tests aimed at its defect.

Every system is the real gateway app with one defect (tests/conformance/broken/), served over
HTTP on 127.0.0.1 by werkzeug; the whole server role runs against it and the set of tests
that fail must be exactly the module's ``FAILS`` — no more (no collateral failures), no
fewer (the defect is caught) — while every other test passes.
"""

from __future__ import annotations

import contextlib
import importlib

import pytest

from tests.conformance.broken import SERVER_SYSTEMS
from tests.conformance.support import (InProcessGateway, SuiteKey, failures, make_gateway_app,
                                       run_suite, write_config)


@pytest.mark.parametrize("name", SERVER_SYSTEMS)
def test_a_broken_server_fails_exactly_its_targeted_tests(name, sqlite_template, tmp_path):
    broken = importlib.import_module(f"tests.conformance.broken.{name}")
    key = SuiteKey.make(tmp_path / "suite-keys")
    with getattr(broken, "patch", contextlib.nullcontext)():
        app = make_gateway_app(tmp_path / "gateway", sqlite_template, key)
        system = InProcessGateway(app, broken.build(app))
        try:
            result, outcomes = run_suite(write_config(
                tmp_path, system.url, key, schema_version=getattr(broken, "SCHEMA_VERSION", None)))
        finally:
            system.stop()
            app.extensions["store.engine"].dispose()
    failed = failures(outcomes)
    detail = {t.id: (t.outcome.value, t.message) for t in result.tests if t.outcome.value != "pass"}
    assert failed == broken.FAILS, detail
    assert {t for t, o in outcomes.items() if o != "pass"} == broken.FAILS, detail
