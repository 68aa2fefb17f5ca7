"""Two gateways federating volunteers, teams, projects and service records both ways at once.

Gateway A (``store_app``: SQLite, then PostgreSQL) and gateway B (a SQLite file of its own)
each serve their whole app on 127.0.0.1 and each has its own local system, which pushes its
records in. Real sync runs (``sync_jobs.engine.run_source``) move records between them
through the standard adapter, every request signed and every answer verified. Three ways of
wiring "both directions":

* ``one-source``: A has one source for B, direction ``both`` (pushes there, pulls from there);
  B has none, only A's client.
* ``push-push``: each pushes to the other (``peer_client_id``: the other's client here).
* ``pull-pull``: each pulls the other's feed (``peer_source_name``: the other's source there).

After several rounds of new local records and runs on both sides, each gateway holds every
record exactly once (none twice), and a round with nothing new writes nothing anywhere and
records no change (no echo); deletions made by either local system reach the other gateway
the same way, once. Without the origin filter (the feed's ``origin`` ignored by the
adapter's reads and the engine's push) every wiring fails: the echoed service records come
back as second copies, refused as overlapping the first, into the dead letters.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway import create_app
from gateway.store.models import Change, DeadLetter, Project, ServiceRecord, Team, Volunteer
from sync_jobs import engine, sources
from tests.integration.adapters_standard.support import Remote, push_natives, sample_records
from tests.integration.exchange.helpers import ClientKeys
from tests.integration.exchange_client.support import volunteers

FEDERATED = ["volunteer", "team", "project", "service_record"]
WIRINGS = ["one-source", "push-push", "pull-pull"]


@dataclass
class Side:
    """One gateway: its app served on 127.0.0.1, its local system, the sources it runs."""

    name: str
    remote: Remote
    local: ClientKeys
    team_no: str = ""                 # the local system's numbers for its team and project
    project_no: str = ""
    people: list[str] = field(default_factory=list)   # its volunteers' source ids
    sources: list[str] = field(default_factory=list)
    next_person: int = 0

    @property
    def app(self):
        return self.remote.app


def _count(app, stmt) -> int:
    with app.extensions["store.sessionmaker"]() as session:
        return session.execute(stmt).scalar_one()


def holdings(app) -> dict[str, int]:
    """Live records of each entity, and how many distinct ones (a second copy shows)."""
    return {
        "volunteers": _count(app, select(func.count()).select_from(Volunteer)
                             .where(Volunteer.deleted_at.is_(None))),
        "teams": _count(app, select(func.count()).select_from(Team)),
        "distinct teams": _count(app, select(func.count(func.distinct(Team.uscc)))),
        "projects": _count(app, select(func.count()).select_from(Project)
                           .where(Project.status != "9")),
        "distinct projects": _count(app, select(func.count(func.distinct(Project.name)))
                                    .where(Project.status != "9")),
        "service records": _count(app, select(func.count()).select_from(ServiceRecord)
                                  .where(ServiceRecord.status != "3")),
        "distinct service records": _count(app, select(func.count(func.distinct(
            ServiceRecord.started_at))).where(ServiceRecord.status != "3")),
        "dead letters": _count(app, select(func.count()).select_from(DeadLetter)),
    }


def dead_letters(app) -> list[tuple[str, str, str | None, Any]]:
    """``(direction, entity, rule, reason)`` of every dead letter (for failure reports)."""
    with app.extensions["store.sessionmaker"]() as session:
        return [(d.direction, d.entity, d.rule, d.reason)
                for d in session.execute(select(DeadLetter)).scalars()]


def changes(app) -> int:
    return _count(app, select(func.count()).select_from(Change))


def add_source(side: Side, name: str, peer: Side, keys: ClientKeys, direction: str,
               entities: list[str], **settings: Any) -> None:
    app = side.app
    with app.app_context(), app.extensions["store.sessionmaker"]() as session:
        sources.add_or_update(session, app.extensions["privacy.vault"], sources.SourceSpec(
            name=name, adapter="standard", settings=peer.remote.settings(keys, **settings),
            direction=direction, entities=entities), update=True)
        session.commit()
    if name not in side.sources:
        side.sources.append(name)


def sync_round(*sides: Side) -> list[engine.RunResult]:
    """Every source of every side, once, A's first: what the runs did."""
    results = []
    for side in sides:
        for name in side.sources:
            with side.app.app_context():
                done = engine.run_source(side.app, name, sleep=lambda _s: None)
            assert done is not None
            assert all(r.status == "succeeded" for r in done), (
                side.name, name, [(r.status, r.errors) for r in done], dead_letters(side.app))
            results += done
    return results


