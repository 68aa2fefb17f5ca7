"""Fixtures of the change-feed tests, on store_app (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.conftest import ALL_PERMS


@pytest.fixture
def http(store_app):
    return store_app.test_client()


@pytest.fixture
def admin(store_app, caller):
    """A national client that writes everything (through the services' endpoints)."""
    return caller(store_app, "admin", perms=ALL_PERMS, pii="full")


@pytest.fixture
def beijing(store_app, caller):
    """A local system of Beijing (region 11) that reads every entity, personal data masked."""
    return caller(store_app, "beijing-reader", region="11", perms={"*": ["read"]})
