"""A sync run of the national adapter in schema v2 keeps each record whole, as a v2 push does:
the v1 projection in the store's columns, the rest in national / national_enc (personal ones
encrypted), read back in v2. SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json

from sqlalchemy import select

from adapters.national import NationalAdapter, to_standard
from gateway.store.models import Volunteer
from schemas.versions import to_v2
from sync_jobs import sources
from tests.integration.sync_jobs.helpers import run
from tests.national_samples import NATIVE


def test_a_v2_sync_run_keeps_what_v1_cannot_hold(sync_app, tmp_path):
    settings = {"path": str(tmp_path / "national"), "schema_version": "2"}
    native = copy.deepcopy(NATIVE["volunteer"][0])
    NationalAdapter(settings).put_native("volunteer", [native])
    with sync_app.app_context(), sync_app.extensions["store.sessionmaker"]() as session:
        sources.add_or_update(session, sync_app.extensions["privacy.vault"], sources.SourceSpec(
            name="nat", adapter="national", settings=settings, direction="pull",
            entities=["volunteer"], schedule="", scope=None))
        session.commit()

    [result] = run(sync_app, "nat")
    assert (result.status, result.written, result.rejected) == ("succeeded", 1, 0), result
    with sync_app.extensions["store.sessionmaker"]() as session:
        row = session.execute(select(Volunteer)).scalar_one()
        plain, sealed = row.national, row.national_enc
    record = to_standard("volunteer", native, "2")
    assert plain["native_place"] == record["native_place"] == "北京"
    assert plain["service_fields"] == record["service_fields"]
    assert record["registration"]["id_number"] not in json.dumps(plain) + sealed
    with sync_app.app_context():
        opened = json.loads(sync_app.extensions["privacy.vault"].decrypt(sealed))
    assert opened["registration"] == record["registration"]
    assert to_v2("volunteer", {}, {**plain, **opened})["wechat"] == record["wechat"]
