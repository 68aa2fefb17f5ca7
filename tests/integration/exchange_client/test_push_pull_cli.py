"""``vgw push`` / ``vgw pull`` against a real gateway on 127.0.0.1 (SQLite and PostgreSQL).

The commands are run through the root ``vgw`` group, as the console script runs them; one
test runs the real process with settings that would stop the app from being built, to show
that these client commands never build it (no settings, no store).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from gateway.cli import cli
from tests.integration.exchange_client.support import (count_volunteers, other_jwks, volunteers,
                                                         wait_for_feed)


@pytest.fixture
def vgw(server, city, key_file):
    """Run ``vgw ARGS`` (credentials of the city client added); returns click's Result."""

    def run(*args: str, credentials: bool = True, **env: str):
        extra = ["--client-id", city.client_id, "--key-id", city.key_id, "--key", str(key_file)]
        # FlaskGroup sets FLASK_RUN_FROM_CLI; the isolation puts it back as it was.
        return CliRunner().invoke(cli, [*args, *(extra if credentials else [])],
                                  env={"FLASK_RUN_FROM_CLI": None, **env}, catch_exceptions=False)

    return run


def write_json(path: Path, value) -> Path:
    path.write_bytes(orjson.dumps(value))
    return path


def cursor_of(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.startswith("cursor: ")]
    return line.removeprefix("cursor: ")


def test_push_a_json_file_prints_a_summary_and_exits_0(vgw, server, store_app, tmp_path):
    path = write_json(tmp_path / "volunteers.json", list(volunteers(3)))
    result = vgw("push", str(path), "--to", server.url, "--entity", "volunteer")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ("pushed 3 record(s) in 1 batch(es): 3 created, 0 updated, "
                                     "0 unchanged, 0 deleted, 0 rejected")
    assert count_volunteers(store_app) == 3

    again = vgw("push", str(path), "--to", server.url, "--entity", "volunteer")
    assert again.exit_code == 0 and again.stdout == result.stdout, "the stored answer"
    assert count_volunteers(store_app) == 3


def test_push_lists_rejected_records_and_exits_1(vgw, server, store_app, tmp_path):
    records = list(volunteers(3))
    records[1]["mobile"] = "23800138000"
    envelope = {"schema_version": "1", "sender": "city-01", "batch_id": "city-cli-1",
                "records": [{"entity": "volunteer", "op": "upsert", "data": r} for r in records]}
    path = write_json(tmp_path / "batch.json", envelope)
    result = vgw("push", str(path), "--to", server.url, "--batch-size", "2")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("pushed 3 record(s) in 2 batch(es): 2 created")
    assert lines[0].endswith("1 rejected")
    assert lines[1].startswith(f"rejected: record 1 volunteer {records[1]['source_id']}")
    assert any(line.strip().startswith("/data/mobile [") for line in lines[2:])
    assert count_volunteers(store_app) == 2


def test_push_ndjson_streams_batches(vgw, server, store_app, tmp_path):
    path = tmp_path / "items.ndjson"
    path.write_bytes(b"".join(orjson.dumps({"entity": "volunteer", "op": "upsert", "data": v}) + b"\n"
                              for v in volunteers(30)))
    result = vgw("push", str(path), "--to", server.url, "--ndjson", "--chunk-mb", "0.005")
    assert result.exit_code == 0, result.output
    summary = result.stdout.splitlines()[0]
    assert summary.startswith("pushed 30 record(s) in ") and "30 created" in summary
    assert int(summary.split(" in ")[1].split()[0]) >= 3  # 5 KiB chunks: several batches
    assert count_volunteers(store_app) == 30


def test_push_ndjson_needs_an_ndjson_file(vgw, server, tmp_path):
    path = write_json(tmp_path / "volunteers.json", list(volunteers(1)))
    result = vgw("push", str(path), "--to", server.url, "--entity", "volunteer", "--ndjson")
    assert result.exit_code == 2 and "--ndjson" in result.stderr


def test_push_with_an_unknown_key_exits_2(server, city, key_file, store_app, tmp_path):
    path = write_json(tmp_path / "volunteers.json", list(volunteers(1)))
    result = CliRunner().invoke(cli, ["push", str(path), "--to", server.url, "--entity", "volunteer"],
                                env={"FLASK_RUN_FROM_CLI": None, "VGW_CLIENT_ID": city.client_id,
                                     "VGW_KEY_ID": "not-registered", "VGW_KEY_FILE": str(key_file)})
    assert result.exit_code == 2
    assert "401 /problems/signature-unknown-key" in result.stderr
    assert count_volunteers(store_app) == 0


def test_a_refused_batch_names_its_fields_and_exits_2(vgw, server, store_app, tmp_path):
    """A 422 invalid-envelope says which member breaks which rule, not only how many."""
    envelope = {"schema_version": "9", "sender": "city-01", "batch_id": "city-cli-bad",
                "records": [{"entity": "volunteer", "op": "upsert", "data": r} for r in volunteers(1)]}
    path = write_json(tmp_path / "batch.json", envelope)
    result = vgw("push", str(path), "--to", server.url)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert "422 /problems/invalid-envelope" in lines[0]
    assert lines[1].startswith("  /schema_version [schema.const] must be 1 / "), lines
    assert count_volunteers(store_app) == 0