def settle(a: Side, b: Side, rounds: int = 3) -> None:
    for _ in range(rounds):
        sync_round(a, b)


# -- the local systems ------------------------------------------------------------------------

def local_team(side: Side, index: int) -> None:
    """The side's local system pushes a team, which the side's reviewer approves."""
    team = sample_records()["team"][index]
    (team_key,) = push_natives(side.remote, side.local, "team", [team])
    side.remote.approve_teams([team_key])
    side.team_no = team["team_no"]


def local_project(side: Side, index: int) -> None:
    """The side's local system pushes a back-filling project of its team."""
    project = sample_records()["project"][index]
    push_natives(side.remote, side.local, "project", [project])
    side.project_no = project["project_no"]


def local_people_and_hours(side: Side, count: int, offset: int) -> None:
    """``count`` new volunteers of the side's local system, each with one service record."""
    people = list(volunteers(count, start=offset + side.next_person, prefix=f"{side.name}-city"))
    push_natives(side.remote, side.local, "volunteer", people)
    records = []
    for person in people:
        n = offset + side.next_person
        side.next_person += 1
        day = 1 + n % 28
        records.append({
            "record_no": f"R{side.name.upper()}{n:05d}", "volunteer_no": person["source_id"],
            "project_no": side.project_no, "team_no": side.team_no,
            "started_at": f"2024-05-{day:02d}T{9 + (n // 28) % 8:02d}:00:00+08:00",
            "ended_at": f"2024-05-{day:02d}T{9 + (n // 28) % 8:02d}:45:00+08:00", "hours": 0.75,
            "source": "1", "status": "2", "kind": "1", "recorded_at": f"2024-05-{day:02d}"})
    push_natives(side.remote, side.local, "service_record", records)
    side.people += [p["source_id"] for p in people]


# -- the gateways ------------------------------------------------------------------------------

@pytest.fixture
def gateways(store_app, sqlite_template, tmp_path):
    path = tmp_path / "b.sqlite3"
    shutil.copy(sqlite_template, path)
    b_app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}",
                        "KEYS_DIR": str(tmp_path / "b-keys"), "DEV_TOKENS": True})
    for app in (store_app, b_app):
        app.config.update(SYNC_RETRY_BACKOFF_SECONDS=0, SYNC_RETRY_MAX_BACKOFF_SECONDS=0)
    a_remote, b_remote = Remote(store_app), Remote(b_app)
    try:
        a = Side("a", a_remote, a_remote.register("city-a"))
        b = Side("b", b_remote, b_remote.register("city-b"))
        yield a, b
    finally:
        a_remote.stop()
        b_remote.stop()
        b_app.extensions["store.engine"].dispose()


def wire(a: Side, b: Side, wiring: str, entities: list[str]) -> None:
    """The sources of ``wiring`` (see the module docstring) over ``entities``."""
    a_at_b, b_at_a = getattr(a, "_at_peer", None), getattr(b, "_at_peer", None)
    if a_at_b is None:
        a_at_b = a._at_peer = b.remote.register("gw-a")    # A's client at B
        b_at_a = b._at_peer = a.remote.register("gw-b")    # B's client at A
    if wiring == "one-source":
        add_source(a, "fed-b", b, a_at_b, "both", entities)
    elif wiring == "push-push":
        add_source(a, "push-b", b, a_at_b, "push", entities, peer_client_id="gw-b")
        add_source(b, "push-a", a, b_at_a, "push", entities, peer_client_id="gw-a")
    else:
        add_source(a, "pull-b", b, a_at_b, "pull", entities, peer_source_name="pull-a")
        add_source(b, "pull-a", a, b_at_a, "pull", entities, peer_source_name="pull-b")


