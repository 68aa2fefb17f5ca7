"""Fixtures for the zyh365-style adapter: a fresh simulated platform on 127.0.0.1 per test."""

from __future__ import annotations

import pytest

from adapters.zyh365 import Zyh365Adapter
from tests.simulators import zyh365 as sim


@pytest.fixture
def platform():
    """An empty simulated platform (seed it in the test); updatetime advances 1 h per id."""
    return sim.Zyh365Platform(step_seconds=3600)


@pytest.fixture
def base_url(platform):
    with sim.running(platform) as url:
        yield url


@pytest.fixture
def make_adapter(base_url):
    """Build adapters against the running platform: ``make_adapter(page_size=40, ...)``."""
    built = []

    def make(**settings):
        adapter = Zyh365Adapter({"base_url": base_url, "access_key_id": sim.DEFAULT_ACCESS_KEY_ID,
                                 "access_key_secret": sim.DEFAULT_ACCESS_KEY_SECRET, **settings})
        built.append(adapter)
        return adapter

    yield make
    for adapter in built:
        adapter.close()
