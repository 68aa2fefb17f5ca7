"""Rows sent as one JSON parameter (gateway/store/rowsets.py) read back on PostgreSQL as the
values sent, each with its column's type: text of every kind, NULL, integers past 32 bits,
exact decimals, and no row lost or reordered."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Integer, Numeric, String, create_engine, select

from gateway.store.rowsets import json_rows, rows_json

pytestmark = pytest.mark.postgres

COLUMNS = [("name", String(64)), ("n", BigInteger()), ("small", Integer()),
           ("amount", Numeric(16, 2))]
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
ROWS = st.lists(st.tuples(TEXT | st.none(),
                          st.integers(-(2 ** 63), 2 ** 63 - 1) | st.none(),
                          st.integers(-(2 ** 31), 2 ** 31 - 1),
                          st.decimals(min_value=-10 ** 13, max_value=10 ** 13, places=2,
                                      allow_nan=False, allow_infinity=False) | st.none()),
                max_size=30)


@pytest.fixture(scope="module")
def engine(pg_database):
    engine = create_engine(pg_database)
    yield engine
    engine.dispose()


@settings(max_examples=150, deadline=None, database=None)
@given(rows=ROWS)
def test_rows_read_back_as_sent_with_their_types(engine, rows):
    table = json_rows(COLUMNS, "given", key="rows")
    with engine.connect() as conn:
        got = conn.execute(select(table), {"rows": rows_json(rows)}).all()
    assert [tuple(row) for row in got] == [
        (name, n, small, None if amount is None else Decimal(amount)) for name, n, small, amount in rows]


def test_rows_bound_with_the_statement_and_a_value_json_cannot_hold(engine):
    table = json_rows([("key", String(10))], "k", rows=[('a"b\\c',), ("名",), (None,)])
    with engine.connect() as conn:
        assert [k for (k,) in conn.execute(select(table))] == ['a"b\\c', "名", None]
    with pytest.raises(TypeError):  # (orjson.JSONEncodeError)
        rows_json([(object(),)])

