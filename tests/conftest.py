"""Fixtures shared by every test: ``app``, ``client``, ``runner`` and the store backends.

``app`` runs on a fresh, migrated SQLite file. ``store_app`` is parametrised over SQLite and
PostgreSQL: every store test runs on both. PostgreSQL is found at GATEWAY_TEST_PG_URL
(default: postgres@127.0.0.1:5432); when it is unreachable the PostgreSQL half is skipped,
except with CI=true, where it fails.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gateway import create_app, store
from tests import factories, logcheck

PG_ADMIN_URL = os.environ.get("GATEWAY_TEST_PG_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


_KEYS_DIR: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _keys_dir(tmp_path_factory):
    """Keep the keys generated during tests out of the working tree's instance folder."""
    _KEYS_DIR.append(str(tmp_path_factory.mktemp("keys")))
    yield
    _KEYS_DIR.clear()


def _make_app(database_url: str, **overrides):
    if not database_url.startswith("sqlite"):
        # A SQLite store keeps its rate-limit counters beside its file; PostgreSQL's would go
        # to the working tree's instance folder, shared by every test: give each its own.
        overrides.setdefault("RATELIMIT_STORAGE_URI", f"vgw+sqlite:///{_KEYS_DIR[0]}/"
                                                      f"ratelimits-{uuid.uuid4().hex}.sqlite3")
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "KEYS_DIR": _KEYS_DIR[0],
                       "DEV_TOKENS": True, **overrides})


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, copied for each test (much faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    app = _make_app(f"sqlite:///{path}")
    store.upgrade(app)
    app.extensions["store.engine"].dispose()
    return path


@pytest.fixture(scope="session")
def pg_database():
    """A throw-away PostgreSQL database for this test session (per xdist worker), migrated."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connection failure means "no PostgreSQL here"
        admin.dispose()
        message = f"PostgreSQL not reachable at {make_url(PG_ADMIN_URL).render_as_string()}: {exc}"
        if IN_CI:
            pytest.fail(message + " (CI=true requires it)")
        pytest.skip(message)
    name = f"vgw_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    app = _make_app(url)
    store.upgrade(app)
    app.extensions["store.engine"].dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(app) -> None:
    from gateway.store.base import Base

    tables = [t.name for t in Base.metadata.sorted_tables if t.name != "gateway_meta"]
    if not tables:
        return
    with app.extensions["store.engine"].begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))


@pytest.fixture
def app(sqlite_template, tmp_path):
    """The gateway on a fresh, migrated SQLite store."""
    path = tmp_path / "store.sqlite3"
    shutil.copy(sqlite_template, path)
    app = _make_app(f"sqlite:///{path}")
    yield app
    app.extensions["store.engine"].dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_app(request, sqlite_template, tmp_path):
    """The gateway on a fresh, migrated store: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "store.sqlite3"
        shutil.copy(sqlite_template, path)
        app = _make_app(f"sqlite:///{path}")
        yield app
        app.extensions["store.engine"].dispose()
        return
    app = _make_app(request.getfixturevalue("pg_database"))
    _truncate_all(app)
    yield app
    _truncate_all(app)
    app.extensions["store.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_caller(app, client_id: str = "test-client", *, region: str = "",
                perms: dict[str, list[str]] | None = None, teams=(), pii: str = "masked") -> dict[str, str]:
    """Register a client with a dev token; returns the headers that authenticate as it."""
    from gateway.services.clients import create_client, issue_dev_token

    with store.session_scope(app) as session:
        client = create_client(session, client_id, client_id, region_prefix=region,
                                      team_nos=teams, permissions=perms or {}, pii_access=pii)
        token = issue_dev_token(session, client)
    return {"Authorization": f"Bearer {token}"}


ALL_PERMS = {"*": ["read", "write", "review"]}


# -- a real gateway on 127.0.0.1 and a client that signs for real (defined once) --------------

@pytest.fixture
def live_blueprints():
    """Extra blueprints the ``server`` fixture registers first (tests/integration/exchange adds
    its test-only routes by overriding this)."""
    return []


@pytest.fixture
def server(store_app, live_blueprints):
    """The gateway on 127.0.0.1:<free port> over store_app (werkzeug in a thread); stopped after."""
    from tests.integration.exchange.helpers import LiveServer

    for blueprint in live_blueprints:
        store_app.register_blueprint(blueprint)  # before the first request
    live = LiveServer(store_app)
    yield live
    live.stop()


@pytest.fixture
def city(store_app):
    """city-01: scope region 11 (北京), read and write on every entity, one Ed25519 key."""
    from tests.integration.exchange.helpers import register_client

    return register_client(store_app, "city-01")


@pytest.fixture
def caller():
    """Factory: ``caller(app, client_id, region=..., perms=...)`` -> auth headers."""
    return make_caller


# -- personal data never reaches a log: checked over the logs of the whole run -----------------

LOG_DIR = Path(__file__).resolve().parents[1] / "build" / "test-logs"


def known_personal_data() -> set[str]:
    """Every citizen ID and mobile number the tests use (tests/logcheck.py): the literals
    written in any test module, and every number tests/factories.py generated in any process
    of this run."""
    return logcheck.known_personal_data(LOG_DIR)


def pytest_configure(config):
    """Each process (controller and every xdist worker) logs everything to its own file."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if worker == "main":  # the controller starts first: drop files of earlier runs
        for stale in [*LOG_DIR.glob("*.log"), *LOG_DIR.glob("*.numbers")]:
            stale.unlink(missing_ok=True)
    handler = logging.FileHandler(LOG_DIR / f"{worker}.log", mode="w", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)


def pytest_sessionfinish(session, exitstatus):
    """After the whole run, fail it if any known ID or mobile number appears in any log."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:  # the controller finishes last and reads what each worker generated
        (LOG_DIR / f"{worker}.numbers").write_text("\n".join(sorted(factories.GENERATED)),
                                                   encoding="utf-8")
        return
    for handler in logging.getLogger().handlers:
        handler.flush()
    secrets_ = known_personal_data()
    leaks = logcheck.find_leaks(LOG_DIR, secrets_)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    size = logcheck.logged_bytes(LOG_DIR)
    if leaks:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"PERSONAL DATA IN TEST LOGS ({LOG_DIR}): {leaks}", red=True)
    elif reporter:
        reporter.write_line(f"log check: {len(secrets_)} known ID/mobile numbers, none in "
                            f"{size:,} bytes of test logs ({LOG_DIR})")
