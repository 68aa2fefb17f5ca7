"""The server role passes against a gateway started the README's way.

``vgw db upgrade`` + ``vgw serve`` (gunicorn, two workers) on a free port in a temporary
instance folder; the suite's client and its Ed25519 public key registered with ``vgw clients
add`` and ``vgw keys add``; then the suite runs through the framework's runner, as
``vgw-conformance run --role server`` does, and every test must pass.
"""

from __future__ import annotations

import contextlib
import json
import secrets

import pytest

from conformance_tests.registry import load_registry
from tests.conformance.support import ReadmeGateway, SuiteKey, run_suite, write_config


@contextlib.contextmanager
def fresh_postgres_database():
    """An empty PostgreSQL database (``vgw db upgrade`` migrates it), dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tests.conftest import IN_CI, PG_ADMIN_URL

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connection failure means "no PostgreSQL here"
        admin.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL not reachable: {exc} (CI=true requires it)")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"conformance_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# SQLite with an Ed25519 key (the README's defaults), PostgreSQL with an ECDSA P-256 key
SYSTEMS = [pytest.param(("sqlite", "ed25519"), id="sqlite-ed25519"),
           pytest.param(("postgresql", "ecdsa-p256-sha256"), id="postgresql-p256",
                        marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=SYSTEMS)
def readme_gateway(request, tmp_path_factory):
    store, algorithm = request.param
    folder = tmp_path_factory.mktemp(f"readme-gateway-{store}")
    key = SuiteKey.make(folder / "suite-keys", algorithm=algorithm)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if store == "postgresql" else None
        gateway = ReadmeGateway(folder / "instance", key, database_url=url)
        stack.callback(gateway.stop)
        yield gateway, key, folder, algorithm


def test_every_server_test_passes_against_a_readme_gateway(readme_gateway):
    gateway, key, folder, algorithm = readme_gateway
    result, outcomes = run_suite(write_config(folder, gateway.url, key, algorithm=algorithm))
    server_tests = {t.id for t in load_registry().tests.values() if t.role == "server"}
    assert set(outcomes) == server_tests
    not_passed = {t.id: (t.outcome.value, t.message, t.observed) for t in result.tests
                  if t.outcome.value != "pass"}
    assert not not_passed, json.dumps(not_passed, ensure_ascii=False, default=str, indent=1)
    # the evidence shows what was sent and what came back
    accepted = next(t for t in result.tests if t.id == "server.push.accepted")
    assert any(e.get("status") == 200 for e in accepted.evidence if isinstance(e, dict))


def test_every_server_test_passes_in_schema_version_2_and_the_report_says_so(readme_gateway,
                                                                           tmp_path):
    """The same gateway, the suite run with ``[server] schema_version = "2"``: every feed read
    asks ``?schema_version=2`` (the evidence shows it), the records are checked against
    schemas/v2, and results.json names the version tested."""
    gateway, key, _folder, algorithm = readme_gateway
    result, outcomes = run_suite(write_config(tmp_path, gateway.url, key, algorithm=algorithm,
                                              schema_version="2"))
    not_passed = {t.id: (t.outcome.value, t.message, t.observed) for t in result.tests
                  if t.outcome.value != "pass"}
    assert not not_passed, json.dumps(not_passed, ensure_ascii=False, default=str, indent=1)
    assert result.to_dict()["schema_version"] == "2"
    (check,) = [t for t in result.tests if t.id == "server.feed.schema_version"]
    feed_reads = [e["url"] for e in check.evidence if isinstance(e, dict)
                  and "/exchange/changes" in e.get("url", "")]
    assert feed_reads and all("schema_version=2" in url for url in feed_reads), feed_reads
    # and in version 1 (the default) the feed is read without a version
    result, _ = run_suite(write_config(tmp_path, gateway.url, key, algorithm=algorithm),
                          test_id="server.feed.schema_version")
    (check,) = [t for t in result.tests if t.id == "server.feed.schema_version"]
    assert check.outcome.value == "pass" and result.to_dict()["schema_version"] == "1"
    feed_reads = [e["url"] for e in check.evidence if isinstance(e, dict)
                  and "/exchange/changes" in e.get("url", "")]
    assert feed_reads and not any("schema_version" in url for url in feed_reads), feed_reads


def test_a_test_without_its_prerequisite_is_skipped_not_failed(readme_gateway, tmp_path):
    """Run one test on its own: its prerequisite runs first (and passes)."""
    gateway, key, _folder, algorithm = readme_gateway
    result, outcomes = run_suite(write_config(tmp_path, gateway.url, key, algorithm=algorithm),
                                 test_id="server.signatures.replayed")
    assert outcomes == {"server.push.accepted": "pass", "server.signatures.replayed": "pass"}


def test_the_body_limit_test_is_skipped_with_a_reason_when_no_limit_is_declared(readme_gateway, tmp_path):
    gateway, key, _folder, algorithm = readme_gateway
    result, outcomes = run_suite(write_config(tmp_path, gateway.url, key, algorithm=algorithm,
                                              max_body_bytes=0),
                                 test_id="server.limits.body_too_large")
    (test,) = [t for t in result.tests if t.id == "server.limits.body_too_large"]
    assert test.outcome.value == "skip" and "max_body_bytes" in test.message