def test_pull_writes_ndjson_and_prints_the_cursor(vgw, server, city, tmp_path):
    path = write_json(tmp_path / "volunteers.json", list(volunteers(7)))
    assert vgw("push", str(path), "--to", server.url, "--entity", "volunteer").exit_code == 0
    wait_for_feed(server.url, city, 7)

    out = tmp_path / "changes.ndjson"
    result = vgw("pull", "--from", server.url, "--entity", "volunteer", "--limit", "3",
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    changes = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(changes) == 7 and {c["op"] for c in changes} == {"upsert"}
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    cursor = cursor_of(result.stderr)
    assert cursor == changes[-1]["cursor"]
    assert "pulled 7 change(s)" in result.stderr

    again = vgw("pull", "--from", server.url, "--entity", "volunteer", "--since", cursor)
    assert again.exit_code == 0 and again.stdout == ""
    assert cursor_of(again.stderr) == cursor


def test_pull_to_standard_output_and_resume_with_a_cursor_file(vgw, server, city, tmp_path):
    first = write_json(tmp_path / "a.json", list(volunteers(2)))
    second = write_json(tmp_path / "b.json", list(volunteers(2, start=2)))
    cursor_file = tmp_path / "state" / "cursor"
    cursor_file.parent.mkdir()
    assert vgw("push", str(first), "--to", server.url, "--entity", "volunteer").exit_code == 0
    wait_for_feed(server.url, city, 2)

    run1 = vgw("pull", "--from", server.url, "--cursor-file", str(cursor_file))
    assert run1.exit_code == 0, run1.output
    keys1 = [json.loads(line)["key"] for line in run1.stdout.splitlines()]
    assert len(keys1) == 2
    assert cursor_file.read_text().strip() == cursor_of(run1.stderr)

    assert vgw("push", str(second), "--to", server.url, "--entity", "volunteer").exit_code == 0
    wait_for_feed(server.url, city, 2, since=cursor_file.read_text().strip())
    run2 = vgw("pull", "--from", server.url, "--cursor-file", str(cursor_file))
    keys2 = [json.loads(line)["key"] for line in run2.stdout.splitlines()]
    assert len(keys2) == 2 and not set(keys1) & set(keys2)


def test_pull_refuses_answers_that_do_not_verify(vgw, server, tmp_path):
    jwks = write_json(tmp_path / "jwks.json", other_jwks("gateway-key"))
    result = vgw("pull", "--from", server.url, "--jwks", str(jwks))
    assert result.exit_code == 2
    assert "does not verify" in result.stderr
    assert cursor_of(result.stderr) == ""


def test_the_commands_build_no_app_and_need_no_store(server, city, key_file, store_app, tmp_path):
    """Run the real ``vgw`` process with settings that stop any app from being built."""
    path = write_json(tmp_path / "volunteers.json", list(volunteers(2)))
    env = {**os.environ, "GATEWAY_NO_SUCH_SETTING": "1",
           "GATEWAY_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
           "VGW_CLIENT_ID": city.client_id, "VGW_KEY_ID": city.key_id, "VGW_KEY_FILE": str(key_file)}
    vgw = [sys.executable, "-m", "gateway.cli"]
    broken = subprocess.run([*vgw, "db", "current"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert broken.returncode != 0 and "NO_SUCH_SETTING" in broken.stderr  # the app cannot load

    push = subprocess.run([*vgw, "push", str(path), "--to", server.url, "--entity", "volunteer"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert push.returncode == 0, push.stderr
    assert "2 created" in push.stdout
    wait_for_feed(server.url, city, 2)
    pull = subprocess.run([*vgw, "pull", "--from", server.url], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert pull.returncode == 0, pull.stderr
    assert len(pull.stdout.splitlines()) == 2
    assert count_volunteers(store_app) == 2
    assert not (tmp_path / "instance").exists()


def test_pull_in_schema_version_2_gives_back_what_a_v2_push_kept(vgw, server, city, tmp_path):
    records = [dict(v, service_fields=["0003", "1301"], native_place="北京") for v in volunteers(2)]
    envelope = {"schema_version": "2", "sender": "city-01", "batch_id": "city-cli-v2",
                "records": [{"entity": "volunteer", "op": "upsert", "data": r} for r in records]}
    path = write_json(tmp_path / "batch.json", envelope)
    assert vgw("push", str(path), "--to", server.url).exit_code == 0
    wait_for_feed(server.url, city, 2)

    v2 = vgw("pull", "--from", server.url, "--entity", "volunteer", "--schema-version", "2")
    assert v2.exit_code == 0, v2.output
    changes = [json.loads(line) for line in v2.stdout.splitlines()]
    assert [c["data"]["service_fields"] for c in changes] == [["0003", "1301"]] * 2
    assert {c["data"]["native_place"] for c in changes} == {"北京"}
    v1 = vgw("pull", "--from", server.url, "--entity", "volunteer")
    assert [c["cursor"] for c in map(json.loads, v1.stdout.splitlines())] == [
        c["cursor"] for c in changes]
    assert not any("service_fields" in json.loads(line)["data"] for line in v1.stdout.splitlines())
