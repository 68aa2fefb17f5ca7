"""The README's own examples say what the contract says (issue 12, items 3 and 6)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_batch_envelope_example_names_every_required_member():
    example = re.search(r'`(\{"schema_version":"1".*?"records":\[.*?\]\})`', README).group(1)
    named = set(re.findall(r'"([a-z_]+)":', example))
    required = json.loads((ROOT / "schemas" / "v1" / "batch.schema.json").read_text("utf-8"))["required"]
    assert set(required) <= named, sorted(set(required) - named)


def test_the_tour_saves_a_certificate_only_from_a_successful_answer():
    """`curl -o` without -f saves a problem+json answer as certificate.pdf."""
    downloads = [line for line in README.splitlines() if "curl" in line and re.search(r"-o \S*certificate\.pdf", line)]
    assert downloads and all(re.search(r"curl -\w*f\w* ", line) for line in downloads), downloads


def test_the_font_prerequisite_is_stated_before_the_set_up_commands():
    set_up = README.index("make run     #")
    assert README.index("CERTIFICATE_FONT") < set_up and "refuses to start" in README[:set_up]


# -- the whole tour, twice, from a clean clone (issue 12, items 5 and 11) ---------------------
#
# The README's tour is run as an operator types it: a clean clone of this tree, `make run
# DEMO=1` serving it (the installed .venv is shared, not reinstalled), each fenced block of the
# tour in its own bash (as in its own terminal, after `source .venv/bin/activate`), then all of
# it again. The only changes made to the commands: the ports (8080 and 8090 are someone
# else's on a shared machine), and `vgw scheduler` (which runs "until Ctrl-C") gets its
# Ctrl-C after a few seconds. A step fails when its shell command fails (bash -e, pipefail)
# or when any curl in it got an HTTP error answer. The clone's `git status` must be the same
# after both runs as before: the tour leaves nothing in the working tree.

import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

TOUR = README[README.index("## Five-minute tour"):README.index("## Configuration")]
CURL_TRACE = "vgw-tour-http"


def tour_blocks() -> list[tuple[str, str]]:
    """(step heading, commands) for each ``sh`` block of the tour; the commands the text of a
    step gives after its block (step 4: verify the certificate, statistics) are typed in the
    same terminal, so they run with that block."""
    steps = []
    for heading, body in re.findall(r"\*\*(\d\. [^*]+)\*\*(.*?)(?=\n\*\*\d\. |\Z)", TOUR, re.S):
        for block in re.findall(r"```sh\n(.*?)```", body, re.S):
            steps.append((heading, block))
        after = body.rsplit("```", 1)[-1]
        inline = re.findall(r"`([^`]*(?:vgw verify-certificate|statistics/overview)[^`]*)`", after)
        if inline:
            steps[-1] = (heading, steps[-1][1] + "\n".join(inline) + "\n")
    return steps


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_clone(tmp_path: Path) -> Path:
    """This tree's files (tracked, and new ones not ignored) as a fresh git repository."""
    clone = tmp_path / "clone"
    files = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    git = ["git", "-c", "user.name=tour", "-c", "user.email=tour@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=clone, check=True)
    subprocess.run([*git, "add", "-A"], cwd=clone, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "clone"], cwd=clone, check=True)
    (clone / ".venv").symlink_to(ROOT / ".venv")  # installed once; `make run` would make it here
    with (clone / ".git" / "info" / "exclude").open("a") as fh:
        fh.write(".venv\n")  # a symlink, which the .gitignore's `.venv/` (a folder) does not match
    return clone


def _status(clone: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone,
                          check=True, capture_output=True, text=True).stdout


def _environment(clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GATEWAY_", "VGW_", "PYTEST", "VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = ":".join(p for p in env.get("PATH", "/usr/bin:/bin").split(":")
                           if ".venv" not in p)
    env["PYTHONPATH"] = str(clone)  # the clone's code, not this tree's, runs in the shared venv
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def tour_gateway(tmp_path):
    """`make run DEMO=1` in a clean clone, on a free port; yields (clone, port, env)."""
    if not (shutil.which("make") and shutil.which("curl") and shutil.which("git")):
        pytest.fail("the tour needs make, curl and git")
    clone = _clean_clone(tmp_path)
    before = _status(clone)
    port = _free_port()
    env = _environment(clone)
    log = (tmp_path / "make-run.log").open("wb")
    # -o: the shared .venv is installed already (its stamp is older than the copied setup.cfg)
    server = subprocess.Popen(["make", "-o", ".venv/.installed-stamp", "run", "DEMO=1", f"PORT={port}"],
                              cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                if subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port}/readyz"],
                                  capture_output=True).returncode == 0:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("make run DEMO=1 did not serve:\n"
                                     + (tmp_path / "make-run.log").read_text(errors="replace"))
            time.sleep(0.5)
        yield clone, port, env, before
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGINT)  # Ctrl-C, as the README says
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
        log.close()


