"""Federation identity: which gateway a record was first written in, and its number there.

Two or more gateways federating (docs/adapters.md, the standard adapter) each keep the
others' records under numbers of their own. So that a change made at any of them reaches
the record's *home* as the home's own record — not as a second copy — and a record that
travels round a ring of gateways is recognised when it comes back, every record a gateway
sends (a feed change, a push item) may carry its **home**::

    "home": {"gateway": "zj-3301", "key": "P3301052405000001",
             "links": [{"field": "volunteer_no", "gateway": "zj-3301", "key": "V…"}],
             "replaced": true}

``gateway`` is the home gateway's ``GATEWAY_ID``, ``key`` the record's number there (for a
service record: the first number of its chain of corrections, which stays its identity);
``links`` the homes of the records it links to; ``replaced`` marks the tombstone of a
service record superseded by a correction (the correction follows as an upsert, so the
tombstone deletes nothing). docs/protocol.md, "Federation identity", is the wire format.

A gateway keeps the home of every record it *received* with a foreign home in
``federation_homes`` (:class:`~gateway.store.models.FederationHome`); a record without a row
is at home here (``GATEWAY_ID``, its own number). A received record whose home gateway is
this one is applied to the home record itself (:func:`addressed`): an update or a delete
with the usual rules, scope and priority; a home number this gateway does not hold, or
holds outside the sender's scope, is a per-record error, never a new record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.adapter import HOME
from gateway.services.context import ServiceContext
from gateway.services.errors import Invalid
from gateway.standard.issues import Issue
from gateway.store.models import FederationHome, Project, ServiceRecord, Team, Volunteer

__all__ = ["HOME", "HOMED", "Home", "Received", "addressed", "feed_homes", "own_id", "parse",
           "remember", "shape_issues"]

#: The entities whose records carry a home (those the federation tests cover).
HOMED = {"volunteer": (Volunteer, "volunteer_no"), "team": (Team, "team_no"),
         "project": (Project, "project_no"), "service_record": (ServiceRecord, "record_no")}
#: A record's link fields and the entity each names.
LINKS = {"volunteer_no": "volunteer", "team_no": "team", "parent_team_no": "team",
         "project_no": "project"}
MAX_ID = 64


@dataclass(frozen=True)
class Home:
    gateway: str
    key: str

    def as_json(self) -> dict[str, str]:
        return {"gateway": self.gateway, "key": self.key}


@dataclass(frozen=True)
class Received:
    """A record's ``home`` member as received: its home, its links' homes, ``replaced``."""

    home: Home
    links: dict[str, Home]
    replaced: bool = False


def own_id(ctx: ServiceContext) -> str | None:
    """This gateway's ``GATEWAY_ID``, or None when it has none (it then names no home)."""
    return ctx.config.get("GATEWAY_ID") or None


# -- the wire member ------------------------------------------------------------------------------

def _issue(where: str, en: str) -> Issue:
    return Issue(where, "exchange.home", f"home 成员格式错误：{en}", f"malformed home member: {en}")


def _pair_issues(value: Any, where: str) -> list[Issue]:
    if not isinstance(value, dict):
        return [_issue(where, "must be an object {gateway, key}")]
    issues = [_issue(f"{where}/{k}", f"unknown member {k!r}") for k in value
              if k not in ("gateway", "key", "links", "replaced")]
    for name in ("gateway", "key"):
        v = value.get(name)
        if not isinstance(v, str) or not 1 <= len(v) <= MAX_ID:
            issues.append(_issue(f"{where}/{name}", f"{name} must be text of 1-{MAX_ID} characters"))
    return issues


