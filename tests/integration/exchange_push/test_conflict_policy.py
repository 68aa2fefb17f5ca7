"""Conflicts between sources: SOURCE_PRIORITY first, then the newer source_updated_at; per
field for volunteers (with provenance), per record for teams and projects."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import bindparam, select, text

from gateway import store
from gateway.store.models import Project, Team, Volunteer
from gateway.store.models.common import Json
from tests import factories
from tests.integration.exchange import helpers as exchange_helpers
from tests.integration.exchange_push import helpers as h


@pytest.fixture
def clients(store_app, city):
    """province-01 outranks city-01; county-09 and county-10 are not listed (equal, lowest)."""
    store_app.config["SOURCE_PRIORITY"] = "province-01, city-01"
    return {"city-01": city, **{name: exchange_helpers.register_client(store_app, name)
                                for name in ("province-01", "county-09", "county-10")}}


def _push(server, clients, sender, *items):
    answer = h.push(server, clients[sender], h.envelope(list(items), sender=sender))
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]


def _volunteer(app, key):
    with app.app_context():
        (row,), = h.rows(app, select(Volunteer).where(Volunteer.volunteer_no == key))
        from gateway.privacy import vault

        email = (row.data or {}).get("email")
        return {"name": row.name, "email": email, "address": (row.data or {}).get("address"),
                "mobile": vault().decrypt(row.mobile_enc), "provenance": row.provenance}


def test_a_higher_priority_source_owns_the_fields_it_provided(store_app, server, clients):
    person = h.volunteer(1, name="王一", email="one@example.com", source_updated_at="2024-03-01T10:00:00")
    (created,) = _push(server, clients, "city-01", h.item("volunteer", person))
    key = created["key"]
    assert _volunteer(store_app, key)["provenance"]["name"] == {
        "source": "city-01", "at": "2024-03-01T02:00:00+00:00"}

    # the province outranks the city: its name wins even with an older timestamp
    province = h.volunteer(1, name="王二", source_updated_at="2024-02-01T10:00:00",
                           source_id="prov-1", email=None)
    province.pop("email")
    (result,) = _push(server, clients, "province-01", h.item("volunteer", province))
    assert result["status"] == "updated" and result["key"] == key
    stored = _volunteer(store_app, key)
    assert stored["name"] == "王二" and stored["email"] == "one@example.com"
    assert stored["provenance"]["name"]["source"] == "province-01"
    assert stored["provenance"]["email"]["source"] == "city-01"

    # the city, later and newer: its e-mail changes, the province's name stays (with a note)
    city = h.volunteer(1, name="王三", email="three@example.com", source_updated_at="2024-05-01T10:00:00")
    (result,) = _push(server, clients, "city-01", h.item("volunteer", city))
    assert result["status"] == "updated"
    assert result["note"] == ("1 field(s) kept as provided by a higher-priority or newer source: name")
    stored = _volunteer(store_app, key)
    assert (stored["name"], stored["email"]) == ("王二", "three@example.com")
    assert stored["provenance"]["email"] == {"source": "city-01", "at": "2024-05-01T02:00:00+00:00"}

    # only an overruled field changed: the record is unchanged, with the note
    city = dict(city, name="王四", source_updated_at="2024-06-01T10:00:00")
    (result,) = _push(server, clients, "city-01", h.item("volunteer", city))
    assert result["status"] == "unchanged" and "name" in result["note"]
    assert _volunteer(store_app, key)["name"] == "王二"

    # an unlisted source ranks below both: nothing it sends overrides them
    county = dict(city, email="county@example.com", mobile="13911110000", source_id="cty-1",
                  source_updated_at="2024-07-01T10:00:00")
    (result,) = _push(server, clients, "county-09", h.item("volunteer", county))
    assert result["status"] == "unchanged"
    assert result["note"].startswith("3 field(s) kept")
    stored = _volunteer(store_app, key)
    assert stored["email"] == "three@example.com" and stored["mobile"] == h.volunteer(1)["mobile"]

    # nor may it delete the person
    (result,) = _push(server, clients, "county-09",
                      h.item("volunteer", {"source_id": "cty-1"}, op="delete"))
    assert result["status"] == "unchanged" and "higher-priority" in result["note"]
    (deleted_at,), = h.rows(store_app, select(Volunteer.deleted_at).where(Volunteer.volunteer_no == key))
    assert deleted_at is None


def test_between_equal_priorities_the_newer_source_time_wins(store_app, server, clients):
    first = h.volunteer(2, address="北京市朝阳区一号", source_updated_at="2024-03-01T10:00:00",
                        source_id="c9-2")
    (created,) = _push(server, clients, "county-09", h.item("volunteer", first))
    key = created["key"]
    older = dict(first, address="北京市朝阳区二号", source_updated_at="2024-02-01T10:00:00",
                 source_id="c10-2")
    (result,) = _push(server, clients, "county-10", h.item("volunteer", older))
    assert result["status"] == "unchanged" and "address" in result["note"]
    same_time = dict(older, source_updated_at="2024-03-01T10:00:00")
    (result,) = _push(server, clients, "county-10", h.item("volunteer", same_time))
    assert result["status"] == "unchanged"
    newer = dict(older, source_updated_at="2024-04-01T10:00:00")
    (result,) = _push(server, clients, "county-10", h.item("volunteer", newer))
    assert result["status"] == "updated" and "note" not in result
    stored = _volunteer(store_app, key)
    assert stored["address"] == "北京市朝阳区二号"
    assert stored["provenance"]["address"] == {"source": "county-10", "at": "2024-04-01T02:00:00+00:00"}
    # a winning source becomes the provider of every field it sent, changed or not
    assert stored["provenance"]["name"]["source"] == "county-10"


def test_teams_follow_the_policy_at_record_level(store_app, server, clients):
    team = h.team(5, source_updated_at="2024-01-10T09:00:00")
    (created,) = _push(server, clients, "city-01", h.item("team", team))
    key = created["key"]

    def name():
        (value,), = h.rows(store_app, select(Team.name).where(Team.team_no == key))
        return value

    # a lower-priority source finds the team by its credit code but cannot change it
    lower = dict(team, name="县里改的名字", source_id="c9-team", source_updated_at="2024-06-01T09:00:00")
    (result,) = _push(server, clients, "county-09", h.item("team", lower))
    assert (result["status"], result["key"]) == ("unchanged", key) and "note" in result
    # a higher one can, even with an older time
    higher = dict(team, name="省里改的名字", source_id="p-team", source_updated_at="2023-12-01T09:00:00")
    (result,) = _push(server, clients, "province-01", h.item("team", higher))
    assert result["status"] == "updated" and name() == "省里改的名字"
    (provenance,), = h.rows(store_app, select(Team.provenance).where(Team.team_no == key))
    assert provenance == {"source": "province-01", "at": "2023-12-01T01:00:00+00:00"}
    # and the city, though newer, no longer can
    city = dict(team, name="市里改的名字", source_updated_at="2024-08-01T09:00:00")
    (result,) = _push(server, clients, "city-01", h.item("team", city))
    assert result["status"] == "unchanged" and name() == "省里改的名字"


def test_equal_sources_update_a_team_only_with_a_newer_time(store_app, server, clients):
    team = h.team(6, source_updated_at="2024-03-01T09:00:00", source_id="c9-6")
    (created,) = _push(server, clients, "county-09", h.item("team", team))
    older = dict(team, name="旧名字", source_id="c10-6", source_updated_at="2024-02-01T09:00:00")
    assert _push(server, clients, "county-10", h.item("team", older))[0]["status"] == "unchanged"
    newer = dict(older, source_updated_at="2024-04-01T09:00:00")
    assert _push(server, clients, "county-10", h.item("team", newer))[0]["status"] == "updated"
    (name,), = h.rows(store_app, select(Team.name).where(Team.team_no == created["key"]))
    assert name == "旧名字"


def test_a_projects_stale_version_is_kept_out(store_app, server, clients, seeder):
    team_no = seeder.approved_team()
    project = factories.project(team_no=team_no, source_id="proj-7",
                                source_updated_at="2024-03-20T16:45:00")
    (created,) = _push(server, clients, "city-01", h.item("project", project))
    renamed = dict(project, name="改名后的项目", source_updated_at="2024-03-21T08:00:00")
    (result,) = _push(server, clients, "city-01", h.item("project", renamed))
    assert result["status"] == "updated"
    stale = dict(project, name="过时的名字", source_updated_at="2024-03-19T08:00:00")
    (result,) = _push(server, clients, "city-01", h.item("project", stale))
    assert result["status"] == "unchanged" and "note" in result
    (name, provenance), = h.rows(store_app, select(Project.name, Project.provenance).where(
        Project.project_no == created["key"]))
    assert name == "改名后的项目"
    assert provenance == {"source": "city-01", "at": "2024-03-21T00:00:00+00:00"}


def _stored_provenance(app, key):
    """The provenance column as the database holds it (no column type in between)."""
    (raw,), = h.rows(app, text("SELECT provenance FROM volunteers WHERE volunteer_no = :k")
                     .bindparams(k=key))
    return orjson.loads(raw) if isinstance(raw, (str, bytes)) else raw


def test_provenance_is_stored_one_entry_per_stamp_and_older_rows_still_read(store_app, server,
                                                                            clients):
    """A new person's provenance is stored as one stamp and its fields (the bulk path, COPY on
    PostgreSQL); an update through the ORM stores each stamp once too; a row holding the
    mapping form written before is read and merged as it always was."""
    person = h.volunteer(3, email="three@example.com", source_updated_at="2024-03-01T10:00:00")
    (created,) = _push(server, clients, "city-01", h.item("volunteer", person))
    key = created["key"]
    city = {"source": "city-01", "at": "2024-03-01T02:00:00+00:00"}
    (entry,) = _stored_provenance(store_app, key)
    assert entry[0] == city and set(entry[1].split(" ")) == set(_volunteer(store_app, key)["provenance"])

    province = h.volunteer(3, name="王五", source_updated_at="2024-02-01T10:00:00",
                           source_id="prov-3")  # no e-mail: the city's stays
    (result,) = _push(server, clients, "province-01", h.item("volunteer", province))
    assert result["status"] == "updated"
    stored = {tuple(sorted(stamp.items())): set(names.split(" "))
              for stamp, names in _stored_provenance(store_app, key)}
    assert len(stored) == 2 and "email" in stored[tuple(sorted(city.items()))]
    mapping = _volunteer(store_app, key)["provenance"]
    assert mapping["name"]["source"] == "province-01" and mapping["email"] == city

    # the mapping form of before, written straight into the row: read as it was
    older = {name: ("county-09" if name == "email" else stamp) for name, stamp in mapping.items()}
    with store.session_scope(store_app) as session:
        session.execute(text("UPDATE volunteers SET provenance = :p WHERE volunteer_no = :k")
                        .bindparams(bindparam("p", type_=Json), k=key), {"p": older})
    assert isinstance(_stored_provenance(store_app, key), dict)
    assert _volunteer(store_app, key)["provenance"] == older
    # the city now outranks the e-mail's bare-string provider: its e-mail wins
    again = dict(person, email="new@example.com", source_updated_at="2024-05-01T10:00:00")
    (result,) = _push(server, clients, "city-01", h.item("volunteer", again))
    assert result["status"] == "updated" and _volunteer(store_app, key)["email"] == "new@example.com"
    assert isinstance(_stored_provenance(store_app, key), list)
