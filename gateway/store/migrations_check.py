"""Do the Alembic migrations build the schema the models declare? (``make lint``, tests)

``alembic check`` through the gateway's own migration set-up: a throw-away store is
brought to head with :func:`gateway.store.upgrade`'s configuration, then Alembic's
autogenerate compares it with ``Base.metadata``. A model changed without a migration (or a
migration without its model) shows up as a difference.

A few objects exist in the migrations only, on purpose, and are named here with the
reason; nothing else is excused.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

#: Indexes the migrations create that the models deliberately do not declare.
MIGRATION_ONLY_INDEXES = {
    # 0002: a PostgreSQL trigram index for project name search (no SQLAlchemy spelling
    # that SQLite would accept)
    "ix_projects_name_trgm",
    # 0004: (source_system, source_id) look-ups of the push path, one per pushed entity
    *(f"ix_{table}_source" for table in ("teams", "projects", "enrollments", "service_records",
                                          "trainings", "evaluations", "commendations",
                                          "complaints")),
}
#: (table, column): on PostgreSQL the migration makes ``changes.txid`` NOT NULL with a
#: server default (0005); the model leaves it nullable because SQLite keeps it NULL.
POSTGRES_ONLY_NOT_NULL = {("changes", "txid")}


def _excused(diff: Any, dialect: str) -> bool:
    if isinstance(diff, list):                      # column modifications come as a list
        return all(_excused(d, dialect) for d in diff)
    kind = diff[0]
    if kind in ("add_index", "remove_index"):
        return diff[1].name in MIGRATION_ONLY_INDEXES
    if kind == "modify_nullable":
        return dialect == "postgresql" and (diff[2], diff[3]) in POSTGRES_ONLY_NOT_NULL
    return False


def differences(url: str) -> list[Any]:
    """Upgrade the (empty) store at ``url`` to head; return what the models declare otherwise."""
    from alembic import command

    from gateway.store import alembic_config, make_engine
    from gateway.store import models  # noqa: F401  (registers the models on Base.metadata)
    from gateway.store.base import Base

    config = alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            diffs = compare_metadata(context, Base.metadata)
            return [d for d in diffs if not _excused(d, connection.dialect.name)]
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """``python -m gateway.store.migrations_check [URL]``: exit 1 and list the differences."""
    argv = sys.argv[1:] if argv is None else argv
    with tempfile.TemporaryDirectory() as tmp:
        url = argv[0] if argv else f"sqlite:///{Path(tmp) / 'check.db'}"
        diffs = differences(url)
    for diff in diffs:
        print(f"migrations and models differ: {diff}")
    if not diffs:
        print("migrations match the models")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
