"""Who is calling and what they may touch: a plain value the services take (no Flask here).

A caller is a registered :class:`~gateway.store.models.Client` seen by a service. Its scope
is a region prefix ('' = whole country), optionally a list of teams, and permissions per
entity (``read``, ``write``, ``review``, ``request``; ``*`` stands for every entity). Services check scope
with :meth:`Caller.require` and :meth:`Caller.covers_region`.

How a request becomes a caller (signatures, development tokens) is the HTTP layer's business:
:func:`gateway.api.auth.current_caller`. Registering clients and their development tokens is
:mod:`gateway.services.clients`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.services.errors import OutOfScope, ServiceError

if TYPE_CHECKING:
    from gateway.store.models import Client

# "request": a portal asks for a certificate for the volunteer it acts for (certificate only).
PERMISSIONS = ("read", "write", "review", "request")


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
    def from_client(cls, client: Client) -> Caller:
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
