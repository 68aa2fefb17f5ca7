"""A real remote gateway on 127.0.0.1 for the standard adapter's tests, and what they exchange.

The remote is the whole app (its own store: a fresh SQLite file, or the PostgreSQL test
database through ``store_app``) served by werkzeug in a thread, exactly as the exchange
client's tests serve it. Clients are registered there with a real Ed25519 key and a scope;
the adapter signs for real and checks the remote's real response signatures.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import requests
from flask import Flask
from sqlalchemy import func, select

import schemas
from adapters.standard import StandardAdapter
from gateway import store
from gateway.services.clients import create_client
from gateway.caller import Caller
from gateway.adapter import Adapter, NativeItem
from gateway.adapter_contract import example_records, read_all
from gateway.exchange import keys as client_keys
from gateway.exchange.client import GatewayClient
from gateway.privacy import vault
from gateway.services import registration
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store.models import (Change, Project, ServiceRecord, Team, Volunteer,
                                  VolunteerSource)
from tests.integration.exchange.helpers import ClientKeys, LiveServer

#: Keys of a record that hold store numbers (its own, or a link to another record).
NUMBER_FIELDS = ("volunteer_no", "team_no", "parent_team_no", "project_no", "record_no")


@dataclass
class Remote:
    """A gateway served on 127.0.0.1 over ``app``; stop it with :meth:`stop`."""

    app: Flask
    server: LiveServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = LiveServer(self.app)

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()

    def register(self, client_id: str, *, region: str = "", pii: str = "full",
                 permissions: dict[str, list[str]] | None = None) -> ClientKeys:
        """A client of this gateway with one new Ed25519 key (default: read and write all,
        the whole country, personal data in full — what a federating gateway needs)."""
        pair = client_keys.generate_key_pair("ed25519")
        with store.session_scope(self.app) as session:
            client = create_client(session, client_id, client_id, region_prefix=region,
                                          permissions=permissions or {"*": ["read", "write"]},
                                          pii_access=pii)
            key_id = client_keys.add_key(session, client, pair.public_pem).key_id
        return ClientKeys(client_id, key_id, pair.algorithm, pair.private_pem, pair.public_pem)

    def settings(self, keys: ClientKeys, **extra: Any) -> dict[str, Any]:
        """The standard adapter's settings for ``keys`` at this gateway."""
        return {"base_url": self.url, "client_id": keys.client_id, "key_id": keys.key_id,
                "private_key_pem": keys.private_pem.decode("ascii"), **extra}

    def adapter(self, keys: ClientKeys, **extra: Any) -> StandardAdapter:
        return StandardAdapter(self.settings(keys, **extra))

    def approve_teams(self, team_nos: Iterable[str]) -> None:
        """The remote's reviewer approves these teams (projects need an approved team)."""
        with self.app.app_context(), store.session_scope(self.app) as session:
            ctx = ServiceContext(session=session, caller=Caller(
                "reviewer", permissions={"*": frozenset({"read", "write", "review"})}),
                engine=engine(), vault=vault(), config=self.app.config)
            for team_no in team_nos:
                registration.review_team(ctx, team_no, "approve")

    def change_count(self) -> int:
        """How many changes the remote has recorded (each write that changed something)."""
        with store.session_scope(self.app) as session:
            return session.execute(select(func.count()).select_from(Change)).scalar_one()

    def sender_ids(self, client_id: str) -> dict[str, str]:
        """``{the remote's number: the id client_id sent for it}``, for every record that
        client sent: how the remote finds a sender's record again."""
        with store.session_scope(self.app) as session:
            rows = list(session.execute(
                select(Volunteer.volunteer_no, VolunteerSource.source_id)
                .join(VolunteerSource, VolunteerSource.volunteer_id == Volunteer.id)
                .where(VolunteerSource.source_system == client_id)))
            for model, number in ((Team, Team.team_no), (Project, Project.project_no),
                                  (ServiceRecord, ServiceRecord.record_no)):
                rows += session.execute(select(number, model.source_id)
                                        .where(model.source_system == client_id)).all()
        return {ours: theirs for ours, theirs in rows}


def in_sender_terms(native: dict[str, Any], entity: str, ids: dict[str, str]) -> dict[str, Any]:
    """A record read from the remote as its sender wrote it: the remote's numbers replaced by
    the sender's ids (``Remote.sender_ids``), and without the fields the remote derives
    itself (``readOnly`` in the schema: a volunteer's total hours and star level)."""
    derived = {k for k, p in schemas.load_schema("1", entity)["properties"].items()
               if p.get("readOnly")}
    return {k: (ids.get(v, v) if k in NUMBER_FIELDS and isinstance(v, str) else copy.deepcopy(v))
            for k, v in native.items() if k not in derived}


