"""The replay guard: remember each signature nonce until its signature can no longer be accepted.

**Why the store and not an in-process cache.** The gateway runs as several gunicorn workers
(and possibly several hosts). A replayed request may land on a different worker than the
original, so a per-process set would let it through. The guard must be shared.

**Why the store and not Redis.** Redis (``SET key 1 NX EX ttl``) would be just as right. The
store was chosen because it is already there: no new service to run, secure, back up and
monitor, and its guarantees are the ones the rest of the gateway already relies on — the
primary key (key_id, nonce) makes the check-and-set atomic across every worker and host
(the second INSERT fails with a unique violation whoever makes it, and on PostgreSQL a
concurrent second INSERT waits for the first to commit, then fails), and a nonce survives a
restart. The cost is one small INSERT per signed request (and an occasional DELETE).

**Swapping it.** The interface is one method, :meth:`NonceStore.remember`. A Redis
implementation needs only that method; put an instance in
``app.extensions["exchange.nonces"]`` before the first request.

**Purging.** A nonce is kept until ``expires_at``: the last moment its signature could still
pass the time window (see :mod:`gateway.exchange.signatures`); after that the window check
alone refuses a replay, so the row can go. Expired rows are deleted opportunistically, at
most once a minute per process, after a successful INSERT; no scheduler is needed.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Protocol, runtime_checkable

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.models import RequestNonce

__all__ = ["NonceStore", "SqlNonceStore"]

log = logging.getLogger("gateway.exchange.nonces")


@runtime_checkable
class NonceStore(Protocol):
    def remember(self, key_id: str, nonce: str, *, now: datetime, expires_at: datetime) -> bool:
        """Record ``nonce`` for ``key_id``; False when it was already recorded (a replay).

        Must be atomic across every process that verifies requests, and keep the nonce at
        least until ``expires_at``.
        """


class SqlNonceStore:
    """Nonces in the central store's ``request_nonces`` table, each INSERT in its own transaction.

    The INSERT commits at once, independent of the request's own transaction: a nonce is spent
    as soon as its signature verified, whatever the request's outcome, so a request that failed
    (or whose answer was lost) cannot be replayed either; a retry must be signed again.
    """

    def __init__(self, sessions: sessionmaker[Session], *, purge_every_seconds: float = 60.0):
        self._sessions = sessions
        self._purge_every = purge_every_seconds
        self._last_purge = 0.0
        self._lock = threading.Lock()

    def remember(self, key_id: str, nonce: str, *, now: datetime, expires_at: datetime) -> bool:
        with self._sessions() as session:
            session.add(RequestNonce(key_id=key_id, nonce=nonce, seen_at=now,
                                     expires_at=expires_at))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
        self._maybe_purge(now)
        return True

    def purge(self, now: datetime) -> int:
        """Delete every nonce whose signature can no longer pass the window; returns how many."""
        with self._sessions() as session:
            count = session.execute(delete(RequestNonce).where(RequestNonce.expires_at < now)
                                    ).rowcount
            session.commit()
        return count or 0

    def _maybe_purge(self, now: datetime) -> None:
        with self._lock:
            if time.monotonic() - self._last_purge < self._purge_every:
                return
            self._last_purge = time.monotonic()
        try:
            count = self.purge(now)
        except Exception:  # a failed purge must not fail the request; the next one retries
            log.warning("purging expired request nonces failed", exc_info=True)
            return
        if count:
            log.debug("purged %d expired request nonce(s)", count)
