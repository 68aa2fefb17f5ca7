"""Indexes whose kind matters for the load (issue 14), as the migrations leave them on
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def engine(pg_database):
    engine = create_engine(pg_database)
    yield engine
    engine.dispose()


def test_the_mobile_blind_index_is_a_hash_index_the_search_uses(engine):
    """Migration 0017: on PostgreSQL the mobile blind index (looked up by equality only) is a
    hash index, and the search's equality can use it."""
    with engine.connect() as conn:
        (definition,) = conn.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_volunteers_mobile_index'")).one()
        assert "USING hash (mobile_index)" in definition
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in conn.execute(text(
            "EXPLAIN SELECT id FROM volunteers WHERE mobile_index = :m"), {"m": "0" * 64}))
        assert "ix_volunteers_mobile_index" in plan
