"""The client role passes against the gateway's own client (``vgw push`` / ``vgw pull``) and
catches a client that retries with a new Idempotency-Key.

The suite runs in this process (the framework's runner, client role only) and starts its
reference endpoint; the "operator" is the runner's progress callback: when the suite prints
``client: push …`` it runs ``vgw push FILE --to URL`` (a new file of volunteers each time),
when it prints ``client: pull …`` it runs ``vgw pull --from URL --cursor-file …``, as a
person at the terminal would. The system's key is registered in the suite's configuration
([client] jwks), the endpoint's own key is fetched by vgw from /.well-known/jwks.json.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance_tests.datagen import DataFactory
from conformance_tests.registry import load_registry
from conformance_tests.roles.client.endpoint import stop_all
from conformance_tests import signing
from tests.conformance.support import BIN, SuiteKey, failures, free_port, run_suite, write_config

CLIENT_ID = "local-system-01"
URL = re.compile(r"http://[0-9.]+:\d+")
ROOT = Path(__file__).resolve().parents[2]


class Operator:
    """Does what the suite's progress lines ask, with vgw (or a broken client) as the system."""

    def __init__(self, folder: Path, key: SuiteKey, *, push_command=None, pull_options=()):
        self.folder, self.key = folder, key
        self.push_command = push_command or [str(BIN / "vgw"), "push"]
        self.data = DataFactory("operator", "1101")
        self.pushes = 0
        self.pull_options = list(pull_options)
        self.lines: list[str] = []
        self.runs: list[subprocess.CompletedProcess] = []
        self.cursor_file = folder / "cursor.txt"

    def credentials(self) -> list[str]:
        return ["--client-id", CLIENT_ID, "--key-id", self.key.key_id, "--key", str(self.key.private_path)]

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        if line.startswith("client: push"):
            self.pushes += 1
            path = self.folder / f"volunteers-{self.pushes}.json"
            path.write_text(json.dumps([self.data.volunteer() for _ in range(2)], ensure_ascii=False),
                            encoding="utf-8")
            base = URL.search(line).group(0)
            self._run([*self.push_command, str(path), "--to", base, *self.credentials()]
                      + (["--entity", "volunteer"] if self.push_command[-1] == "push"
                         and "vgw" in self.push_command[0] else []))
        elif line.startswith("client: pull"):
            base = URL.search(line).group(0)
            out = self.folder / f"changes-{len(self.runs)}.ndjson"
            self._run([str(BIN / "vgw"), "pull", "--from", base, "--cursor-file", str(self.cursor_file),
                       "--out", str(out), *self.credentials(), *self.pull_options])

    def _run(self, args: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}   # the broken client lives in tests/
        self.runs.append(subprocess.run(args, cwd=self.folder, env=env, capture_output=True,
                                        text=True, timeout=120))


@pytest.fixture
def client_setup(tmp_path):
    key = SuiteKey.make(tmp_path / "local-keys", "local-system")
    private = signing.load_private_key(key.private_path)
    jwks = tmp_path / "local-system.jwks.json"
    jwks.write_text(json.dumps({"keys": [signing.public_jwk(private, key.key_id)]}), encoding="utf-8")
    config = write_config(tmp_path, "http://127.0.0.1:9", key, roles=("client",), client={
        "host": "127.0.0.1", "port": free_port(), "wait_seconds": 30, "client_id": CLIENT_ID,
        "jwks": str(jwks)})
    yield tmp_path, key, config
    stop_all()


def _client_tests() -> set[str]:
    return {t.id for t in load_registry().tests.values() if t.role == "client"}


def test_vgw_push_and_pull_pass_the_client_role(client_setup):
    folder, key, config = client_setup
    operator = Operator(folder, key)
    result, outcomes = run_suite(config, roles=("client",), out=operator)
    assert set(outcomes) == _client_tests()
    detail = {t.id: (t.outcome.value, t.message, t.observed) for t in result.tests
              if t.outcome.value != "pass"}
    assert not detail, json.dumps(detail, ensure_ascii=False, default=str, indent=1) + \
        "\n".join(r.stderr for r in operator.runs)
    # the pull answered with a forged signature fails (exit 2), every other command succeeds
    codes = [(Path(r.args[0]).name, r.args[1], r.returncode) for r in operator.runs]
    assert sorted(codes) == sorted([("vgw", "push", 0)] * 3 + [("vgw", "pull", 0)] * 3
                                   + [("vgw", "pull", 2)]), codes
    (refused,) = [r for r in operator.runs if r.returncode == 2]
    assert "does not verify" in refused.stderr
    assert any(line.startswith("client: push a batch of records to http://127.0.0.1:")
               for line in operator.lines)


def test_a_client_retrying_with_a_new_key_fails_exactly_the_retry_tests(client_setup):
    from tests.conformance.broken import client_new_key

    folder, key, config = client_setup
    operator = Operator(folder, key, push_command=[sys.executable, "-m",
                                                   "tests.conformance.broken.client_new_key", "push"])
    result, outcomes = run_suite(config, roles=("client",), out=operator)
    detail = {t.id: (t.outcome.value, t.message) for t in result.tests if t.outcome.value != "pass"}
    assert failures(outcomes) == client_new_key.FAILS, detail
    assert {t for t, o in outcomes.items() if o != "pass"} == client_new_key.FAILS, detail
    (retry,) = [t for t in result.tests if t.id == "client.push.retry_after_503"]
    assert "same Idempotency-Key" in retry.message


def test_a_client_that_does_not_verify_answers_fails_exactly_that_test(client_setup):
    """vgw pull --no-verify stands for a client that trusts any answer: it moves past a forged page."""
    folder, key, config = client_setup
    operator = Operator(folder, key, pull_options=["--no-verify"])
    result, outcomes = run_suite(config, roles=("client",), out=operator)
    detail = {t.id: (t.outcome.value, t.message) for t in result.tests if t.outcome.value != "pass"}
    assert {t for t, o in outcomes.items() if o != "pass"} == {"client.pull.verifies_answers"}, detail
    assert outcomes["client.pull.verifies_answers"] == "fail"
