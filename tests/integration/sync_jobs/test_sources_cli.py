"""``vgw sources`` and ``vgw sync status``: sources in the store and in a file, checked."""

from __future__ import annotations

import json

import pytest

from tests.integration.sync_jobs.helpers import run, source_row, zyh_settings


def _add(runner, name="zyh", *extra, settings=None):
    return runner.invoke(args=["sources", "add", name, "--adapter", "zyh365", "--schedule", "every 5m",
                               "--settings", json.dumps(settings or zyh_settings("http://127.0.0.1:9")),
                               *extra])


def test_add_list_show_pause_resume_remove(store_app):
    runner = store_app.test_cli_runner()
    added = _add(runner, "zyh", "--entity", "volunteer", "--region", "3301")
    assert added.exit_code == 0, added.output

    listed = json.loads(runner.invoke(args=["sources", "list", "--json"]).output)
    assert [(s["name"], s["entities"], s["scope"]["region_prefix"]) for s in listed] == [
        ("zyh", ["volunteer"], "3301")]
    shown = runner.invoke(args=["sources", "show", "zyh"])
    assert json.loads(shown.output)["settings"]["access_key_secret"] == "***"
    assert "zyh-simulator-secret" not in shown.output
    assert "zyh-simulator-secret" not in source_row(store_app, "zyh").settings_enc  # encrypted

    assert runner.invoke(args=["sources", "pause", "zyh", "--reason", "maintenance"]).exit_code == 0
    assert (source_row(store_app, "zyh").status, source_row(store_app, "zyh").paused_reason) == (
        "paused", "maintenance")
    assert runner.invoke(args=["sources", "resume", "zyh"]).exit_code == 0
    assert source_row(store_app, "zyh").status == "active"

    updated = runner.invoke(args=["sources", "update", "zyh", "--schedule", "*/10 * * * *",
                                  "--settings", '{"page_size": 40}'])
    assert updated.exit_code == 0 and "updated" in updated.output
    assert source_row(store_app, "zyh").schedule == "*/10 * * * *"

    assert runner.invoke(args=["sources", "remove", "zyh", "--yes"]).exit_code == 0
    assert json.loads(runner.invoke(args=["sources", "list", "--json"]).output) == []


@pytest.mark.parametrize("extra, settings, named", [
    (["--schedule", "every fortnight"], None, "/schedule"),
    (["--entity", "certificate"], None, "/entities"),
    ([], {"base_url": "ftp://x", "access_key_id": "a", "access_key_secret": "b"}, "/settings/base_url"),
    ([], {"base_url": "http://127.0.0.1:9", "access_key_id": "a"}, "/settings/access_key_secret"),
    (["--region", "3x"], None, "/scope/region_prefix"),
])
def test_a_bad_source_is_refused_naming_the_field(store_app, extra, settings, named):
    result = _add(store_app.test_cli_runner(), "zyh", *extra, settings=settings)
    assert result.exit_code == 1 and named in result.output
    assert json.loads(store_app.test_cli_runner().invoke(args=["sources", "list", "--json"]).output) == []


def test_unknown_adapter_and_names_taken_by_clients_are_refused(store_app):
    runner = store_app.test_cli_runner()
    unknown = runner.invoke(args=["sources", "add", "x", "--adapter", "nope", "--settings", "{}"])
    assert unknown.exit_code == 1 and "no adapter named 'nope'" in unknown.output
    assert runner.invoke(args=["clients", "add", "city-01", "--name", "City"]).exit_code == 0
    taken = _add(runner, "city-01")
    assert taken.exit_code == 1 and "/name" in taken.output
    assert _add(runner, "Bad Name").exit_code == 1


