"""Test data for the registration tests: valid people, teams and callers."""

from __future__ import annotations

from typing import Any


from tests import factories
from tests.conftest import ALL_PERMS, make_caller  # noqa: F401  (re-exported for the tests)

BEIJING, CHAOYANG, HAIDIAN = "11", "110105", "110108"
GUANGDONG, TIANHE = "44", "440106"


citizen_id = factories.citizen_id  # one helper (tests/factories.py); odd seq: a man


def person(seq: int, area: str = CHAOYANG, **overrides: Any) -> dict[str, Any]:
    """A valid adult volunteer record, distinct per ``seq`` (ID, mobile, source id)."""
    record = factories.volunteer(
        volunteer_no=factories.OMIT, id_number=citizen_id(seq), gender="1" if seq % 2 else "2",
        birth_date="1980-01-01", mobile=factories.mobile(seq), service_area=area, residence_area=area,
        registration_area=area, source_id=f"src-{seq}")
    return factories._build(record, overrides)


def team_record(n: int, area: str = CHAOYANG, **overrides: Any) -> dict[str, Any]:
    """A valid team of type 1 (no USCC needed) in ``area``."""
    record = factories.team(
        team_no=factories.OMIT, team_type="1", unit_type="01", uscc=factories.OMIT,
        registration_dept=factories.OMIT, registration_authority=factories.OMIT,
        approving_unit={"name": "建外街道办事处", "contact": "刘强", "phone": "010-65001234"},
        name=f"测试志愿服务队{n}", area=area, source_id=f"team-{n}")
    return factories._build(record, overrides)


def uscc(n: int) -> str:
    """A checksum-valid unified social credit code for a Beijing social organisation."""
    from stdnum.cn import uscc as std_uscc

    org = f"MJ{n:06d}"
    # The GB 11714 organisation code's own check character, then the USCC's (GB 32100).
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    total = sum(alphabet.index(c) * w for c, w in zip(org, weights))
    check = 11 - total % 11
    org_check = {10: "X", 11: "0"}.get(check, str(check))
    body = f"52110105{org}{org_check}"
    return body + std_uscc.calc_check_digit(body)


def sibling_app(store_app, **overrides: Any):
    """Another gateway process on the same store as ``store_app`` (other keys, settings …).

    Dispose of its engine with ``app.extensions["store.engine"].dispose()`` when done.
    """
    from gateway import create_app

    return create_app({"TESTING": True, "DATABASE_URL": store_app.config["DATABASE_URL"],
                       "KEYS_DIR": store_app.config["KEYS_DIR"], "DEV_TOKENS": True, **overrides})


def service_ctx(app, client_id: str = "svc", *, region: str = "", pii_full: bool = False,
                perms: dict[str, list[str]] | None = None):
    """A ServiceContext for calling the services directly (inside ``app.app_context()``)."""
    from flask import current_app

    from gateway import privacy, standard
    from gateway.caller import Caller
    from gateway.services.context import ServiceContext
    from gateway.store import get_session

    permissions = {k: frozenset(v) for k, v in (perms or ALL_PERMS).items()}
    caller = Caller(client_id, region, frozenset(), permissions, pii_full)
    return ServiceContext(session=get_session(), caller=caller, engine=standard.engine(),
                          vault=privacy.vault(), config=current_app.config)


def count(app, table: str) -> int:
    from sqlalchemy import text

    with app.extensions["store.engine"].connect() as conn:
        return conn.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one()


def register(client, headers, record) -> dict[str, Any]:
    answer = client.post("/api/v1/volunteers", json=record, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()
