"""`vgw serve` says what it serves before serving (store with its password masked, where the
settings came from, the certificate font) and refuses to start without a usable font."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path, **settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_KEYS_DIR=str(tmp_path / "keys"), PYTHONUNBUFFERED="1")
    env.update({f"GATEWAY_{k}": v for k, v in settings.items()})
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _serving(env, tmp_path, port: int | None = None) -> Iterator[str]:
    """``vgw serve`` on ``port`` until it listens (or exits): its output so far, while it
    still runs; stopped by its PID afterwards. A free port unless one is given (tests of
    this file run side by side)."""
    port = port or _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port),
                                 "--workers", "1", "--no-access-log"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if "Listening at" in log.read_text():
                break
            time.sleep(0.1)
        yield log.read_text()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def _serve_until_listening(env, tmp_path) -> str:
    with _serving(env, tmp_path) as output:
        return output


def test_serve_names_the_store_with_the_password_masked_and_where_it_came_from(tmp_path):
    url = "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:5432/postgres"
    output = _serve_until_listening(_env(tmp_path, DATABASE_URL=url, LOG_LEVEL="INFO"), tmp_path)
    assert "Listening at" in output, output
    assert ("vgw serve: store: postgresql+psycopg://postgres:***@127.0.0.1:5432/postgres "
            "(DATABASE_URL from environment GATEWAY_*)") in output
    assert "s3cret-pw" not in output
    assert "vgw serve: settings: defaults; environment GATEWAY_*: DATABASE_URL, KEYS_DIR, LOG_LEVEL" in output
    assert "vgw serve: certificate font: /" in output


def test_serve_names_the_default_store(tmp_path):
    output = _serve_until_listening(_env(tmp_path, DATABASE_URL=""), tmp_path)
    # An empty variable is still where the setting came from; the derived default is shown.
    assert f"vgw serve: store: sqlite:///{ROOT / 'instance' / 'gateway.sqlite3'}" in output


def test_db_upgrade_names_the_store_and_its_origin(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "db", "upgrade"], cwd=ROOT,
                          env=_env(tmp_path, DATABASE_URL=url), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"({url}; DATABASE_URL from environment GATEWAY_*)" in proc.stdout


def _refused(tmp_path, font: str) -> subprocess.CompletedProcess:
    port = _free_port()
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
                          cwd=ROOT, env=_env(tmp_path, CERTIFICATE_FONT=font), capture_output=True,
                          text=True, timeout=60)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "nothing may listen"
    return proc


def test_serve_refuses_to_start_when_the_font_is_not_a_file(tmp_path):
    proc = _refused(tmp_path, str(tmp_path / "no-such-font.ttf"))
    assert proc.returncode == 2
    assert "CERTIFICATE_FONT" in proc.stderr and "is not a file" in proc.stderr


def test_serve_refuses_to_start_when_the_font_cannot_be_embedded(tmp_path):
    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_text("not a font")
    proc = _refused(tmp_path, str(not_a_font))
    assert proc.returncode == 1
    assert "cannot serve: certificates cannot be printed" in proc.stderr
    assert "fonts-wqy-microhei" in proc.stderr


def test_serve_says_where_the_console_the_api_reference_and_the_docs_are_and_each_answers(tmp_path):
    """The start lines name the console, /api/docs (with its OpenAPI document) and /docs/ as
    full URLs on the port served; each URL printed is fetched from the running server."""
    import re
    import urllib.request

    port = _free_port()
    env = _env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'store.sqlite3'}")
    subprocess.run([sys.executable, "-m", "gateway.cli", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    with _serving(env, tmp_path, port) as output:
        assert "Listening at" in output, output
        base = f"http://127.0.0.1:{port}"
        assert f"vgw serve: console: {base}/console/\n" in output, output
        assert (f"vgw serve: API reference: {base}/api/docs "
                f"(OpenAPI document: {base}/api/openapi.json)\n") in output, output
        assert f"vgw serve: docs: {base}/docs/\n" in output, output
        # Next to the store and settings lines, before the server says it serves.
        lines = [line for line in output.splitlines() if line.startswith("vgw serve: ")]
        names = [line.split(": ")[1].split(" ")[0] for line in lines]
        assert names.index("store") < names.index("console") < names.index("API") < names.index("serving")
        printed = re.findall(rf"{re.escape(base)}/[^\s)]*", "\n".join(lines))
        assert len(printed) >= 4, printed
        for url in printed:
            with urllib.request.urlopen(url, timeout=30) as answer:  # follows the console's login redirect
                assert answer.status == 200, url
