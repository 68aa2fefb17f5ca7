"""Who is calling and what they may touch: clients, scopes and permissions.

A caller is a registered :class:`~gateway.store.models.Client`. Its scope is a region prefix
('' = whole country), optionally a list of teams, and permissions per entity (``read``,
``write``, ``review``; ``*`` stands for every entity). Services check scope with
:meth:`Caller.require` and :meth:`Caller.covers_region`.

Authentication: a request signed with HTTP Message Signatures (RFC 9421) by one of the
client's registered keys (:func:`gateway.exchange.signatures.verify_request`; the production
path, docs/protocol.md). A development bearer token (``Authorization: Bearer …``, issued by
``vgw clients token``) is also accepted, only when the DEV_TOKENS setting is on. Without
either, every protected endpoint answers 401 ``/problems/signature-missing``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Iterable

from flask import current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.services.errors import OutOfScope, ServiceError
from gateway.store.models import Client, ClientToken, utcnow

PERMISSIONS = ("read", "write", "review")


class Unauthenticated(ServiceError):
    status, slug, title = 401, "unauthenticated", "Authentication required"


@dataclass(frozen=True)
class Caller:
    client_id: str
    region_prefix: str = ""
    team_nos: frozenset[str] = frozenset()
    permissions: dict[str, frozenset[str]] = field(default_factory=dict)
    pii_full: bool = False

    @classmethod
    def from_client(cls, client: Client) -> "Caller":
        return cls(client.client_id, client.region_prefix or "", frozenset(client.team_nos or ()),
                   {k: frozenset(v) for k, v in (client.permissions or {}).items()},
                   client.pii_access == "full")

    def can(self, entity: str, permission: str) -> bool:
        return permission in self.permissions.get(entity, ()) or permission in self.permissions.get("*", ())

    def require(self, entity: str, permission: str) -> None:
        if not self.can(entity, permission):
            raise OutOfScope(f"client {self.client_id!r} lacks the {permission!r} permission on {entity}",
                             permission=permission, entity=entity)

    def covers_region(self, code: str | None) -> bool:
        """Whether a record in region ``code`` is inside this caller's region."""
        if not self.region_prefix:
            return True
        return bool(code) and code.startswith(self.region_prefix)

    def covers_team(self, team_no: str, team_area: str | None) -> bool:
        """Whether the caller may act for a team: inside its region and, if listed, its teams."""
        return self.covers_region(team_area) and (not self.team_nos or team_no in self.team_nos)

    def require_region(self, code: str | None, what: str) -> None:
        if not self.covers_region(code):
            raise OutOfScope(f"{what} is outside the region of client {self.client_id!r}",
                             region_prefix=self.region_prefix)

    def require_team(self, team_no: str, team_area: str | None) -> None:
        if not self.covers_team(team_no, team_area):
            raise OutOfScope(f"team {team_no} is outside the scope of client {self.client_id!r}")


# -- clients and development tokens --------------------------------------------------------------

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


def current_caller() -> Caller:
    """The authenticated caller of this request, or 401."""
    if "caller" in g:
        return g.caller
    from gateway.exchange import signatures
    from gateway.store import get_session

    if "Signature" in request.headers or "Signature-Input" in request.headers:
        return signatures.verify_request(request)  # the production path
    header = request.headers.get("Authorization", "")
    if current_app.config["DEV_TOKENS"] and header.startswith("Bearer "):
        caller = caller_for_token(get_session(), header[len("Bearer "):].strip())
        if caller is not None:
            g.caller = caller
            return caller
        raise Unauthenticated("unknown, revoked or disabled token")
    dev = (" or a development token" if current_app.config["DEV_TOKENS"]
           else " (development tokens are off: DEV_TOKENS=false)")
    raise signatures.SignatureRejected("signature-missing", "this endpoint needs a request signed "
                                       "with HTTP Message Signatures (docs/protocol.md)" + dev)


def revoke_tokens(session: Session, client: Client) -> int:
    count = 0
    for token in client.tokens:
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            count += 1
    return count
