"""A real gateway on 127.0.0.1 for the exchange tests, and ways to sign requests right and wrong.

Everything signs for real: generated Ed25519 / ECDSA P-256 keys, http_message_signatures'
own signer, the gateway's own verifier. :func:`sign` exists to make requests the product's
client would never make (old ``created``, missing parameters, components left out).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Iterable

import requests
from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Flask, jsonify, request
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms
from werkzeug.serving import make_server

from gateway import store
from gateway.services.clients import create_client
from gateway.api.auth import current_caller
from gateway.exchange import keys as client_keys
from gateway.exchange.client_auth import GatewayAuth
from gateway.exchange.signatures import sign_responses, signed

WHOAMI = "/_test/whoami"
RECORDS = "/_test/records"
FEED = "/_test/feed"
ALGORITHMS = {"ed25519": algorithms.ED25519, "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256}


def blueprint_for_tests() -> Blueprint:
    """Routes that exist only in these tests: a protected echo and a signed answer with records."""
    bp = Blueprint("exchange_test", __name__)

    @bp.route(WHOAMI, methods=["GET", "POST", "PUT"])
    def whoami():
        caller = current_caller()
        return jsonify(client_id=caller.client_id, body_bytes=len(request.get_data()))

    @bp.route(RECORDS)
    @signed
    def records():
        return jsonify(items=[{"volunteer_no": "V1", "name": "张三"}], next_cursor="c-1")

    return bp


def signed_blueprint_for_tests() -> Blueprint:
    """A protected route in a blueprint whose every answer is signed (``sign_responses``)."""
    bp = sign_responses(Blueprint("exchange_test_signed", __name__))

    @bp.route(FEED)
    def feed():
        caller = current_caller()
        return jsonify(client_id=caller.client_id, changes=[{"entity": "team", "no": "T1"}])

    return bp


class LiveServer:
    """The Flask app served by werkzeug on 127.0.0.1:<free port> in a thread."""

    def __init__(self, app: Flask):
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


@dataclass
class ClientKeys:
    """A registered client and one of its keys (the private half stays here, as at a client)."""

    client_id: str
    key_id: str
    algorithm: str
    private_pem: bytes
    public_pem: bytes

    def auth(self, client_id: str | None = None, **options: Any) -> GatewayAuth:
        return GatewayAuth(client_id or self.client_id, self.key_id, self.private_pem, **options)

    def private_key(self):
        return serialization.load_pem_private_key(self.private_pem, password=None)


def register_client(app: Flask, client_id: str = "city-01", *, algorithm: str = "ed25519",
                    key_id: str | None = None) -> ClientKeys:
    """Register a client (scope: everything in region 11) with one new key."""
    pair = client_keys.generate_key_pair(algorithm)
    with store.session_scope(app) as session:
        client = create_client(session, client_id, client_id, region_prefix="11",
                                      permissions={"*": ["read", "write"]})
        row = client_keys.add_key(session, client, pair.public_pem, key_id=key_id)
        key_id = row.key_id
    return ClientKeys(client_id, key_id, pair.algorithm, pair.private_pem, pair.public_pem)


def add_key(app: Flask, client_id: str, *, algorithm: str = "ed25519") -> ClientKeys:
    """A further key for an existing client (what `vgw keys rotate` does)."""
    from sqlalchemy import select

    from gateway.store.models import Client

    pair = client_keys.generate_key_pair(algorithm)
    with store.session_scope(app) as session:
        client = session.execute(select(Client).where(Client.client_id == client_id)).scalar_one()
        client_keys.add_key(session, client, pair.public_pem)
    return ClientKeys(client_id, pair.key_id, pair.algorithm, pair.private_pem, pair.public_pem)


def revoke(app: Flask, key_id: str) -> None:
    with store.session_scope(app) as session:
        client_keys.revoke_key(session, key_id)


def prepared(method: str, url: str, *, json: Any = None, data: bytes | None = None,
             headers: dict[str, str] | None = None) -> requests.PreparedRequest:
    return requests.Request(method, url, json=json, data=data, headers=headers or {}).prepare()


def sign(req: requests.PreparedRequest, keys: ClientKeys, *,
         components: Iterable[str] = ("@method", "@target-uri", "client-id", "content-digest"),
         created: dt.datetime | None = None, expires_in: int | None = 300,
         nonce: str | None = "fresh", key_id: str | None = None, include_alg: bool = True,
         client_id: str | None = None, digest: bool = True) -> requests.PreparedRequest:
    """Sign ``req`` with http_message_signatures' signer, choosing every parameter."""
    req.headers["Client-Id"] = client_id or keys.client_id
    body = req.body if isinstance(req.body, bytes) else (req.body or "").encode()
    if digest:
        from http_message_signatures import ContentDigest

        req.headers["Content-Digest"] = ContentDigest.create(body)
    created = created or dt.datetime.now(dt.timezone.utc)
    key_id = key_id or keys.key_id
    signer = HTTPMessageSigner(signature_algorithm=ALGORITHMS[keys.algorithm],
                               key_resolver=MappingKeyResolver(public_keys={},
                                                               private_keys={key_id: keys.private_key()}))
    signer.sign(req, key_id=key_id, created=created, label="sig1", include_alg=include_alg,
                expires=created + dt.timedelta(seconds=expires_in) if expires_in else None,
                nonce=secrets.token_hex(16) if nonce == "fresh" else nonce,
                covered_component_ids=tuple(components), use_existing_digest=digest)
    return req


def send(req: requests.PreparedRequest) -> requests.Response:
    with requests.Session() as session:
        return session.send(req, timeout=30)


def problem_type(answer: requests.Response) -> str:
    assert answer.status_code == 401, (answer.status_code, answer.text)
    assert answer.headers["Content-Type"] == "application/problem+json"
    return answer.json()["type"]
