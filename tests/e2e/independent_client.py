"""An exchange client written only from docs/protocol.md, with requests-http-signature.

It imports nothing of the gateway: signing (§2), the JWK set and response verification (§4),
Push and Pull are implemented here from the document alone, as an integrator would. The test
beside it (test_independent_client.py) runs it against a real gateway.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from requests_http_signature import HTTPSignatureAuth, algorithms

RESPONSE_COMPONENTS = ("@status", "content-digest", "content-type")


class Refused(Exception):
    """The gateway answered with a problem (status and problem+json)."""

    def __init__(self, response: requests.Response):
        super().__init__(f"{response.status_code} {response.text}")
        self.status = response.status_code
        self.problem = response.json() if response.content else {}


class Signer(HTTPSignatureAuth):
    """§2: cover "@method", "@target-uri", "client-id" (and the digest), with created,
    expires, nonce, keyid and alg; the Client-Id field is ours to add."""

    def __init__(self, client_id: str, key_id: str, private_key_pem: bytes):
        self.client_id = client_id
        super().__init__(signature_algorithm=algorithms.ED25519, key=private_key_pem, key_id=key_id,
                         covered_component_ids=("@method", "@target-uri", "client-id"),
                         use_nonce=True, expires_in=datetime.timedelta(seconds=300))

    def __call__(self, request):
        request.headers["Client-Id"] = self.client_id
        return super().__call__(request)


def public_key_of(jwk: dict[str, Any]) -> Ed25519PublicKey:
    """§4: an OKP/Ed25519 JWK's ``x`` is the raw public key, base64url without padding."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError(f"not an Ed25519 JWK: {jwk.get('kty')}/{jwk.get('crv')}")
    x = jwk["x"]
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))


class GatewayKeys:
    """The key resolver requests-http-signature asks for the gateway's key by ``keyid``."""

    def __init__(self, jwks: dict[str, Any]):
        self.keys = {jwk["kid"]: public_key_of(jwk) for jwk in jwks["keys"]}

    def resolve_public_key(self, key_id: str):
        return self.keys.get(key_id)


class IndependentClient:
    def __init__(self, base_url: str, client_id: str, key_id: str, private_key_pem: bytes):
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.auth = Signer(client_id, key_id, private_key_pem)
        self.http = requests.Session()
        self.http.headers["Accept-Encoding"] = "identity"
        self.gateway_keys: GatewayKeys | None = None

    # §4 -------------------------------------------------------------------------------------------
    def fetch_jwks(self) -> dict[str, Any]:
        answer = self.http.get(f"{self.base_url}/.well-known/jwks.json", timeout=30)
        answer.raise_for_status()
        jwks = answer.json()
        self.gateway_keys = GatewayKeys(jwks)
        return jwks

    def verified(self, answer: requests.Response) -> bytes:
        """The answer's body, once its gateway signature and digest check out (else raise)."""
        if answer.status_code != 200:
            raise Refused(answer)
        if self.gateway_keys is None:
            self.fetch_jwks()
        result = HTTPSignatureAuth.verify(answer, signature_algorithm=algorithms.ED25519,
                                          key_resolver=self.gateway_keys,
                                          require_components=RESPONSE_COMPONENTS)
        return result.body

    # Push -----------------------------------------------------------------------------------------
    def post_batch(self, body: bytes, content_type: str, key: str | None = None) -> requests.Response:
        key = key or "sha256-" + hashlib.sha256(body).hexdigest()
        return self.http.post(f"{self.base_url}/api/v1/exchange/batches", data=body, auth=self.auth,
                              timeout=60, headers={"Content-Type": content_type,
                                                   "Idempotency-Key": key})

    def push(self, batch_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        envelope = {"schema_version": "1", "sender": self.client_id, "batch_id": batch_id,
                    "records": records}
        body = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
        return json.loads(self.verified(self.post_batch(body, "application/json")))

    def push_ndjson(self, batch_id: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        header = {"schema_version": "1", "sender": self.client_id, "batch_id": batch_id}
        lines = [json.dumps(header)] + [json.dumps(r, ensure_ascii=False) for r in records]
        body = ("\n".join(lines) + "\n").encode("utf-8")
        answer = self.verified(self.post_batch(body, "application/x-ndjson"))
        return [json.loads(line) for line in answer.splitlines() if line.strip()]

    # Pull -----------------------------------------------------------------------------------------
    def changes_page(self, since: str | None = None, entity: str | None = None,
                     limit: int = 500) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if since:
            params["since"] = since
        if entity:
            params["entity"] = entity
        answer = self.http.get(f"{self.base_url}/api/v1/exchange/changes", params=params,
                               auth=self.auth, timeout=60)
        return json.loads(self.verified(answer))

    def pull_all(self, since: str | None = None, entity: str | None = None,
                 limit: int = 500) -> tuple[list[list[dict[str, Any]]], str | None]:
        """Every page while has_more; returns the pages and the cursor to save."""
        pages = []
        while True:
            page = self.changes_page(since, entity, limit)
            pages.append(page["changes"])
            since = page["next_cursor"]
            if not page["has_more"]:
                return pages, since
