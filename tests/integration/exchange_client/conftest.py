"""Fixtures of the client tests: a real gateway on 127.0.0.1 (SQLite and PostgreSQL) and a client.

The server is the whole app served by werkzeug in a thread (as in tests/integration/exchange);
the client signs for real with a registered Ed25519 key. Everything goes over HTTP.
"""

from __future__ import annotations

import pytest



@pytest.fixture
def key_file(city, tmp_path):
    path = tmp_path / "city.private.pem"
    path.write_bytes(city.private_pem)
    return path
