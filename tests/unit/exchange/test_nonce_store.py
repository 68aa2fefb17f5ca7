"""The replay guard's store: one INSERT per nonce, refused the second time by any process."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from gateway.exchange.nonces import NonceStore, SqlNonceStore
from gateway.exchange.signatures import nonce_store
from gateway.store.models import RequestNonce

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=timezone.utc)


def _store(app, **kwargs) -> SqlNonceStore:
    return SqlNonceStore(app.extensions["store.sessionmaker"], **kwargs)


def _count(app) -> int:
    with app.extensions["store.sessionmaker"]() as session:
        return session.scalar(select(func.count()).select_from(RequestNonce))


def test_a_nonce_is_accepted_once_per_key(store_app):
    nonces = _store(store_app)
    later = T0 + timedelta(minutes=5)
    assert nonces.remember("key-a", "n-0001-abcd", now=T0, expires_at=later) is True
    assert nonces.remember("key-a", "n-0001-abcd", now=T0, expires_at=later) is False
    assert nonces.remember("key-b", "n-0001-abcd", now=T0, expires_at=later) is True  # other key
    assert nonces.remember("key-a", "n-0002-abcd", now=T0, expires_at=later) is True
    assert _count(store_app) == 3


def test_two_stores_share_what_they_saw(store_app):
    """Two instances (as in two gunicorn workers) on the same database."""
    first, second = _store(store_app), _store(store_app)
    assert first.remember("key-a", "shared-nonce", now=T0, expires_at=T0 + timedelta(minutes=5))
    assert not second.remember("key-a", "shared-nonce", now=T0, expires_at=T0 + timedelta(minutes=5))


def test_concurrent_inserts_of_one_nonce_let_exactly_one_through(store_app):
    nonces = _store(store_app)
    barrier = threading.Barrier(6)
    results: list[bool] = []

    def attempt() -> None:
        barrier.wait()
        results.append(nonces.remember("key-a", "raced-nonce", now=T0,
                                       expires_at=T0 + timedelta(minutes=5)))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]


def test_purge_removes_only_expired_nonces(store_app):
    nonces = _store(store_app, purge_every_seconds=3600)
    nonces.remember("key-a", "old-nonce-1", now=T0, expires_at=T0 + timedelta(minutes=5))
    nonces.remember("key-a", "new-nonce-1", now=T0, expires_at=T0 + timedelta(minutes=20))
    assert nonces.purge(T0 + timedelta(minutes=10)) == 1
    assert _count(store_app) == 1
    # the expired one may be used again (its signature would fail the window anyway) ...
    assert nonces.remember("key-a", "old-nonce-1", now=T0, expires_at=T0 + timedelta(minutes=30))
    # ... the live one still may not
    assert not nonces.remember("key-a", "new-nonce-1", now=T0, expires_at=T0 + timedelta(minutes=30))


def test_expired_nonces_are_purged_opportunistically(store_app):
    nonces = _store(store_app, purge_every_seconds=0)
    nonces.remember("key-a", "stale-nonce", now=T0, expires_at=T0 + timedelta(minutes=5))
    later = T0 + timedelta(hours=1)
    nonces.remember("key-a", "fresh-nonce", now=later, expires_at=later + timedelta(minutes=5))
    with store_app.extensions["store.sessionmaker"]() as session:
        assert list(session.scalars(select(RequestNonce.nonce))) == ["fresh-nonce"]


def test_the_app_store_can_be_swapped(store_app):
    class Memory:
        def __init__(self):
            self.seen = set()

        def remember(self, key_id, nonce, *, now, expires_at):
            if (key_id, nonce) in self.seen:
                return False
            self.seen.add((key_id, nonce))
            return True

    assert isinstance(nonce_store(store_app), SqlNonceStore)
    assert isinstance(Memory(), NonceStore)
    store_app.extensions["exchange.nonces"] = memory = Memory()
    assert nonce_store(store_app) is memory
