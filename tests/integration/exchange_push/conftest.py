"""Fixtures of the push tests: a real gateway on 127.0.0.1 over store_app (SQLite and
PostgreSQL) and a registered local system (region 11) with its Ed25519 key."""

from __future__ import annotations

import pytest

from tests.integration.exchange_push import helpers


@pytest.fixture
def seeder(store_app):
    return helpers.Seeder(store_app)
