"""Fixtures of the exchange tests: a real server on 127.0.0.1 over store_app (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.integration.exchange import helpers


@pytest.fixture
def live_blueprints():
    """The test-only routes, registered by the shared ``server`` fixture (tests/conftest.py)."""
    return [helpers.blueprint_for_tests(), helpers.signed_blueprint_for_tests()]
