"""Fixtures of the standard adapter's tests: remote gateways on 127.0.0.1 and their clients.

``remote`` serves ``store_app`` (so each test runs once on SQLite and once on PostgreSQL);
``remote_sqlite`` is another gateway on a SQLite file of its own — for tests where the store
does not matter (signatures, transport) and as the second gateway of a two-gateway test
(the ``app`` fixture cannot be that: on SQLite it shares ``store_app``'s file).
"""

from __future__ import annotations

import shutil

import pytest

from gateway import create_app
from tests.integration.adapters_standard.support import Remote


@pytest.fixture
def remote(store_app):
    gateway = Remote(store_app)
    yield gateway
    gateway.stop()


@pytest.fixture
def remote_sqlite(sqlite_template, tmp_path):
    path = tmp_path / "remote.sqlite3"
    shutil.copy(sqlite_template, path)
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}",
                      "KEYS_DIR": str(tmp_path / "remote-keys"), "DEV_TOKENS": True})
    gateway = Remote(app)
    yield gateway
    gateway.stop()
    app.extensions["store.engine"].dispose()


@pytest.fixture
def adapters():
    """Build adapters that are closed after the test: ``adapters(remote, keys, **settings)``."""
    built = []

    def make(gateway: Remote, keys, **settings):
        adapter = gateway.adapter(keys, **settings)
        built.append(adapter)
        return adapter

    yield make
    for adapter in built:
        adapter.close()
