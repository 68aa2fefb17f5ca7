"""The central store's plumbing: one SQLAlchemy engine and session factory per app.

SQLite (a file in the instance folder) is the embedded default; PostgreSQL is the
production store. Schema changes go through Alembic (``vgw db upgrade``).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.base import Base

__all__ = ["Base", "init_app", "make_engine", "get_session", "session_scope", "upgrade",
           "connection_lost", "unavailable"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def connection_lost(exc: BaseException) -> bool:
    """Did ``exc`` come from the connection to the store being cut (the server stopped or
    restarting, the network gone)? SQLAlchemy recognised it as a disconnect and invalidated
    the connection: nothing more can be done in this transaction, so callers that would
    otherwise treat a database error as one record's refusal must let it through."""
    from sqlalchemy.exc import DBAPIError

    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def unavailable(exc: BaseException) -> bool:
    """Is ``exc`` the store being out of reach for now, rather than a defect? A lost
    connection, a refused one, the server shutting down, a lock or deadlock timeout
    (SQLAlchemy's OperationalError) or a connection already closed (InterfaceError). The
    HTTP API answers these 503 ``store-unavailable``; sync runs fail and resume."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError)) or connection_lost(exc)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers run beside one writer.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create an engine for ``url``, with SQLite made safe for a multi-threaded web server."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    """Attach an engine and a session factory to the app; close the request's session after it."""
    engine = make_engine(app.config["DATABASE_URL"], echo=app.config["SQL_ECHO"])
    app.extensions["store.engine"] = engine
    app.extensions["store.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def get_session() -> Session:
    """The session of the current app context, opened on first use."""
    if "store_session" not in g:
        g.store_session = current_app.extensions["store.sessionmaker"]()
    return g.store_session


def _close_session(_exc: BaseException | None) -> None:
    end_request_session()


def end_request_session() -> None:
    """Close the request's session now, what it left uncommitted rolled back (as at the
    request's end): for work after the answer is made that writes on a connection of its
    own, which on SQLite would otherwise wait for this session's write lock."""
    session = g.pop("store_session", None)
    if session is not None:
        session.close()


@contextmanager
def session_scope(app: Flask) -> Iterator[Session]:
    """A session outside any request that commits on success and rolls back on error."""
    session = app.extensions["store.sessionmaker"]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str):
    """An Alembic Config pointing at the packaged migrations and at ``url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def _migration_connection(app: Flask):
    """An Alembic config on one connection of the app's engine, in one transaction.

    On SQLite, foreign keys are not enforced while the migrations run (as Alembic advises for
    batch mode): a table rebuilt by ``batch_alter_table`` is dropped and renamed, which would
    otherwise fail as soon as rows of another table reference it. The pragma is only taken
    outside a transaction, so it is set before and restored after it.
    """
    config = alembic_config(app.config["DATABASE_URL"])
    engine = app.extensions["store.engine"]
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                yield config
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def upgrade(app: Flask, revision: str = "head") -> None:
    """Bring the store's schema up to ``revision`` using the app's engine."""
    from alembic import command

    with _migration_connection(app) as config:
        command.upgrade(config, revision)


def downgrade(app: Flask, revision: str) -> None:
    """Take the store's schema back to ``revision``."""
    from alembic import command

    with _migration_connection(app) as config:
        command.downgrade(config, revision)


def current_revision(app: Flask) -> str | None:
    """The Alembic revision the store is at, or None for an empty store."""
    from alembic.migration import MigrationContext

    with app.extensions["store.engine"].connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
