"""Systems under test for the conformance suite's own tests, and how to run the suite at them.

- :class:`ReadmeGateway`: a real gateway started the README's way — ``vgw db upgrade``, then
  ``vgw serve`` (gunicorn) on a free port, in a temporary instance folder, with the suite's
  client registered by ``vgw clients add`` and ``vgw keys add`` as an operator would.
- :class:`InProcessGateway`: the gateway app (possibly wrapped with one defect, see
  tests/conformance/broken/) served by werkzeug in a thread, client registered in the store.
- :func:`write_config` writes the suite's TOML file for a system; :func:`run_suite` runs the
  suite with the framework's runner and returns {test id: outcome}.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conformance_tests import signing

CLIENT_ID = "conformance"
REGION = "1101"
MAX_PUSH_BYTES = 1024 * 1024
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SuiteKey:
    """The key the suite signs with (private half kept by the suite, as at an integrator)."""

    private_path: Path
    public_path: Path
    key_id: str

    @classmethod
    def make(cls, folder: Path, name: str = "conformance", algorithm: str = "ed25519") -> "SuiteKey":
        from cryptography.hazmat.primitives.asymmetric import ec

        folder.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate() if algorithm == "ed25519" else \
            ec.generate_private_key(ec.SECP256R1())
        private = folder / f"{name}.private.pem"
        public = folder / f"{name}.public.pem"
        private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        private.chmod(0o600)
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
        return cls(private, public, signing.thumbprint(key))


def _gateway_env(folder: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({"GATEWAY_DATABASE_URL": database_url or f"sqlite:///{folder / 'gateway.sqlite3'}",
                "GATEWAY_KEYS_DIR": str(folder / "keys"),
                "GATEWAY_MAX_PUSH_BYTES": str(MAX_PUSH_BYTES), **extra})
    return env


class ReadmeGateway:
    """``vgw db upgrade && vgw serve --port P`` in ``folder``; the suite's client registered."""

    def __init__(self, folder: Path, key: SuiteKey, *, client_id: str = CLIENT_ID,
                 database_url: str | None = None, **env: str):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.env = _gateway_env(folder, database_url, **env)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.vgw("db", "upgrade")
        self.vgw("clients", "add", client_id, "--name", "Conformance suite", "--region", REGION,
                 "--perm", "*:read,write")
        self.vgw("keys", "add", client_id, str(key.public_path))
        self.log = open(folder / "serve.log", "wb")
        self.process = subprocess.Popen([str(BIN / "vgw"), "serve", "--host", "127.0.0.1",
                                         "--port", str(self.port), "--workers", "2"],
                                        cwd=folder, env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self._wait()

    def vgw(self, *args: str) -> str:
        done = subprocess.run([str(BIN / "vgw"), *args], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"vgw {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vgw serve exited: {(self.folder / 'serve.log').read_text()}")
            try:
                if requests.get(self.url + "/.well-known/jwks.json", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("vgw serve did not answer within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class InProcessGateway:
    """A Flask app (the gateway, maybe wrapped) served by werkzeug on 127.0.0.1 in a thread."""

    def __init__(self, app, wsgi=None, port: int = 0):
        from werkzeug.serving import make_server

        self.app = app
        self._server = make_server("127.0.0.1", port, wsgi or app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


def make_gateway_app(folder: Path, template: Path, key: SuiteKey, **overrides: Any):
    """The gateway app on a copy of the migrated SQLite template, the suite's client registered."""
    from gateway import create_app, store
    from gateway.services.clients import create_client
    from gateway.exchange import keys as client_keys

    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "gateway.sqlite3"
    shutil.copy(template, database)
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{database}",
                      "KEYS_DIR": str(folder / "keys"), "MAX_PUSH_BYTES": MAX_PUSH_BYTES, **overrides})
    with store.session_scope(app) as session:
        client = create_client(session, CLIENT_ID, "Conformance suite", region_prefix=REGION,
                                      permissions={"*": ["read", "write"]})
        client_keys.add_key(session, client, key.public_path.read_bytes())
    return app


def write_config(folder: Path, base_url: str, key: SuiteKey, *, roles=("server",), algorithm="ed25519",
                 max_body_bytes: int = MAX_PUSH_BYTES, client: dict | None = None,
                 features: dict | None = None, schema_version: str | None = None) -> Path:
    """The suite's TOML file for a system at ``base_url``."""
    lines = ["[system]", 'name = "system under test"', f'base_url = "{base_url}"',
             "roles = [" + ", ".join(f'"{r}"' for r in roles) + "]", "timeout_seconds = 30", "",
             "[server]", f'client_id = "{CLIENT_ID}"', f'private_key = "{key.private_path}"', f'algorithm = "{algorithm}"',
             f"max_body_bytes = {max_body_bytes}"]
    if schema_version:
        lines.append(f'schema_version = "{schema_version}"')
    lines += ["", "[scope]", f'region_prefix = "{REGION}"',
             'entities = ["volunteer"]', "", "[report]", f'dir = "{folder / "report"}"']
    if features:
        lines += ["", "[features]"] + [f"{k} = {str(v).lower()}" for k, v in features.items()]
    if client:
        lines += ["", "[client]"]
        for k, v in client.items():
            lines.append(f"{k} = {v}" if isinstance(v, (int, float)) else f'{k} = "{v}"')
    path = folder / "conformance.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_suite(config_path: Path, *, roles=("server",), out=None, **selection: Any):
    """Run the suite as ``vgw-conformance run`` does; return (RunResult, {test id: outcome})."""
    from conformance_tests.config import load_config
    from conformance_tests.registry import load_registry
    from conformance_tests.runner import Selection, run

    lines: list[str] = []
    config = load_config(config_path)
    result = run(config, load_registry(), Selection(roles=tuple(roles), **selection),
                 out=out or lines.append)
    return result, {t.id: t.outcome.value for t in result.tests}


def failures(outcomes: dict[str, str]) -> set[str]:
    return {test for test, outcome in outcomes.items() if outcome in ("fail", "error")}
