"""The Alembic migrations build exactly the schema the models declare (issue 13, item 3).

`make lint` runs the same check on SQLite (``python -m gateway.store.migrations_check``);
here it runs on both stores, since PostgreSQL compares more (nullability, server defaults).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, String, Table

from gateway.store import migrations_check
from gateway.store.base import Base


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    return request.getfixturevalue("pg_database")


def test_migrations_match_the_models(store_url):
    assert migrations_check.differences(store_url) == []


def test_a_model_without_its_migration_is_caught(tmp_path):
    """A table declared on the models and in no migration is reported (the check can fail)."""
    seeded = Table("seeded_drift", Base.metadata, Column("id", Integer, primary_key=True),
                   Column("name", String(8)))
    try:
        diffs = migrations_check.differences(f"sqlite:///{tmp_path / 'drift.sqlite3'}")
    finally:
        Base.metadata.remove(seeded)
    assert [(d[0], d[1].name) for d in diffs] == [("add_table", "seeded_drift")]
