"""A schemathesis campaign over the gateway's served OpenAPI document, every operation.

The gateway runs for real on 127.0.0.1 (werkzeug, a fresh migrated SQLite store with the
seed data). Each generated request is sent over HTTP as a registered client: operations
that take a signature (``httpSignature`` in the document) are signed per request by the
gateway's own client signer (:class:`gateway.exchange.client_auth.GatewayAuth`, RFC 9421
with a fresh nonce and Content-Digest), so generated bodies reach the real exchange logic;
the others carry the client's development token. Every answer is checked for:

- no server error (5xx), and
- conformance to the document: the status code is documented, the Content-Type is the
  documented one, the body matches the documented schema, documented headers are there.

Positive (valid by the document) and negative (invalid) requests are generated for each
operation. The CI test (tests/fuzz/test_openapi_campaign.py) runs a small bounded number
per operation; ``make fuzz`` (``python -m tests.fuzz.campaign``) runs a longer one and
prints the requests made and every failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

DEBUG_401 = False
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


@dataclasses.dataclass
class Failure:
    operation: str
    check: str
    status: int | None
    message: str
    request: str

    def line(self) -> str:
        return f"{self.operation}: {self.check} (status {self.status}): {self.message}\n    {self.request}"


@dataclasses.dataclass
class Outcome:
    operations: int = 0
    requests: int = 0
    statuses: Counter = dataclasses.field(default_factory=Counter)
    by_operation: Counter = dataclasses.field(default_factory=Counter)
    signed_ok: int = 0  # signed requests the gateway accepted (not 401): they reached the logic
    failures: dict[tuple[str, str, str], Failure] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def report(self) -> str:
        lines = [f"fuzz campaign: {self.operations} operations, {self.requests} requests in "
                 f"{self.seconds:.0f} s; answers by status: "
                 + ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())),
                 f"signed requests accepted by the signature check: {self.signed_ok}",
                 f"failures: {len(self.failures)} distinct"]
        lines += [f.line() for f in self.failures.values()]
        return "\n".join(lines)


@dataclasses.dataclass
class Credentials:
    """How a generated request authenticates: a signing auth and a development token."""

    sign: Callable[[], requests.auth.AuthBase]
    bearer: str


def _signed(operation) -> bool:
    security = operation.definition.raw.get("security") or []
    return any("httpSignature" in requirement for requirement in security)


def _describe(case, response) -> str:
    request = response.request if response is not None else None
    url = getattr(request, "url", None) or case.formatted_path
    return f"{case.method.upper()} {url}"


def run(base_url: str, credentials: Credentials, known: dict[str, str], *, max_examples: int,
        budget_seconds: float,
        modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
        seed: int | None = None, log: Callable[[str], None] = lambda _: None) -> Outcome:
    """Fuzz every operation of the served document; bounded by examples and by time."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    outcome = Outcome()
    started = time.monotonic()
    deadline = started + budget_seconds
    operations = [result.ok() for result in schema.get_all_operations()]
    # The signed exchange operations first: a time cap reached on a busy machine must not
    # leave them untried (the campaign's point is that signed bodies reach the logic).
    operations.sort(key=lambda operation: not _signed(operation))
    outcome.operations = len(operations)
    session = requests.Session()
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        signed = _signed(operation)
        for mode in modes:
            if time.monotonic() > deadline:
                break
            strategy = operation.as_strategy(generation_mode=mode)
            wanted = {name: value for name, value in known.items()
                      if "{" + name + "}" in operation.path}
            if wanted:  # half the requests address objects that exist
                strategy = strategy | operation.as_strategy(generation_mode=mode,
                                                            path_parameters=wanted)

            @settings(max_examples=max_examples, deadline=None, database=None, derandomize=seed is not None,
                      phases=[Phase.explicit, Phase.generate], verbosity=Verbosity.quiet,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def exercise(case) -> None:
                if time.monotonic() > deadline:
                    return
                headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
                case.headers = headers
                kwargs: dict[str, Any] = {"timeout": 30, "allow_redirects": False}
                if signed:
                    kwargs["auth"] = credentials.sign()
                    extra = {}
                else:
                    extra = {"Authorization": f"Bearer {credentials.bearer}"}
                response = None
                try:
                    response = case.call(base_url=base_url, session=session, headers=extra, **kwargs)
                    outcome.requests += 1
                    outcome.statuses[response.status_code] += 1
                    outcome.by_operation[(operation.method.upper(), operation.path)] += 1
                    if signed and response.status_code != 401:
                        outcome.signed_ok += 1
                    if response.status_code == 401 and DEBUG_401:
                        log(f"401 {label}: {case.headers} {response.text[:200]}")
                    case.validate_response(response, checks=CHECKS)
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every failure is recorded, none stops the run
                    for failure in getattr(exc, "exceptions", None) or [exc]:
                        title = getattr(failure, "title", type(failure).__name__)
                        message = (getattr(failure, "message", "") or str(failure)).strip()
                        first = message.splitlines()[0][:300] if message else ""
                        key = (label, title, first)
                        if key not in outcome.failures:
                            outcome.failures[key] = Failure(
                                label, title, getattr(response, "status_code", None), message[:1500],
                                _describe(case, response))
                            log(f"FAIL {label} [{mode.value}] {title}: {first}")

            try:
                exercise()
            except Unsatisfiable:  # e.g. no way to make a parameterless request invalid
                pass
        log(f"{label}: {outcome.requests} requests so far")
    outcome.seconds = time.monotonic() - started
    return outcome


# -- the gateway under test ------------------------------------------------------------------------

def serve_gateway(workdir: Path):
    """A migrated gateway with seed data and a registered fuzzing client, served on 127.0.0.1.

    Returns ``(live server, credentials, known path parameters)``; stop the server with
    ``.stop()``. The store holds the certificate tests' small world (a
    volunteer with service records in two teams' projects) and one issued certificate, so
    that generated requests also reach objects that exist.
    """
    from gateway import create_app, store
    from gateway.services.clients import create_client, issue_dev_token
    from gateway.exchange import keys as client_keys
    from gateway.exchange.client_auth import GatewayAuth
    from tests.integration.exchange.helpers import LiveServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{workdir / 'store.sqlite3'}",
                      "KEYS_DIR": str(workdir / "keys"), "DEV_TOKENS": True,
                      # The campaign's client is the only caller: keep the per-client limits out of the way.
                      "VERIFY_RATE_LIMIT": "100000 per minute"})
    store.upgrade(app)
    pair = client_keys.generate_key_pair("ed25519")
    with store.session_scope(app) as session:
        client = create_client(session, "fuzzer", "fuzz campaign", region_prefix="",
                                      permissions={"*": ["read", "write", "review"]}, pii_access="full")
        key_id = client_keys.add_key(session, client, pair.public_pem).key_id
        token = issue_dev_token(session, client)
    known = _seed(app, token)
    live = LiveServer(app)
    credentials = Credentials(sign=lambda: GatewayAuth("fuzzer", key_id, pair.private_pem), bearer=token)
    return live, credentials, known


