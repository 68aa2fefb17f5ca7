"""docs/protocol.md's Push, Pull and Python client examples run as written against a real gateway.

Each fenced block after ``<!-- example: NAME -->`` is written to a file and run in its own
process (python or bash) with only the environment an integrator would set: BASE_URL,
CLIENT_ID, KEY_ID, KEY_FILE (and SINCE / CURSOR_FILE where the example reads them). The
gateway is the whole app on 127.0.0.1 over SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.integration.exchange_client.support import count_volunteers, volunteers, wait_for_feed

DOC = Path(__file__).parents[3] / "docs" / "protocol.md"
MINE = ("push-curl", "push-requests", "pull-requests", "pull-curl", "python-client-push",
        "python-client-pull", "cli-push", "cli-pull")
#: Examples of earlier sections, run by tests/integration/exchange/test_protocol_doc.py.
ELSEWHERE = ("curl-openssl", "python-requests")
needs_curl = pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")
                                     and shutil.which("bash")), reason="needs bash, curl, openssl")


def example(name: str) -> str:
    """The fenced code block right after ``<!-- example: name -->`` in docs/protocol.md."""
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)\n```",
                      DOC.read_text("utf-8"), re.S)
    assert match, f"no example {name!r} in {DOC}"
    return match.group(1)


def test_every_example_in_the_document_is_run_by_a_test():
    names = re.findall(r"<!-- example: ([\w-]+) -->", DOC.read_text("utf-8"))
    assert sorted(names) == sorted(MINE + ELSEWHERE)


@pytest.fixture
def integrator(server, city, key_file, tmp_path):
    """Runs an example as an integrator would: own folder, own environment, no gateway code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "VGW_"))}
    env.pop("SINCE", None)
    env.update(BASE_URL=server.url, CLIENT_ID=city.client_id, KEY_ID=city.key_id,
               KEY_FILE=str(key_file), PATH=f"{Path(sys.executable).parent}{os.pathsep}"
                                            f"{env.get('PATH', '')}")
    work = tmp_path / "integrator"
    work.mkdir()

    def run(name: str, **extra: str) -> str:
        code = example(name)
        is_bash = code.startswith("#!/usr/bin/env bash")
        script = work / (f"{name}.sh" if is_bash else f"{name}.py")
        script.write_text(code, encoding="utf-8")
        command = ["bash", str(script)] if is_bash else [sys.executable, str(script)]
        done = subprocess.run(command, env={**env, **extra}, cwd=work, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run.work = work
    run.settle = lambda expected, **kw: wait_for_feed(server.url, city, expected, **kw)
    return run


def test_push_with_requests_only(integrator, store_app):
    first = integrator("push-requests").splitlines()
    assert json.loads(first[0]) == {"total": 1, "created": 1, "updated": 0, "unchanged": 0,
                                    "deleted": 0, "rejected": 0}
    index, status, key, errors = first[1].split(" ", 3)
    assert (index, status, json.loads(errors)) == ("0", "created", [])
    assert key.startswith("V110105")
    # Run again: same bytes, same Idempotency-Key: the stored answer, nothing stored twice.
    assert integrator("push-requests").splitlines() == first
    assert count_volunteers(store_app) == 1


@needs_curl
def test_push_with_curl_and_openssl(integrator, store_app, city):
    """The curl push example as written: signed, with its Idempotency-Key; run twice, one copy."""
    envelope = {"schema_version": "1", "sender": city.client_id, "batch_id": "curl-0001",
                "records": [{"entity": "volunteer", "op": "upsert", "data": next(iter(volunteers(1)))}]}
    body = integrator.work / "batch.json"
    body.write_bytes(orjson.dumps(envelope))
    first = json.loads(integrator("push-curl", BODY_FILE=str(body)))
    assert first["summary"]["created"] == 1 and first["summary"]["rejected"] == 0, first
    # the key it sent is the one the page derives (and the Python client would send)
    import hashlib

    from gateway.exchange.client import idempotency_key_for

    assert first["idempotency_key"] == idempotency_key_for(hashlib.sha256(body.read_bytes()).digest())
    assert json.loads(integrator("push-curl", BODY_FILE=str(body))) == first  # the stored answer
    assert count_volunteers(store_app) == 1


def test_pull_one_verified_page_with_requests_only(integrator):
    integrator("push-requests")
    integrator.settle(1)
    lines = integrator("pull-requests").splitlines()
    assert len(lines) == 2
    cursor, entity, op, key = lines[0].split(" ")
    assert (entity, op) == ("volunteer", "upsert") and key.startswith("V110105")
    assert lines[1] == f"next_cursor {cursor} has_more False"
    # From the saved cursor: nothing new.
    assert integrator("pull-requests", SINCE=cursor).splitlines() == [lines[1]]


@needs_curl
def test_pull_with_curl_and_openssl(integrator):
    integrator("push-requests")
    integrator.settle(1)
    page = json.loads(integrator("pull-curl"))
    (change,) = page["changes"]
    assert change["entity"] == "volunteer" and change["op"] == "upsert"
    assert "*" in change["data"]["id_number"], "masked for this client"
    assert page["next_cursor"] == change["cursor"] and page["has_more"] is False
    again = json.loads(integrator("pull-curl", SINCE=page["next_cursor"]))
    assert again == {"changes": [], "next_cursor": page["next_cursor"], "has_more": False}


def test_the_python_client(integrator, store_app):
    pushed = integrator("python-client-push").splitlines()
    assert pushed == ["pushed: {'total': 1, 'created': 1, 'updated': 0, 'unchanged': 0, "
                      "'deleted': 0, 'rejected': 0}"]
    # Run again (say after a crash): the same body and key, so the stored answer.
    assert integrator("python-client-push").splitlines() == pushed
    assert count_volunteers(store_app) == 1

    integrator.settle(1)
    cursor_file = integrator.work / "state.cursor"
    pulled = integrator("python-client-pull", CURSOR_FILE=str(cursor_file)).splitlines()
    assert len(pulled) == 1 and pulled[0].startswith("upsert V110105")
    saved = cursor_file.read_text()
    # The next run starts at the saved cursor: nothing new.
    assert integrator("python-client-pull", CURSOR_FILE=str(cursor_file)) == ""
    assert cursor_file.read_text() == saved


def test_the_command_line(integrator, store_app):
    records = list(volunteers(5))
    records[3]["gender"] = "7"  # rejected: the example goes on (exit status 1)
    (integrator.work / "volunteers.ndjson").write_bytes(
        b"".join(orjson.dumps(r) + b"\n" for r in records))
    integrator("cli-push")
    assert count_volunteers(store_app) == 4
    integrator.settle(4)
    integrator("cli-pull")
    changes = (integrator.work / "changes.ndjson").read_text("utf-8").splitlines()
    assert len(changes) == 4
    cursor = (integrator.work / "cursor.txt").read_text().strip()
    assert cursor == json.loads(changes[-1])["cursor"]
    # Again: the push gets its stored answers, the pull finds nothing after the cursor and
    # leaves the unread file and the cursor as they were (docs/protocol.md, --out).
    integrator("cli-push")
    integrator("cli-pull")
    assert (integrator.work / "changes.ndjson").read_text("utf-8").splitlines() == changes
    assert (integrator.work / "cursor.txt").read_text().strip() == cursor
    assert count_volunteers(store_app) == 4
