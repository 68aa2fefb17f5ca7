"""Fixtures of the hours tests: a seeded world on store_app and the callers acting on it."""

from __future__ import annotations

import pytest

from tests.integration.hours import helpers


@pytest.fixture
def world(store_app):
    """A team (110105) with a project and a volunteer admitted to it."""
    return helpers.seed(store_app)


@pytest.fixture
def http(store_app):
    return store_app.test_client()


@pytest.fixture
def team(store_app, world, caller):
    """Headers of the team's own client: read, write and review on service records, its team only."""
    return caller(store_app, "team-client", region="11", perms=helpers.HOURS_PERMS,
                  teams=(world.team_no,))


@pytest.fixture
def volunteer_app(store_app, caller):
    """Headers of a volunteer-facing app in Beijing: it applies and reports errors."""
    return caller(store_app, "volunteer-app", region="11",
                  perms={"service_record": ["read", "write"]})
