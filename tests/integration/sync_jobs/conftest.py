"""Fixtures for sync runs: a simulated zyh365-style platform on 127.0.0.1, a store app."""

from __future__ import annotations

import pytest

from tests.simulators import zyh365 as sim


@pytest.fixture
def platform():
    """An empty simulated platform (seed it in the test)."""
    return sim.Zyh365Platform(step_seconds=3600)


@pytest.fixture
def base_url(platform):
    with sim.running(platform) as url:
        yield url


@pytest.fixture
def sync_app(store_app):
    """The store app with retries that do not wait (the backoff itself is tenacity's)."""
    store_app.config.update(SYNC_RETRY_BACKOFF_SECONDS=0, SYNC_RETRY_MAX_BACKOFF_SECONDS=0)
    return store_app
