"""Stored team join password hashes of the older schemes verify and become argon2id."""

from __future__ import annotations

from sqlalchemy import select

from gateway import store
from gateway.store.models import Team
from tests.integration.registration.test_membership_api import World
from tests.unit.test_passwords import LEGACY_PASSWORD, LEGACY_SCRYPT


def _set(app, model, column, key, value):
    with store.session_scope(app) as session:
        row = session.execute(select(model).where(key == value[0])).scalar_one()
        setattr(row, column, value[1])


def test_a_team_join_password_of_the_old_scheme_verifies_and_is_rehashed(store_app):
    w = World(store_app)
    _set(store_app, Team, "join_password_hash", Team.team_no, (w.teams["4"], LEGACY_SCRYPT))
    assert w.apply("4", w.volunteers[0], password="open-sesame").status_code == 422
    answer = w.apply("4", w.volunteers[0], password=LEGACY_PASSWORD)
    assert answer.status_code == 201, answer.get_json()
    with store.session_scope(store_app) as session:
        stored = session.execute(select(Team.join_password_hash).where(
            Team.team_no == w.teams["4"])).scalar_one()
    assert stored.startswith("$argon2id$")
    assert w.apply("4", w.volunteers[1], password=LEGACY_PASSWORD).status_code == 201