def _as_run_here(commands: str, port: int, simulator_port: int) -> str:
    commands = commands.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("--port 8080", f"--port {port}")
    commands = commands.replace("127.0.0.1:8090", f"127.0.0.1:{simulator_port}").replace(
        "--port 8090", f"--port {simulator_port}")
    # "runs each source on its schedule until Ctrl-C": the Ctrl-C comes after 5 s
    return re.sub(r"^vgw scheduler(\s)", r"timeout -s INT 5 vgw scheduler || [ $? -eq 124 ]\1", commands,
                  flags=re.M)


PRELUDE = f"""set -eo pipefail
source .venv/bin/activate
curl() {{ command curl --write-out '%{{stderr}}{CURL_TRACE} %{{http_code}} %{{method}} %{{url_effective}}\\n' "$@"; }}
"""


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """bash -c SCRIPT in a process group of its own; whatever it left running in the
    background (a step that failed before its `kill %1`) is stopped with it."""
    with open(cwd / ".git" / "tour-out", "w+") as out, open(cwd / ".git" / "tour-err", "w+") as err:
        proc = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            code = -1
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(proc.args, code, out.read(), err.read())


def run_tour(clone: Path, port: int, env: dict[str, str], simulator_port: int) -> list[str]:
    """Every step of the tour; returns what went wrong (nothing, when all is well). The
    simulator's port stands for the README's 8090: the same in both runs, as it would be."""
    failures = []
    for heading, commands in tour_blocks():
        if commands.strip().startswith("vgw db upgrade && vgw serve"):
            continue  # step 2 starts the server "if make run is not already running": it is
        script = PRELUDE + _as_run_here(commands, port, simulator_port)
        done = _bash(script, clone, env)
        expected = 1 if "vgw validate" in commands else 0  # "1: some invalid" — the example has one
        http_errors = [line for line in done.stderr.splitlines()
                       if line.startswith(CURL_TRACE) and not line.split()[1].startswith(("2", "3"))]
        if done.returncode != expected or http_errors:
            failures.append(f"{heading}: exit {done.returncode} (expected {expected}); "
                            f"HTTP errors {http_errors}\n--- stdout\n{done.stdout[-3000:]}\n"
                            f"--- stderr\n{done.stderr[-3000:]}")
    return failures


def test_the_tour_has_the_steps_the_runner_knows():
    headings = [h for h, _ in tour_blocks()]
    assert [h[:2] for h in headings] == ["1.", "2.", "3.", "4.", "5."], headings
    step4 = tour_blocks()[3][1]
    assert "vgw verify-certificate" in step4 and "statistics/overview" in step4


@pytest.mark.slow
def test_the_tour_runs_twice_in_a_row_from_a_clean_clone(tour_gateway):
    clone, port, env, before = tour_gateway
    assert before == "", before
    simulator_port = _free_port()
    first = run_tour(clone, port, env, simulator_port)
    assert not first, "\n\n".join(first)
    second = run_tour(clone, port, env, simulator_port)
    assert not second, "\n\n".join(second)
    assert _status(clone) == before, "the tour left files in the working tree:\n" + _status(clone)


# -- step 1's printed output is what `vgw validate` prints (walkthrough) ----------------------

def test_the_validate_example_prints_what_the_readme_shows(tmp_path):
    """The README shows step 1's output line by line (`…` stands for the rest of a line): the
    same lines in the same order, so that a newcomer comparing them sees what was promised."""
    from click.testing import CliRunner

    from gateway.cli import cli

    step1 = TOUR[TOUR.index("**1. "):TOUR.index("**2. ")]
    records = re.search(r"<<'EOF'\n(.*?)\nEOF\n", step1, re.S).group(1)
    shown = re.search(r"then a summary.*?```\n(.*?)```", step1, re.S).group(1).splitlines()
    path = tmp_path / "volunteers.ndjson"
    path.write_text(records + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", "--entity", "volunteer", str(path)],
                                env={"FLASK_RUN_FROM_CLI": None}, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    printed = result.stdout.replace(str(path), "/tmp/volunteers.ndjson").splitlines()
    assert len(printed) == len(shown), printed
    for want, got in zip(shown, printed):
        prefix = want.removesuffix("…")
        assert got == want if prefix == want else got.startswith(prefix), (want, got)