def shape_issues(value: Any, where: str = "/home") -> list[Issue]:
    """What is wrong with a ``home`` member (empty when it is well formed)."""
    issues = _pair_issues(value, where)
    if issues:
        return issues
    links = value.get("links", [])
    if not isinstance(links, list):
        issues.append(_issue(f"{where}/links", "links must be an array"))
    else:
        for n, link in enumerate(links):
            here = f"{where}/links/{n}"
            if not isinstance(link, dict) or link.get("field") not in LINKS:
                issues.append(_issue(here, "a link is {field, gateway, key}, field one of "
                                     + ", ".join(LINKS)))
                continue
            issues += _pair_issues({k: v for k, v in link.items() if k != "field"}, here)
            if set(link) - {"field", "gateway", "key"}:
                issues.append(_issue(here, "a link is {field, gateway, key}"))
    if not isinstance(value.get("replaced", False), bool):
        issues.append(_issue(f"{where}/replaced", "replaced must be true or false"))
    return issues


def parse(value: Any) -> Received | list[Issue]:
    """A received ``home`` member, or the issues of a malformed one."""
    issues = shape_issues(value)
    if issues:
        return issues
    links = {link["field"]: Home(link["gateway"], link["key"]) for link in value.get("links", [])}
    return Received(Home(value["gateway"], value["key"]), links, bool(value.get("replaced", False)))


# -- receiving ---------------------------------------------------------------------------------

def _home_unknown(key: str) -> Invalid:
    return Invalid("no such home record", [Issue(
        "/home/key", "exchange.home_not_found", "本网关没有这条记录（home 指向本网关的编号）",
        f"this gateway holds no record {key} (the home names this gateway)")])


def _home_out_of_scope(key: str) -> Invalid:
    return Invalid("home record out of scope", [Issue(
        "/home/key", "exchange.out_of_scope", "home 指向的记录超出本客户端的数据范围",
        f"record {key} of this gateway is outside the client's scope")])


def _visible(ctx: ServiceContext, entity: str, row: Any) -> bool:
    caller = ctx.caller
    if entity == "volunteer":
        return caller.covers_region(row.area_code)
    team = row if entity == "team" else row.team
    return caller.covers_team(team.team_no, team.area_code)


def _latest(session: Session, row: Any) -> Any:
    """A service record's latest correction (the record itself when it has none)."""
    seen = 0
    while isinstance(row, ServiceRecord) and row.superseded_by_id is not None and seen < 100:
        row = session.get(ServiceRecord, row.superseded_by_id)
        seen += 1
    return row


def addressed(ctx: ServiceContext, entity: str, received: Received) -> Any:
    """The stored record an item with this home names, or None (then it is found as usual).

    Its home is this gateway: the record with that number (a service record's latest
    correction); one not held, or not in the sender's scope, raises (a per-record error).
    Its home is another gateway: the record received before with the same home, if any.
    """
    if entity not in HOMED:
        return None
    model, key_field = HOMED[entity]
    session, home = ctx.session, received.home
    if home.gateway == own_id(ctx):
        row = _latest(session, session.execute(
            select(model).where(getattr(model, key_field) == home.key)).scalar_one_or_none())
        if row is None:
            raise _home_unknown(home.key)
        if not _visible(ctx, entity, row):
            raise _home_out_of_scope(home.key)
        return row
    number = session.execute(select(FederationHome.number).where(
        FederationHome.entity == entity, FederationHome.home_gateway == home.gateway,
        FederationHome.home_key == home.key).limit(1)).scalar_one_or_none()
    if number is None:
        return None
    row = _latest(session, session.execute(
        select(model).where(getattr(model, key_field) == number)).scalar_one_or_none())
    return row if row is not None and _visible(ctx, entity, row) else None


def local_links(ctx: ServiceContext, received: Received, data: Mapping[str, Any]
                ) -> dict[str, str]:
    """``{link field: our number}`` for the links whose home this gateway knows: its own
    records, and records received before with that home. The others are left to the usual
    translation of the sender's numbers."""
    own, out = own_id(ctx), {}
    for name, home in received.links.items():
        if not isinstance(data.get(name), str):
            continue
        if home.gateway == own:
            out[name] = home.key
            continue
        number = ctx.session.execute(select(FederationHome.number).where(
            FederationHome.entity == LINKS[name], FederationHome.home_gateway == home.gateway,
            FederationHome.home_key == home.key).limit(1)).scalar_one_or_none()
        if number is not None:
            out[name] = number
    return out


