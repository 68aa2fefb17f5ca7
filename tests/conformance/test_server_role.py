"""The server role passes against a gateway started the README's way.

``vgw db upgrade`` + ``vgw serve`` (gunicorn, two workers) on a free port in a temporary
instance folder; the suite's client and its Ed25519 public key registered with ``vgw clients
add`` and ``vgw keys add``; then the suite runs through the framework's runner, as
``vgw-conformance run --role server`` does, and every test must pass.
"""

from __future__ import annotations

import json

import pytest

from conformance_tests.registry import load_registry
from tests.conformance.support import ReadmeGateway, SuiteKey, run_suite, write_config


@pytest.fixture(scope="module")
def readme_gateway(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme-gateway")
    key = SuiteKey.make(folder / "suite-keys")
    gateway = ReadmeGateway(folder / "instance", key)
    yield gateway, key, folder
    gateway.stop()


def test_every_server_test_passes_against_a_readme_gateway(readme_gateway):
    gateway, key, folder = readme_gateway
    result, outcomes = run_suite(write_config(folder, gateway.url, key))
    server_tests = {t.id for t in load_registry().tests.values() if t.role == "server"}
    assert set(outcomes) == server_tests
    not_passed = {t.id: (t.outcome.value, t.message, t.observed) for t in result.tests
                  if t.outcome.value != "pass"}
    assert not not_passed, json.dumps(not_passed, ensure_ascii=False, default=str, indent=1)
    # the evidence shows what was sent and what came back
    accepted = next(t for t in result.tests if t.id == "server.push.accepted")
    assert any(e.get("status") == 200 for e in accepted.evidence if isinstance(e, dict))


def test_a_test_without_its_prerequisite_is_skipped_not_failed(readme_gateway, tmp_path):
    """Run one test on its own: its prerequisite runs first (and passes)."""
    gateway, key, _folder = readme_gateway
    result, outcomes = run_suite(write_config(tmp_path, gateway.url, key),
                                 test_id="server.signatures.replayed")
    assert outcomes == {"server.push.accepted": "pass", "server.signatures.replayed": "pass"}


def test_the_body_limit_test_is_skipped_with_a_reason_when_no_limit_is_declared(readme_gateway, tmp_path):
    gateway, key, _folder = readme_gateway
    result, outcomes = run_suite(write_config(tmp_path, gateway.url, key, max_body_bytes=0),
                                 test_id="server.limits.body_too_large")
    (test,) = [t for t in result.tests if t.id == "server.limits.body_too_large"]
    assert test.outcome.value == "skip" and "max_body_bytes" in test.message
