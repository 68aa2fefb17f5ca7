"""Fixtures of the activities tests: an approved team in 北京市朝阳区 and the callers acting."""

from __future__ import annotations

import pytest

from tests import factories
from tests.integration.activities import helpers


@pytest.fixture
def http(store_app):
    return store_app.test_client()


@pytest.fixture
def team_no(store_app):
    """The approved team of tests.factories (T1101050001, 110105)."""
    return helpers.make_team(store_app, factories.TEAM_NO)


@pytest.fixture
def team(store_app, team_no, caller):
    """Headers of the team's own client: projects and enrolments of its team only."""
    return caller(store_app, "team-client", region="11", perms=helpers.TEAM_PERMS, teams=(team_no,))


@pytest.fixture
def beijing_app(store_app, caller):
    """Headers of a volunteer-facing app in Beijing: it applies and answers for volunteers."""
    return caller(store_app, "beijing-app", region="11", perms=helpers.APP_PERMS)


@pytest.fixture
def guangdong(store_app, caller):
    """Headers of a client scoped to 广东 (44) with every permission there."""
    return caller(store_app, "guangdong", region="44",
                  perms={"*": ["read", "write", "review"]})