def canon(record: Any) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def wait_for_items(adapter: Adapter, entity: str, count: int, cursor: str | None = None,
                   timeout: float = 60) -> list[NativeItem]:
    """Every item after ``cursor`` once there are at least ``count``.

    On PostgreSQL the feed hands out a change once every older transaction of the remote's
    database has ended (docs/protocol.md, Pull): a change committed a moment ago may take
    a moment to appear. SQLite needs no wait.
    """
    deadline = time.monotonic() + timeout
    while True:
        items, _, _ = read_all(adapter, entity, cursor)
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.2)


# -- the records exchanged -------------------------------------------------------------------

def sample_records() -> dict[str, list[dict[str, Any]]]:
    """Three records of each of volunteer, team, project and service_record, as a gateway's
    feed gives them (its numbers, no source ids), that a remote gateway stores as they are.

    They are the contract's ``example_records`` minus what a gateway's feed never carries
    (``source_id``, ``source_updated_at``) or derives itself (a volunteer's total hours and
    star level), and with what the remote would otherwise fill in given explicitly: a
    volunteer's birth date (read from the ID card), a new team's status (2, under review:
    a push never approves a team), date-times with their +08:00 offset, a service record's
    ``source`` / ``kind`` / ``recorded_at``, every post's number. Projects take service time
    without enrolments (``recruit_scope`` 5, back-filling), so service records need only the
    volunteer and the project.
    """
    samples = example_records("volunteer", "team", "project", "service_record")
    for records in samples.values():
        for record in records:
            for key in ("source_id", "source_updated_at", "total_hours", "star_level"):
                record.pop(key, None)
    samples["volunteer"][1]["birth_date"] = "2014-09-01"
    for team in samples["team"]:
        team["status"] = "2"
    for project in samples["project"]:
        project["recruit_scope"] = "5"
        project.setdefault("posts", [])
        for n, post in enumerate(project["posts"], start=1):
            post.setdefault("post_no", f"{project['project_no']}-{n:02d}")
            for key in ("starts_at", "ends_at"):
                if key in post:
                    post[key] += "+08:00"
    teams_of = {p["project_no"]: p["team_no"] for p in samples["project"]}
    for record in samples["service_record"]:
        record["team_no"] = teams_of[record["project_no"]]
        record["status"] = "2"
        record.setdefault("source", "1")
        record.setdefault("kind", "1")
        record.setdefault("recorded_at", record["started_at"][:10])
        for key in ("started_at", "ended_at", "applied_at"):
            if key in record and not record[key].endswith("+08:00"):
                record[key] += "+08:00"
    return samples


#: What each entity's records need in the remote before they can be stored there.
PREREQUISITES = {"volunteer": (), "team": (), "project": ("team",),
                 "service_record": ("volunteer", "team", "project")}


def push_natives(remote: Remote, keys: ClientKeys, entity: str,
                 natives: list[dict[str, Any]]) -> list[str]:
    """Push records straight through the remote's push endpoint (signed, as ``keys``'s
    client); every one must be accepted. The remote's keys, in order."""
    with requests.Session() as http:
        client = GatewayClient(remote.url, keys.client_id, keys.key_id, keys.private_pem,
                               gateway_jwks="fetch", session=http)
        result = client.push(natives, entity=entity)
    assert result.all_accepted, [r["errors"] for r in result.rejected]
    return [r["key"] for r in result.results]


def put_prerequisites(remote: Remote, keys: ClientKeys, adapter: Adapter, entity: str) -> None:
    """Push the records ``entity``'s samples refer to (mapped by ``adapter``, as ``keys``'s
    client, so that the remote translates the links); the remote approves the teams."""
    samples = sample_records()
    for needed in PREREQUISITES[entity]:
        pushed = push_natives(remote, keys, needed,
                              [adapter.from_standard(needed, r) for r in samples[needed]])
        if needed == "team":
            remote.approve_teams(pushed)


class Tampering(requests.Session):
    """A man in the middle on the way back: changes the remote's answers to exchange requests.

    ``body``: a space before the body (the same JSON; its digest no longer matches);
    ``unsigned``: the signature fields removed.
    """

    def __init__(self, how: str):
        super().__init__()
        self.how = how
        self.tampered = 0

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        if "/api/v1/exchange/" in request.url and response.status_code == 200:
            self.tampered += 1
            if self.how == "body":
                response._content = b" " + response.content  # the same JSON, other bytes
            else:
                for name in ("Signature", "Signature-Input"):
                    response.headers.pop(name, None)
        return response