def _seed(app, token: str) -> dict[str, str]:
    from sqlalchemy import select

    from gateway import store
    from gateway.store.models import NumberSequence, ServiceRecord
    from tests.integration.certificates import helpers as certificates

    world = certificates.seed(app)
    with store.session_scope(app) as session:  # the seed wrote team numbers past the counters
        session.execute(NumberSequence.__table__.insert(), [
            {"name": "T:110105", "next_value": 100}, {"name": "T:440106", "next_value": 100}])
    answer = app.test_client().post("/api/v1/certificates", json=certificates.issue_body(world),
                                    headers={"Authorization": f"Bearer {token}"})
    if answer.status_code != 201:
        raise RuntimeError(f"issuing the seed certificate failed: {answer.status_code} {answer.text}")
    with store.session_scope(app) as session:
        record_no = session.execute(select(ServiceRecord.record_no).limit(1)).scalar_one()
    return {"volunteer_no": world.volunteer_no, "team_no": world.team_a,
            "project_no": "P110105202404001", "record_no": record_no,
            "certificate_no": answer.get_json()["certificate_no"], "post_no": "1",
            "entity": "volunteer", "version": "1", "name": "volunteer", "table": "gender",
            "code": "110105"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100, help="examples per operation and mode")
    parser.add_argument("--budget", type=float, default=1800, help="stop generating after this many seconds")
    parser.add_argument("--seed", type=int, default=None, help="derandomize (same requests each run)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vgw-fuzz-") as tmp:
        live, credentials, known = serve_gateway(Path(tmp))
        try:
            outcome = run(live.url, credentials, known, max_examples=args.max_examples,
                          budget_seconds=args.budget, seed=args.seed,
                          log=lambda text: print(text, flush=True))
        finally:
            live.stop()
            live.app.extensions["store.engine"].dispose()
    print(outcome.report())
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(main())