def federate_teams(a: Side, b: Side, wiring: str) -> None:
    """Teams first: the receiving gateway puts a team under review (a push never approves
    one), and projects need an approved team. Each side approves the other's team; then
    every entity is federated and the local systems publish their projects."""
    local_team(a, 0)
    local_team(b, 2)
    wire(a, b, wiring, ["team"])
    sync_round(a, b)
    for side in (a, b):
        with side.app.app_context(), side.app.extensions["store.sessionmaker"]() as session:
            waiting = session.execute(select(Team.team_no).where(Team.status == "2")).scalars().all()
        assert len(waiting) == 1, f"{side.name}: the other side's team, once ({waiting})"
        side.remote.approve_teams(waiting)
    settle(a, b, 2)
    wire(a, b, wiring, FEDERATED)
    local_project(a, 0)
    local_project(b, 2)


@pytest.mark.parametrize("wiring", WIRINGS)
def test_two_gateways_federate_both_ways_without_duplicates_or_echo(gateways, wiring):
    a, b = gateways
    federate_teams(a, b, wiring)

    expected = {"volunteers": 0, "teams": 2, "distinct teams": 2, "projects": 2,
                "distinct projects": 2, "service records": 0, "distinct service records": 0,
                "dead letters": 0}
    for new_people in (3, 2, 1):            # new local records on both sides, then runs
        local_people_and_hours(a, new_people, 0)
        local_people_and_hours(b, new_people, 500)
        settle(a, b)
        for key in ("volunteers", "service records", "distinct service records"):
            expected[key] += 2 * new_people
        assert holdings(a.app) == expected, "gateway A"
        assert holdings(b.app) == expected, "gateway B"

        # Nothing new: a round moves nothing and records no change anywhere (no echo).
        before = changes(a.app), changes(b.app)
        quiet = sync_round(a, b)
        assert [(r.source, r.direction, r.written) for r in quiet if r.written] == []
        assert (changes(a.app), changes(b.app)) == before

    # Deletions cross too (tombstones; the standard adapter deletes), and do not echo: each
    # local system withdraws its first service record and deletes its first volunteer.
    for side in (a, b):
        first = f"R{side.name.upper()}{0 if side is a else 500:05d}"
        push_natives(side.remote, side.local, "service_record",
                     [{"entity": "service_record", "op": "delete", "data": {"source_id": first}}])
        push_natives(side.remote, side.local, "volunteer",
                     [{"entity": "volunteer", "op": "delete", "data": {"source_id": side.people[0]}}])
    settle(a, b)
    expected["service records"] -= 2
    expected["distinct service records"] -= 2
    expected["volunteers"] -= 2
    assert holdings(a.app) == expected, "gateway A"
    assert holdings(b.app) == expected, "gateway B"
    before = changes(a.app), changes(b.app)
    assert [r.written for r in sync_round(a, b) if r.written] == []
    assert (changes(a.app), changes(b.app)) == before

    # Each side holds the other's records as the other's: people by their documents, and a
    # service record of B's local system at A is linked to B's volunteer and project there.
    with a.app.extensions["store.sessionmaker"]() as session:
        names = set(session.execute(select(Project.name)).scalars())
    assert names == {sample_records()["project"][0]["name"], sample_records()["project"][2]["name"]}


def test_the_feed_says_who_wrote_each_change(gateways):
    """``origin``: the pushing client, or the sync source whose pull brought the change."""
    a, b = gateways
    local_team(a, 0)
    local_project(a, 0)
    add_source(b, "pull-a", a, a.remote.register("gw-b"), "pull", ["team"])
    sync_round(b)
    with b.remote.adapter(b.remote.register("reader")) as reader:
        page = reader.client.changes_page(None, None, 10)
    # B's copy of A's team, brought by B's source pull-a
    assert [(c["entity"], c["origin"]) for c in page.changes] == [("team", "pull-a")]
    with a.remote.adapter(a.remote.register("reader-a")) as reader_a:
        page_a = reader_a.client.changes_page(None, None, 10)
    # A's team: pushed by its local system, then approved by A's reviewer; its project pushed.
    assert [c["origin"] for c in page_a.changes] == ["city-a", "reviewer", "city-a"]
