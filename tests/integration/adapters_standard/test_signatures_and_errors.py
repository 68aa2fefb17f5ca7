"""The standard adapter's trust and failure handling, against a real remote gateway.

Answers that do not verify are refused (never read), a remote that cannot be reached or
fails in transport is "unavailable" (retried later by the sync job), and a refusal of the
whole request is permanent with the remote's problem type. The store does not matter here,
so the remote runs on SQLite only.
"""

from __future__ import annotations

import socket

import pytest
import requests
from flask import Flask

from adapters.standard import RemoteError, RemoteUnavailable, StandardAdapter
from gateway.adapter import AdapterError, AdapterUnavailable, load_adapter
from tests.integration.adapters_standard.support import Tampering, sample_records
from tests.integration.exchange import helpers
from tests.integration.exchange_client.support import other_jwks


@pytest.fixture
def county(remote_sqlite):
    """The remote with one volunteer in it, written by this adapter's client (which reads
    it back with read_own_writes: by default a read leaves out what the client wrote)."""
    keys = remote_sqlite.register("county-gw")
    with remote_sqlite.adapter(keys) as adapter:
        assert adapter.write("volunteer", sample_records()["volunteer"][:1])[0].ok
    return keys


@pytest.mark.parametrize("how", ["body", "unsigned"])
def test_a_tampered_or_unsigned_answer_is_refused(remote_sqlite, county, how):
    session = Tampering(how)
    with StandardAdapter(remote_sqlite.settings(county), http=session) as adapter:
        with pytest.raises(RemoteError) as info:
            adapter.read("volunteer", None, 10)
        assert not isinstance(info.value, AdapterUnavailable)    # not worth retrying as is
        assert "does not verify" in str(info.value)
        check = adapter.check()
        assert check.ok is False and "does not verify" in check.detail
        # A push answer is verified too (the batch was stored: a retry would be idempotent).
        with pytest.raises(RemoteError):
            adapter.write("volunteer", sample_records()["volunteer"][1:2])
    assert session.tampered == 3


def test_without_verification_a_tampered_answer_is_read(remote_sqlite, county):
    """gateway_jwks = null turns verification off: for tests only, as the settings say."""
    with StandardAdapter(remote_sqlite.settings(county, gateway_jwks=None, read_own_writes=True),
                         http=Tampering("body")) as adapter:
        assert len(adapter.read("volunteer", None, 10).items) == 1
        assert "NOT verified" in adapter.check().detail


def test_answers_are_verified_against_the_jwk_set_given(remote_sqlite, county):
    jwks = requests.get(remote_sqlite.url + "/.well-known/jwks.json", timeout=10).json()
    with remote_sqlite.adapter(county, gateway_jwks=jwks, read_own_writes=True) as adapter:
        assert len(adapter.read("volunteer", None, 10).items) == 1
    impostor = other_jwks(jwks["keys"][0]["kid"])      # another key under the gateway's kid
    with remote_sqlite.adapter(county, gateway_jwks=impostor) as adapter:
        with pytest.raises(RemoteError, match="does not verify"):
            adapter.read("volunteer", None, 10)


def _dead_url() -> str:
    """An address on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_remote_that_cannot_be_reached_is_unavailable(remote_sqlite, county):
    settings = {**remote_sqlite.settings(county), "base_url": _dead_url(), "retries": 1}
    with StandardAdapter(settings) as adapter:
        with pytest.raises(RemoteUnavailable):
            adapter.read("volunteer", None, 10)
        with pytest.raises(AdapterUnavailable):
            adapter.write("volunteer", sample_records()["volunteer"][:1])
        assert adapter.check().ok is False


def test_a_server_error_is_unavailable(remote_sqlite, county):
    failing = Flask("failing")

    @failing.route("/<path:anything>", methods=["GET", "POST"])
    def down(anything):
        return ({"type": "/problems/internal-error", "title": "Internal error",
                 "detail": "the database is down"}, 503, {"Content-Type": "application/problem+json"})

    server = helpers.LiveServer(failing)
    try:
        settings = {**remote_sqlite.settings(county), "base_url": server.url, "retries": 1,
                    "gateway_jwks": None}
        with StandardAdapter(settings) as adapter:
            with pytest.raises(RemoteUnavailable) as info:
                adapter.read("volunteer", None, 10)
            assert (info.value.status, info.value.type) == (503, "/problems/internal-error")
            with pytest.raises(RemoteUnavailable):
                adapter.write("volunteer", sample_records()["volunteer"][:1])
    finally:
        server.stop()


def test_a_refused_request_is_permanent_with_the_problem_type(remote_sqlite, county):
    with remote_sqlite.adapter(county) as adapter:
        with pytest.raises(RemoteError) as info:        # the feed does not publish trainings
            adapter.read("training", None, 10)
        assert info.value.status == 422 and not isinstance(info.value, AdapterUnavailable)

        helpers.revoke(remote_sqlite.app, county.key_id)
        for call in (lambda: adapter.read("volunteer", None, 10),
                     lambda: adapter.write("volunteer", sample_records()["volunteer"][1:2])):
            with pytest.raises(RemoteError) as info:
                call()
            assert not isinstance(info.value, AdapterUnavailable)
            assert (info.value.status, info.value.type) == (401, "/problems/signature-revoked-key")
            assert info.value.detail
        check = adapter.check()
        assert check.ok is False and "signature-revoked-key" in check.detail


def test_check_passes_for_a_client_that_only_writes(remote_sqlite):
    keys = remote_sqlite.register("uplink", permissions={"volunteer": ["write"]})
    with remote_sqlite.adapter(keys) as adapter:
        check = adapter.check()
        assert check.ok is True and "writes only" in check.detail
        assert adapter.write("volunteer", sample_records()["volunteer"][:1])[0].ok


def test_built_by_name_with_a_key_file_and_limited_entities(remote_sqlite, county, tmp_path):
    key_file = tmp_path / "county.private.pem"
    key_file.write_bytes(county.private_pem)
    key_file.chmod(0o600)
    settings = {**remote_sqlite.settings(county, read_own_writes=True),
                "entities": ["volunteer", "team"]}
    del settings["private_key_pem"]
    adapter = load_adapter("standard", {**settings, "private_key_file": str(key_file)})
    with adapter:
        assert isinstance(adapter, StandardAdapter)
        assert adapter.check().ok
        assert len(adapter.read("volunteer", None, 10).items) == 1
        with pytest.raises(AdapterError, match="not among this source's entities"):
            adapter.read("project", None, 10)
        with pytest.raises(AdapterError, match="not among this source's entities"):
            adapter.write("service_record", [])

