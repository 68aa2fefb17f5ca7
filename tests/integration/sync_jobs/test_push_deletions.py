"""Push runs and the change feed's tombstones: sent to an adapter that can delete, counted
as skipped (with the reason) for one that cannot — never silently dropped.

Real adapters: ``national`` over a folder (``can_delete = True``) and ``zyh365`` against the
simulated platform on 127.0.0.1 (its API has no delete: ``can_delete = False``).
"""

from __future__ import annotations

import json

from gateway.caller import Caller
from gateway.exchange.upserts import Source, SourcePriority, apply_records
from gateway.services.context import ServiceContext
from gateway.store.models import utcnow
from sync_jobs import sources
from tests.integration.console.helpers import logged_in
from tests.integration.exchange_push import helpers as push_helpers
from tests.integration.sync_jobs.helpers import add_source, run

PORTAL = Caller("portal", permissions={"volunteer": frozenset({"read", "write"})}, pii_full=True)


def _apply(app, op: str, records: list[dict]) -> list[str]:
    with app.app_context(), app.extensions["store.sessionmaker"]() as session:
        ctx = ServiceContext(session=session, caller=PORTAL, engine=app.extensions["standard.engine"],
                             vault=app.extensions["privacy.vault"], config=app.config)
        outcomes = apply_records(ctx, Source(PORTAL.client_id, utcnow(), SourcePriority()),
                                 [("volunteer", op, r) for r in records])
        session.commit()
    assert all(o.status in ("created", "deleted") for o in outcomes), outcomes
    return [o.key for o in outcomes]


def _people(n: int) -> list[dict]:
    return [push_helpers.volunteer(i, area="330102", source_id=f"portal-{i}") for i in range(n)]


def _national_source(app, name: str, folder) -> None:
    with app.app_context(), app.extensions["store.sessionmaker"]() as session:
        sources.add_or_update(session, app.extensions["privacy.vault"], sources.SourceSpec(
            name=name, adapter="national", settings={"path": str(folder)}, direction="push",
            entities=["volunteer"]))
        session.commit()


def _national_entries(folder) -> dict[str, str]:
    data = json.loads((folder / "volunteer.json").read_text(encoding="utf-8"))
    return {rid: entry["op"] for rid, entry in data["records"].items()}


def test_an_adapter_that_can_delete_receives_the_tombstones(sync_app, tmp_path):
    people = _people(4)
    numbers = _apply(sync_app, "upsert", people)
    folder = tmp_path / "national"
    folder.mkdir()
    _national_source(sync_app, "national-out", folder)
    (first,) = run(sync_app, "national-out")
    assert (first.status, first.written, first.skipped) == ("succeeded", 4, 0)
    assert _national_entries(folder) == dict.fromkeys(numbers, "upsert")

    _apply(sync_app, "delete", [{"source_id": people[1]["source_id"]}])
    (second,) = run(sync_app, "national-out")

    assert (second.status, second.read, second.written, second.skipped) == ("succeeded", 1, 1, 0)
    assert second.skipped_reasons == {}
    assert _national_entries(folder) == {**dict.fromkeys(numbers, "upsert"), numbers[1]: "delete"}
    (third,) = run(sync_app, "national-out")          # nothing new: nothing sent again
    assert (third.read, third.written) == (0, 0)


def test_an_adapter_that_cannot_delete_has_its_tombstones_reported_as_skipped(
        sync_app, platform, base_url):
    people = _people(3)
    numbers = _apply(sync_app, "upsert", people)
    add_source(sync_app, "zyh-out", base_url, direction="push", entities=["volunteer"])
    (first,) = run(sync_app, "zyh-out")
    assert (first.written, first.skipped) == (3, 0) and platform.count("volunteer") == 3

    _apply(sync_app, "delete", [{"source_id": people[0]["source_id"]},
                                {"source_id": people[2]["source_id"]}])
    (second,) = run(sync_app, "zyh-out")

    assert (second.status, second.read, second.written, second.skipped) == ("succeeded", 2, 0, 2)
    (rule, why), = second.skipped_reasons.items()
    assert rule == "adapter.cannot_delete" and why["count"] == 2
    assert "zyh365" in why["message"] and "no delete" in why["message"]
    assert platform.count("volunteer") == 3            # the platform still holds them

    # The run's summary, `vgw sync status` and `vgw sync runs` say so.
    runner = sync_app.test_cli_runner()
    status = runner.invoke(args=["sync", "status"])
    assert status.exit_code == 0, status.output
    assert "last run skipped 2 (adapter.cannot_delete)" in status.output
    as_json = json.loads(runner.invoke(args=["sync", "status", "--json"]).output)
    (source,) = as_json["sources"]
    assert source["last_run"]["skipped"] == 2
    assert source["last_run"]["skipped_reasons"]["adapter.cannot_delete"]["count"] == 2
    history = runner.invoke(args=["sync", "runs", "zyh-out"])
    assert "skipped=2" in history.output and "skipped=0" in history.output
    assert numbers[0] not in status.output              # numbers stay out of the summary

    again = runner.invoke(args=["sync", "run", "zyh-out"])   # nothing new: nothing skipped
    assert again.exit_code == 0, again.output
    assert "skipped" not in again.output

    # The console's run table: a Skipped column, the reason under the run.
    operator = logged_in(sync_app, "ops", "operator")
    page = operator.get("/console/sources/zyh-out").data.decode()
    assert "未发送" in page and "adapter.cannot_delete" in page
    assert '<td class="num">2</td><td>' in page               # the run's skipped count
