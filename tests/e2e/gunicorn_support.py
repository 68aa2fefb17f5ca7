"""A real gateway under gunicorn for the end-to-end tests (``vgw serve``).

The one helper lives in benchmarks/gunicorn_server.py (the benchmarks start gunicorn the
same way); the tests import it from here. Give it the environment of
:func:`tests.e2e.sync_support.child_env` to serve the test app's store and keys.
"""

from __future__ import annotations

from benchmarks.gunicorn_server import Gunicorn

__all__ = ["Gunicorn"]
