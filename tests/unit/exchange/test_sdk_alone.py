"""The client SDK imports without Flask and SQLAlchemy (local systems install it on its own).

A fresh interpreter with an import hook that refuses flask, werkzeug, sqlalchemy and alembic
(as if they were not installed) imports gateway.exchange.client, builds a GatewayClient and
signs a request with it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BLOCKED = ("flask", "werkzeug", "sqlalchemy", "alembic", "flask_smorest", "marshmallow")

HOOK = textwrap.dedent(f"""
    import sys

    BLOCKED = {BLOCKED!r}

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)")
            return None

    sys.meta_path.insert(0, Refuse())
""")

def _run(body: str) -> subprocess.CompletedProcess:
    code = HOOK + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_the_sdk_imports_signs_and_loads_no_web_or_store_package():
    answer = _run("""
        import requests
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        from gateway.exchange.client import GatewayClient

        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        client = GatewayClient("http://127.0.0.1:26001", "city-01", "key-1", pem)
        prepared = requests.Request("POST", "http://127.0.0.1:26001/api/v1/exchange/push",
                                    json={"records": []}).prepare()
        signed = client.auth(prepared)
        assert "Signature" in signed.headers and "Signature-Input" in signed.headers
        loaded = sorted({m.split(".")[0] for m in sys.modules} & set(BLOCKED))
        print("loaded:", loaded)
    """)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "loaded: []"


def test_the_hook_does_block():
    """The check can fail: the web app's factory needs Flask and is refused."""
    answer = _run("from gateway import create_app")
    assert answer.returncode != 0 and "No module named 'flask' (blocked)" in answer.stderr
