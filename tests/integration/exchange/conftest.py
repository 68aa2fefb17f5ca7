"""Fixtures of the exchange tests: a real server on 127.0.0.1 over store_app (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.integration.exchange import helpers


@pytest.fixture
def server(store_app):
    """The gateway with the test-only routes, served on 127.0.0.1:<free port>; stopped after."""
    store_app.register_blueprint(helpers.blueprint_for_tests())  # before the first request
    store_app.register_blueprint(helpers.signed_blueprint_for_tests())
    live = helpers.LiveServer(store_app)
    yield live
    live.stop()


@pytest.fixture
def city(store_app):
    """A registered client with one Ed25519 key."""
    return helpers.register_client(store_app, "city-01")
