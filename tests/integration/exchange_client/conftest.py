"""Fixtures of the client tests: a real gateway on 127.0.0.1 (SQLite and PostgreSQL) and a client.

The server is the whole app served by werkzeug in a thread (as in tests/integration/exchange);
the client signs for real with a registered Ed25519 key. Everything goes over HTTP.
"""

from __future__ import annotations

import pytest

from tests.integration.exchange import helpers


@pytest.fixture
def server(store_app):
    """The gateway on 127.0.0.1:<free port> over store_app; stopped after the test."""
    live = helpers.LiveServer(store_app)
    yield live
    live.stop()


@pytest.fixture
def city(store_app):
    """A registered client (region 11, read + write everything) with one Ed25519 key."""
    return helpers.register_client(store_app, "city-01")


@pytest.fixture
def key_file(city, tmp_path):
    path = tmp_path / "city.private.pem"
    path.write_bytes(city.private_pem)
    return path
