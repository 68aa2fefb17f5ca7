"""Test data and checks shared by the client tests (and tests/e2e): many valid volunteers."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any, Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from gateway import store
from tests import factories



def citizen_id(area: str, born: dt.date, sequence: int) -> str:
    """A checksum-valid GB 11643 citizen ID (sequence 0–999; odd: male, even: female)."""
    return factories.citizen_id(sequence, area=area, born=born)


def volunteers(count: int, start: int = 0, *, prefix: str = "ext") -> Iterator[dict[str, Any]]:
    """``count`` distinct valid adult volunteers of 北京市朝阳区 (region 11), without volunteer_no.

    Each has its own citizen ID, mobile and ``source_id`` (``<prefix>-<n>``); the store assigns
    the volunteer numbers.
    """
    for n in range(start, start + count):
        born = dt.date(1960, 1, 1) + dt.timedelta(days=n // 400)
        sequence = 100 + n % 400
        yield factories.volunteer(
            volunteer_no=factories.OMIT, id_number=citizen_id("110105", born, sequence),
            birth_date=born.isoformat(), gender="1" if sequence % 2 else "2",
            mobile=f"139{n:08d}", email=f"v{n}@example.com", name="测试志愿者",
            source_id=f"{prefix}-{n}")


def count_volunteers(app) -> int:
    from gateway.store.models import Volunteer

    with store.session_scope(app) as session:
        return session.execute(select(func.count()).select_from(Volunteer)).scalar_one()



def other_jwks(kid: str) -> dict:
    """A JWK set holding a freshly made Ed25519 key (not the gateway's) under ``kid``."""
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig",
                      "alg": "EdDSA"}]}


def wait_for_feed(url: str, keys, expected: int, *, since: str | None = None,
                  entity: str | None = "volunteer", timeout: float = 60) -> None:
    """Wait until the change feed shows at least ``expected`` changes after ``since``.

    On PostgreSQL the feed hands out only changes of transactions older than every
    transaction still running on the server (docs/protocol.md, Pull), and xids are shared by
    every database of the server: while other tests (other xdist workers, each on its own
    database) are writing, a change just committed here may wait a moment. SQLite needs
    no wait. ``keys`` is a registered client's tests.integration.exchange.helpers.ClientKeys.
    """
    import time

    from gateway.exchange.client import GatewayClient

    client = GatewayClient(url, keys.client_id, keys.key_id, keys.private_pem)
    deadline = time.monotonic() + timeout
    while True:
        seen = sum(1 for _ in client.pull(since=since, entity=entity, limit=1000))
        if seen >= expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the feed shows {seen} of {expected} change(s) after {timeout} s")
        time.sleep(0.2)
