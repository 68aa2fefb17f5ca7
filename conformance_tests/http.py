"""``SystemClient``: the suite's only way to talk to the system under test (server role).

Every request is signed as the configured client unless a test says otherwise (``sign=False``
or a dict of overrides for a negative test), and every exchange — request and answer, or the
failure to get one — is handed to ``record`` as an :class:`~conformance_tests.context.Exchange`
so the report shows what was sent and what came back.
"""

from __future__ import annotations

import json as jsonlib
import select
import socket
import time
from typing import Any, Callable, Iterable
from urllib.parse import urljoin, urlsplit

import requests

from . import signing
from .context import Exchange
from .outcomes import Fail

SIGN_OVERRIDES = {"created", "expires", "nonce", "keyid", "key", "client_id", "components",
                  "tamper", "alg", "omit_parameters"}


class SystemClient:
    """Signed HTTP to ``config.system.base_url`` as ``config.server.client_id``."""

    def __init__(self, config: Any, record: Callable[[Exchange], None]):
        self.config = config
        self.record = record
        self.base_url = config.system.base_url.rstrip("/")
        server = config.server
        self.client_id = server.client_id
        self.key = signing.load_private_key(server.private_key) if server.private_key else None
        self.key_id = (server.key_id or (signing.thumbprint(self.key) if self.key else ""))
        self.key_algorithm = signing.algorithm_of(self.key) if self.key else server.algorithm
        self.timeout = getattr(config.system, "timeout_seconds", 30) or 30
        self.session = requests.Session()
        self.session.headers["Accept-Encoding"] = "identity"   # verify the bytes as signed
        self._keys: signing.KeySet | None = None

    # -- requests ---------------------------------------------------------------------------------
    def url(self, path_or_url: str) -> str:
        if "://" in path_or_url:
            return path_or_url
        return urljoin(self.base_url + "/", path_or_url.lstrip("/"))

    def request(self, method: str, path_or_url: str, *, json: Any = None, body: bytes | None = None,
                headers: dict[str, str] | None = None, sign: bool | dict = True,
                timeout: float | None = None, params: dict[str, Any] | None = None,
                note: str = "") -> requests.Response:
        headers = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        prepared = requests.Request(method, self.url(path_or_url), data=body, headers=headers,
                                    params=params).prepare()
        if sign:
            overrides = sign if isinstance(sign, dict) else {}
            unknown = set(overrides) - SIGN_OVERRIDES
            if unknown:
                raise ValueError(f"unknown signing override(s) {sorted(unknown)}")
            self.sign(prepared, **overrides)
            if overrides:
                note = note or "signed with overrides: " + ", ".join(
                    f"{k}={v!r}" for k, v in overrides.items() if k != "key")
        return self.send(prepared, timeout=timeout, note=note)

    def sign(self, prepared: requests.PreparedRequest, **overrides: Any) -> requests.PreparedRequest:
        if self.key is None and "key" not in overrides:
            raise ValueError("no private key configured ([server] private_key)")
        return signing.sign_request(
            prepared, client_id=self.client_id, key_id=overrides.get("keyid", self.key_id),
            key=overrides.get("key", self.key), created=overrides.get("created"),
            expires=overrides.get("expires"), nonce=overrides.get("nonce"),
            components=overrides.get("components"), client_id_header=overrides.get("client_id"),
            tamper=overrides.get("tamper"), alg=overrides.get("alg"),
            omit_parameters=overrides.get("omit_parameters", ()))

    def send(self, prepared: requests.PreparedRequest, *, timeout: float | None = None,
             note: str = "") -> requests.Response:
        body = prepared.body if isinstance(prepared.body, (bytes, type(None))) else str(prepared.body).encode()
        try:
            answer = self.session.send(prepared, timeout=timeout or self.timeout)
        except requests.RequestException as exc:
            self.record(Exchange(prepared.method or "", prepared.url or "", dict(prepared.headers), body,
                                 None, note=f"{note}; no answer: {exc}".lstrip("; ")))
            raise
        self.record(Exchange(prepared.method or "", prepared.url or "", dict(prepared.headers), body,
                             answer.status_code, dict(answer.headers), answer.content, note))
        return answer

    def get(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path_or_url, **kwargs)

    # -- the system's keys ------------------------------------------------------------------------
    def keys(self, *, refresh: bool = False) -> signing.KeySet:
        """The system's published keys (``[server] jwks``: a URL/path on base_url, or a file)."""
        if self._keys is None or refresh:
            server = self.config.server
            jwks_file = getattr(server, "jwks_file", None)
            jwks_url = getattr(server, "jwks_url", None) or (None if jwks_file else self.url(server.jwks))
            if jwks_file:
                jwks = jsonlib.loads(open(jwks_file, "rb").read())
            else:
                answer = self.request("GET", jwks_url, sign=False, note="the system's JWK set")
                if answer.status_code != 200:
                    raise Fail("the system's JWK set could not be read", expected=200,
                               observed=answer.status_code)
                jwks = answer.json()
            self._keys = signing.KeySet.from_jwks(jwks)
        return self._keys

    def verify_response(self, response: requests.Response) -> dict[str, Any]:
        """Raise Fail unless ``response`` is signed (§4) by a key of the system's JWK set."""
        try:
            kid = signing._one_signature(response.headers)[2].get("keyid")
            keys = self.keys()
            if isinstance(kid, str) and keys.resolve_public_key(kid) is None:
                keys = self.keys(refresh=True)   # the system may have rotated its key
            return signing.verify_response(response, keys)
        except signing.InvalidSignature as exc:
            raise Fail(f"the answer's signature does not verify against the system's JWK set: {exc}",
                       expected="signed over " + " ".join(signing.RESPONSE_COMPONENTS),
                       observed={k: response.headers.get(k) for k in
                                 ("Signature-Input", "Signature", "Content-Digest", "Content-Type")}
                       ) from None

    # -- a body the system must refuse before reading ---------------------------------------------
    def send_oversized(self, path: str, *, size: int, content_type: str = "application/json",
                       headers: dict[str, str] | None = None, chunk: int = 64 * 1024,
                       wait: float = 3.0) -> tuple[int | None, dict[str, str], bytes, int]:
        """POST a signed body of ``size`` bytes over a raw socket, streaming it in chunks.

        Returns (status, headers, body, bytes of the body sent before the answer came); a
        system that refuses the body from its declared length answers after the first chunk.
        """
        filler = b" " * size
        prepared = requests.Request("POST", self.url(path), data=b"", headers=headers or {}).prepare()
        prepared.body = filler            # signed over the whole body, never built twice
        self.sign(prepared)
        prepared.body = None
        parts = urlsplit(prepared.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        head = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {size}",
                f"Content-Type: {content_type}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in prepared.headers.items()
                 if k.lower() not in ("content-length", "content-type", "host", "connection")]
        sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=self.timeout)
        sent, answered = 0, False
        try:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            deadline = time.monotonic() + self.timeout
            while sent < size and time.monotonic() < deadline:
                readable, _, _ = select.select([sock], [], [], wait if sent == chunk else 0)
                if readable:
                    answered = True
                    break
                try:
                    sock.sendall(filler[sent:sent + chunk])
                except (BrokenPipeError, ConnectionResetError):
                    answered = True
                    break
                sent += min(chunk, size - sent)
            raw = _read_all(sock)
        finally:
            sock.close()
        status, answer_headers, answer_body = _parse_response(raw)
        self.record(Exchange("POST", prepared.url, {**dict(prepared.headers), "Content-Length": str(size)},
                             f"<{size} bytes of spaces; {sent} sent before the answer>".encode(),
                             status, answer_headers, answer_body,
                             note=f"{sent} of {size} body bytes sent; answered early: {answered}"))
        return status, answer_headers, answer_body, sent

    def close(self) -> None:
        self.session.close()


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
            raw = b"".join(chunks)
            if b"\r\n\r\n" in raw:
                head, _, rest = raw.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length" and len(rest) >= int(value):
                        return raw
    except (ConnectionResetError, socket.timeout):
        pass
    return b"".join(chunks)


def _parse_response(raw: bytes) -> tuple[int | None, dict[str, str], bytes]:
    if not raw.startswith(b"HTTP/"):
        return None, {}, raw
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return status, headers, body


def iter_pages(client: SystemClient, feed_path: str, *, since: str | None = None, limit: int = 100,
               entity: str | None = None, max_pages: int = 1000) -> Iterable[tuple[requests.Response, dict]]:
    """Page through the change feed, yielding (answer, page) until ``has_more`` is false."""
    for _ in range(max_pages):
        params: dict[str, Any] = {"limit": limit}
        if since is not None:
            params["since"] = since
        if entity:
            params["entity"] = entity
        answer = client.get(feed_path, params=params)
        if answer.status_code != 200:
            raise Fail("a page of the change feed was not served", expected=200,
                       observed={"status": answer.status_code, "body": answer.text[:500]})
        page = answer.json()
        yield answer, page
        if not page.get("has_more"):
            return
        since = page.get("next_cursor")
    raise Fail(f"the feed did not end within {max_pages} pages")
