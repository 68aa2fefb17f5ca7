"""Registered clients (local systems, other gateways) and their development tokens.

A development bearer token (``vgw clients token``) is accepted by the HTTP layer only when
the DEV_TOKENS setting is on (:func:`gateway.api.auth.current_caller`); only its SHA-256 is
stored.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.caller import PERMISSIONS, Caller
from gateway.store.models import Client, ClientToken, utcnow

__all__ = ["caller_for_token", "create_client", "hash_token", "issue_dev_token", "revoke_tokens"]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_client(session: Session, client_id: str, name: str, *, region_prefix: str = "",
                  team_nos: Iterable[str] = (), permissions: dict[str, list[str]] | None = None,
                  pii_access: str = "masked", kind: str = "local_system") -> Client:
    """Register a client; permissions default to nothing."""
    for entity, perms in (permissions or {}).items():
        unknown = set(perms) - set(PERMISSIONS)
        if unknown:
            raise ValueError(f"unknown permission(s) {sorted(unknown)} for {entity}")
    if pii_access not in ("masked", "full"):
        raise ValueError("pii_access must be 'masked' or 'full'")
    if region_prefix and (not region_prefix.isdigit() or len(region_prefix) not in (2, 4, 6)):
        raise ValueError("region prefix must be 2, 4 or 6 digits (or empty for the whole country)")
    client = Client(client_id=client_id, name=name, kind=kind, region_prefix=region_prefix,
                    team_nos=list(team_nos), permissions={k: sorted(set(v)) for k, v in
                                                          (permissions or {}).items()},
                    pii_access=pii_access)
    session.add(client)
    session.flush()
    return client


def issue_dev_token(session: Session, client: Client) -> str:
    """A new development token for ``client``; only its hash is stored."""
    token = "dev_" + secrets.token_urlsafe(32)
    session.add(ClientToken(client_pk=client.id, token_hash=hash_token(token)))
    session.flush()
    return token


def caller_for_token(session: Session, token: str) -> Caller | None:
    row = session.execute(
        select(Client).join(ClientToken).where(ClientToken.token_hash == hash_token(token),
                                               ClientToken.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None or row.disabled:
        return None
    return Caller.from_client(row)


def revoke_tokens(session: Session, client: Client) -> int:
    count = 0
    for token in client.tokens:
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            count += 1
    return count
