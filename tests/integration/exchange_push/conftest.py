"""Fixtures of the push tests: a real gateway on 127.0.0.1 over store_app (SQLite and
PostgreSQL) and a registered local system (region 11) with its Ed25519 key."""

from __future__ import annotations

import pytest

from tests.integration.exchange import helpers as exchange_helpers
from tests.integration.exchange_push import helpers


@pytest.fixture
def server(store_app):
    live = exchange_helpers.LiveServer(store_app)
    yield live
    live.stop()


@pytest.fixture
def city(store_app):
    """city-01: scope region 11 (北京), read and write on every entity."""
    return exchange_helpers.register_client(store_app, "city-01")


@pytest.fixture
def seeder(store_app):
    return helpers.Seeder(store_app)