def remember(ctx: ServiceContext, entity: str, number: str, received: Received) -> None:
    """Keep the home of a record just created from another gateway's record."""
    if entity not in HOMED or received.home.gateway == own_id(ctx):
        return
    if ctx.session.get(FederationHome, (entity, number)) is None:
        ctx.session.add(FederationHome(entity=entity, number=number,
                                       home_gateway=received.home.gateway,
                                       home_key=received.home.key))


# -- sending -----------------------------------------------------------------------------------

def _roots(session: Session, numbers: Iterable[str]) -> dict[str, list[str]]:
    """``{record_no: [its number, the one it corrects, …, the first]}`` for service records."""
    chains: dict[str, list[str]] = {}
    rows = session.execute(select(ServiceRecord.record_no, ServiceRecord.corrects_id)
                           .where(ServiceRecord.record_no.in_(list(numbers)))).all()
    pending = {}
    for number, corrects in rows:
        chains[number] = [number]
        if corrects is not None:
            pending[number] = corrects
    for _ in range(100):
        if not pending:
            break
        parents = {i: (n, c) for i, n, c in session.execute(
            select(ServiceRecord.id, ServiceRecord.record_no, ServiceRecord.corrects_id)
            .where(ServiceRecord.id.in_(set(pending.values()))))}
        nxt = {}
        for number, parent_id in pending.items():
            if parent_id in parents:
                parent_no, grand = parents[parent_id]
                chains[number].append(parent_no)
                if grand is not None:
                    nxt[number] = grand
        pending = nxt
    return chains


def feed_homes(ctx: ServiceContext, changes: list[dict[str, Any]]) -> None:
    """Put each change's ``home`` member on it (in place): the stored home of a record
    received from another gateway, else this gateway's (``GATEWAY_ID``) with the record's
    number — none when this gateway has no id and the record no stored home. The tombstone
    of a service record superseded by a correction says ``replaced``."""
    own = own_id(ctx)
    wanted: dict[str, set[str]] = {}
    for change in changes:
        if change["entity"] in HOMED:
            wanted.setdefault(change["entity"], set()).add(change["key"])
            for name, entity in LINKS.items():
                value = (change.get("data") or {}).get(name)
                if isinstance(value, str):
                    wanted.setdefault(entity, set()).add(value)
    if not wanted:
        return
    session = ctx.session
    chains = _roots(session, wanted.get("service_record", ()))
    numbers = {(e, n) for e, ns in wanted.items() for n in ns}
    numbers |= {("service_record", n) for chain in chains.values() for n in chain}
    stored: dict[tuple[str, str], Home] = {}
    for entity in {e for e, _n in numbers}:
        for row in session.execute(select(FederationHome).where(
                FederationHome.entity == entity,
                FederationHome.number.in_([n for e, n in numbers if e == entity]))).scalars():
            stored[(row.entity, row.number)] = Home(row.home_gateway, row.home_key)

    gone = [c["key"] for c in changes if c["entity"] == "service_record" and c["op"] == "delete"]
    replaced = set(session.execute(select(ServiceRecord.record_no).where(
        ServiceRecord.record_no.in_(gone), ServiceRecord.superseded_by_id.is_not(None)))
        .scalars()) if gone else set()

    def home_of(entity: str, number: str) -> Home | None:
        chain = chains.get(number, [number]) if entity == "service_record" else [number]
        for link in chain:
            if (entity, link) in stored:
                return stored[(entity, link)]
        return Home(own, chain[-1]) if own else None

    for change in changes:
        if change["entity"] not in HOMED:
            continue
        home = home_of(change["entity"], change["key"])
        if home is None:
            continue
        member: dict[str, Any] = home.as_json()
        links = []
        for name, entity in LINKS.items():
            value = (change.get("data") or {}).get(name)
            link = home_of(entity, value) if isinstance(value, str) else None
            if link is not None:
                links.append({"field": name, **link.as_json()})
        if links:
            member["links"] = links
        if change["op"] == "delete" and change["entity"] == "service_record" \
                and change["key"] in replaced:
            member["replaced"] = True
        change["home"] = member
