"""A local system simulated against a real gateway on 127.0.0.1: it pushes signed batches.

Everything goes through signed HTTP (gateway.exchange.client_auth.GatewayAuth, the product's
client-side signer); the store is only read directly to check what the push wrote.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any, Iterable

import orjson
import requests
from sqlalchemy import func, select
from stdnum.cn import uscc as stdnum_uscc

from gateway import store
from gateway.caller import Caller
from gateway.privacy import vault
from gateway.services import aggregates
from gateway.services.context import ServiceContext
from gateway.standard import engine
from tests import factories
from tests.integration.exchange.helpers import ClientKeys

URL = "/api/v1/exchange/batches"
AREA = "110105"
_seq = itertools.count(1)


def citizen_id(i: int, area: str = AREA) -> str:
    """A checksum-valid citizen ID, distinct for every ``i`` (born 1980 + i // 1000 days)."""
    return factories.citizen_id(i, area=area, born=dt.date(1980, 1, 1) + dt.timedelta(days=i // 1000))


def uscc(i: int, area: str = AREA) -> str:
    """A valid unified social credit code (social organisation, GB 11714 organisation code)."""
    org = f"MJ{i:06d}"
    value = lambda c: int(c) if c.isdigit() else ord(c) - 55  # noqa: E731
    check = 11 - sum(value(c) * w for c, w in zip(org, (3, 7, 9, 10, 5, 8, 4, 2))) % 11
    body = f"52{area}{org}{'X' if check == 10 else '0' if check == 11 else check}"
    return body + stdnum_uscc.calc_check_digit(body)


def team(i: int, area: str = AREA, **overrides: Any) -> dict[str, Any]:
    """A valid team numbered ``i`` (its own uscc and source id)."""
    base = dict(uscc=uscc(i, area), area=area, source_id=f"team-{i:04d}", team_no=f"LT{i:06d}",
                name=f"测试志愿服务队{i}")
    base.update(overrides)
    return factories.team(**base)


def volunteer(i: int, area: str = AREA, **overrides: Any) -> dict[str, Any]:
    """A valid volunteer numbered ``i`` (document, mobile and source id from ``i``)."""
    number = citizen_id(i, area)
    born = dt.date(1980, 1, 1) + dt.timedelta(days=i // 1000)
    base = dict(id_number=number, birth_date=born.isoformat(), gender="1" if i % 2 else "2",
                mobile=factories.mobile(i), residence_area=area, service_area=area,
                registration_area=area, source_id=f"vol-{i:06d}", volunteer_no=factories.OMIT,
                email=factories.OMIT, address=factories.OMIT,
                source_updated_at="2024-03-15T10:20:30")
    base.update(overrides)
    return factories.volunteer(**base)


def item(entity: str, data: dict[str, Any], op: str = "upsert") -> dict[str, Any]:
    return {"entity": entity, "op": op, "data": data}


def envelope(records: Iterable[dict[str, Any]], sender: str = "city-01",
             batch_id: str | None = None) -> dict[str, Any]:
    return {"schema_version": "1", "sender": sender, "batch_id": batch_id or new_batch_id(),
            "generated_at": "2024-05-01T18:00:00+08:00", "records": list(records)}


def new_batch_id() -> str:
    return f"b-{uuid.uuid4().hex[:16]}"


def ndjson(records: Iterable[dict[str, Any]], sender: str = "city-01",
           batch_id: str | None = None) -> bytes:
    header = {"schema_version": "1", "sender": sender, "batch_id": batch_id or new_batch_id(),
              "generated_at": "2024-05-01T18:00:00+08:00"}
    return b"".join(orjson.dumps(value) + b"\n" for value in [header, *records])


def push(server, keys: ClientKeys, body: dict[str, Any] | bytes, *, key: str | None = None,
         content_type: str | None = None, timeout: Any = 120, headers: dict[str, str] | None = None,
         **auth_options: Any) -> requests.Response:
    """POST a batch, signed by ``keys``; JSON for a dict, NDJSON for bytes (unless told)."""
    data = orjson.dumps(body) if isinstance(body, dict) else body
    content_type = content_type or ("application/json" if isinstance(body, dict) else "application/x-ndjson")
    fields = {"Content-Type": content_type, "Idempotency-Key": key or uuid.uuid4().hex,
              **(headers or {})}
    return requests.post(server.url + URL, data=data, headers=fields, auth=keys.auth(**auth_options),
                         timeout=timeout)


def ndjson_lines(answer: requests.Response) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in answer.content.splitlines() if line.strip()]


def count(app, model, *where) -> int:
    with store.session_scope(app) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def rows(app, stmt):
    """The rows ``stmt`` selects (pending aggregate additions folded into the cells first)."""
    with store.session_scope(app) as session:
        aggregates.fold(session)
        return session.execute(stmt).all()


class Seeder:
    """Rows a push refers to (an approved team, a project), made through the services."""

    def __init__(self, app):
        self.app = app

    def ctx(self, session) -> ServiceContext:
        return ServiceContext(session=session, caller=Caller(
            "seed", permissions={"*": frozenset({"read", "write", "review"})}),
            engine=engine(), vault=vault(), config=self.app.config)

    def approved_team(self, **overrides: Any) -> str:
        from gateway.services import registration

        with self.app.app_context(), store.session_scope(self.app) as session:
            ctx = self.ctx(session)
            n = next(_seq)
            record = team(90000 + n, source_id=f"seed-team-{n}", team_no=factories.OMIT,
                          **overrides)
            row = registration.register_team(ctx, record, source_system="seed")
            registration.review_team(ctx, row.team_no, "approve")
            return row.team_no
