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


def test_a_broken_system_can_be_served_by_hand_and_the_suite_catches_it(tmp_path):
    """docs/conformance.md's way to watch the suite fail: `python -m tests.conformance.broken
    NAME --port P --folder F` serves it and writes F/conformance.toml; `vgw-conformance run`
    against it exits 1 with exactly the module's FAILS failing; Ctrl-C stops it."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.conformance.broken import replay_off
    from tests.conformance.support import BIN, free_port

    root = Path(__file__).resolve().parents[2]
    port = free_port()
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen([sys.executable, "-m", "tests.conformance.broken", "replay_off",
                               "--port", str(port), "--folder", str(tmp_path / "broken")],
                              cwd=root, stdout=log, stderr=subprocess.STDOUT, text=True,
                              env={k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")})
    try:
        deadline = time.monotonic() + 120
        while "serving on" not in (tmp_path / "serve.log").read_text():
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        printed = (tmp_path / "serve.log").read_text()
        assert f"serving on http://127.0.0.1:{port}" in printed
        assert "the tests that must fail: server.signatures.replayed" in printed
        done = subprocess.run([str(BIN / "vgw-conformance"), "run", "--config",
                               str(tmp_path / "broken" / "conformance.toml")],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 1, done.stdout + done.stderr
        failed = {line.split()[1] for line in done.stdout.splitlines() if line.endswith(" fail") or " … fail:" in line}
        assert failed == replay_off.FAILS, done.stdout
    finally:
        server.send_signal(signal.SIGINT)
        try:
            assert server.wait(timeout=30) == 0
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            log.close()