def test_sources_file_declares_and_updates_sources_with_secrets_from_the_environment(
        store_app, tmp_path, monkeypatch):
    path = tmp_path / "sources.toml"
    path.write_text('''
[sources.js-zyh]
adapter = "zyh365"
direction = "pull"
entities = ["volunteer", "team"]
schedule = "every 5m"
scope = { region_prefix = "33", pii = "full" }

[sources.js-zyh.settings]
base_url = "http://127.0.0.1:9"
access_key_id = "gateway"
access_key_secret = "${JS_ZYH_SECRET}"
''', encoding="utf-8")
    runner = store_app.test_cli_runner()
    missing = runner.invoke(args=["sources", "apply", str(path)])
    assert missing.exit_code == 1 and "JS_ZYH_SECRET is not set" in missing.output
    monkeypatch.setenv("JS_ZYH_SECRET", "from-the-environment")

    assert "js-zyh: created" in runner.invoke(args=["sources", "apply", str(path)]).output
    assert "js-zyh: unchanged" in runner.invoke(args=["sources", "apply", str(path)]).output
    path.write_text(path.read_text(encoding="utf-8").replace("every 5m", "every 10m"), encoding="utf-8")
    assert "js-zyh: updated" in runner.invoke(args=["sources", "apply", str(path)]).output
    row = source_row(store_app, "js-zyh")
    assert (row.schedule, row.declared_in) == ("every 10m", str(path))

    path.write_text("[sources.bad]\nadapter = \"zyh365\"\nschedule = \"sometimes\"\n", encoding="utf-8")
    bad = runner.invoke(args=["sources", "apply", str(path)])
    assert bad.exit_code == 1 and "/sources/bad/settings" in bad.output


def test_sync_status_tells_the_truth(sync_app, platform, base_url):
    from tests.integration.sync_jobs.helpers import add_source

    platform.seed(volunteers=30)
    add_source(sync_app, "good", base_url, entities=["volunteer"], schedule="every 1m")
    add_source(sync_app, "narrow", base_url, entities=["volunteer"],
               scope={"region_prefix": "330102", "pii": "full"})
    run(sync_app, "good")
    run(sync_app, "narrow")
    runner = sync_app.test_cli_runner()

    data = json.loads(runner.invoke(args=["sync", "status", "--json"]).output)
    by_name = {s["name"]: s for s in data["sources"]}
    assert data["retries"] == "on"
    assert by_name["good"]["last_run"]["status"] == "succeeded" and by_name["good"]["lag_seconds"] == 0
    assert by_name["good"]["dead_letters_pending"] == 0 and by_name["good"]["last_success_at"]
    assert by_name["good"]["cursors"] == {"pull:volunteer": "volunteer:30"}
    assert by_name["narrow"]["last_run"]["status"] == "partial"
    assert by_name["narrow"]["dead_letters_pending"] == by_name["narrow"]["last_run"]["dead_lettered"] > 0

    assert runner.invoke(args=["sync", "retries", "off"]).exit_code == 0
    table = runner.invoke(args=["sync", "status"]).output
    assert "RETRIES ARE OFF" in table and "good" in table and "narrow" in table

    manual = runner.invoke(args=["sync", "run", "good", "--json"])
    assert manual.exit_code == 0 and json.loads(manual.output)[0]["read"] == 0
    assert runner.invoke(args=["sync", "run", "missing"]).exit_code == 1


def test_the_console_reads_the_same_status_over_http(sync_app, platform, base_url, caller):
    from tests.integration.sync_jobs.helpers import add_source

    platform.seed(volunteers=5)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    run(sync_app, "zyh")
    http = sync_app.test_client()
    admin = caller(sync_app, "console", perms={"sync": ["read"]})
    nobody = caller(sync_app, "portal", perms={"volunteer": ["read"]})

    answer = http.get("/api/v1/sync/status", headers=admin)
    assert answer.status_code == 200
    (source,) = answer.get_json()["sources"]
    assert (source["name"], source["last_run"]["written"], source["lag_seconds"]) == ("zyh", 5, 0)
    assert "settings" not in source and "zyh-simulator-secret" not in answer.get_data(as_text=True)
    assert http.get("/api/v1/sync/status", headers=nobody).status_code == 403
    assert http.get("/api/v1/sync/status").status_code == 401


def test_adding_the_same_source_again_is_not_an_error_another_definition_is(store_app):
    """The README's tour adds demo-zyh every time it is run (issue 12, item 5)."""
    runner = store_app.test_cli_runner()
    assert _add(runner, "zyh", "--entity", "volunteer").exit_code == 0
    before = source_row(store_app, "zyh").updated_at
    again = _add(runner, "zyh", "--entity", "volunteer")
    assert again.exit_code == 0 and "source zyh exists, unchanged" in again.output, again.output
    assert source_row(store_app, "zyh").updated_at == before
    other = _add(runner, "zyh", "--entity", "volunteer",
                 settings={**zyh_settings("http://127.0.0.1:9"), "access_key_secret": "another"})
    assert other.exit_code == 1 and "exists with another definition" in other.output
    assert _add(runner, "zyh", "--entity", "team").exit_code == 1
    assert len(json.loads(runner.invoke(args=["sources", "list", "--json"]).output)) == 1
