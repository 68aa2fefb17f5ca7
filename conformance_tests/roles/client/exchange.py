"""Client role: the suite plays the gateway and checks what the system under test sends.

As in Inferno's client tests, each test prints what the system should do next through
``ctx.progress`` (lines starting ``client: push`` / ``client: pull``), waits up to ``[client]
wait_seconds`` for it to happen at the suite's reference endpoint (endpoint.py), then checks
what arrived. The endpoint is started by the first client test of a run and kept in
``ctx.state``; every request it receives is kept for the later tests.
"""

from __future__ import annotations

import re
import time
from typing import Any

from ... import signing
from ...outcomes import Fail
from ...registry import conformance_test
from .endpoint import FEED_PATH, JWKS_PATH, PUSH_PATH, RETRY_AFTER, RecordValidator, ReferenceEndpoint

RECEIVED = "client.push.received"
PAGES = "client.pull.pages_to_end"
FEED_RECORDS = 5
KEY_SYNTAX = re.compile(r"^[\x21-\x7e]{1,128}$")


def endpoint(ctx) -> ReferenceEndpoint:
    """The run's reference endpoint, started on first use."""
    found = ctx.state.get("client.endpoint")
    if found is not None:
        return found
    cfg = ctx.config.client
    keys = signing.KeySet()
    for path in cfg.jwks:
        keys.keys.update(signing.load_public_keys(path).keys)
    if not keys.keys:
        raise Fail("[client] jwks holds no Ed25519 or P-256 public key of the system")
    validator = RecordValidator(getattr(ctx.config.data, "validator_url", "") or "",
                                getattr(ctx.config.server, "validate_path", "/api/v1/validate"))
    records = [ctx.data.record("volunteer", ctx.data.volunteer()) for _ in range(FEED_RECORDS - 1)]
    records.append({**ctx.data.record("volunteer", {}, op="delete")})
    from .endpoint import _RUNNING

    if cfg.port in _RUNNING:            # an earlier run in this process left it running
        _RUNNING[cfg.port].stop()
    ep = ReferenceEndpoint(cfg.host, cfg.port, system_keys=keys, client_id=cfg.client_id,
                           validator=validator, records=records).start()
    ctx.state["client.endpoint"] = ep
    ctx.note("reference endpoint", {"base_url": ep.base_url, "signing key": ep.key_id,
                                    "records validated with": validator.how})
    return ep


def _wait(ctx, ep: ReferenceEndpoint, predicate, what: str):
    timeout = ctx.config.client.wait_seconds
    found = ep.wait_for(predicate, timeout)
    if not found:
        raise Fail(f"{what} did not happen within {timeout:g} s", expected=what,
                   observed=[f"{r.method} {r.path} → {r.status}" for r in ep.received][-10:])
    return found


def _say(ctx, line: str) -> None:
    if ctx.progress:
        ctx.progress(line)


def _pushes(received, start: int = 0):
    return [r for r in received[start:] if r.path == PUSH_PATH and r.method == "POST"]


def _evidence(ctx, entries) -> None:
    ctx.note("requests received", [
        {"method": r.method, "url": r.url, "status": r.status, "action": r.action,
         "idempotency_key": r.idempotency_key, "nonce": r.nonce, "body_sha256": r.body_sha256,
         "signature_input": r.headers.get("Signature-Input"), "at": round(r.at, 3)}
        for r in entries])


# -- push -----------------------------------------------------------------------------------------

@conformance_test(RECEIVED, title="The system pushes a batch to the reference endpoint",
                  requirements="CLI-PUSH-01", features=("push",))
def push_received(ctx):
    ep = endpoint(ctx)
    start = len(ep.received)
    _say(ctx, f"client: push a batch of records to {ep.base_url}{PUSH_PATH} as client "
              f"{ctx.config.client.client_id} (the suite signs its answers with key {ep.key_id}, "
              f"JWK set {ep.base_url}{JWKS_PATH}); waiting up to {ctx.config.client.wait_seconds:g} s")
    _wait(ctx, ep, lambda got: [r for r in _pushes(got, start) if r.status is not None],
          "a push to the reference endpoint")
    ctx.state["client.first_push"] = (start, len(ep.received))
    _evidence(ctx, _pushes(ep.received, start))


@conformance_test("client.push.batch_valid",
                  title="The pushed batch is a valid envelope of valid records, with an Idempotency-Key",
                  requirements="CLI-PUSH-01", features=("push",), depends_on=(RECEIVED,))
def batch_valid(ctx):
    ep = endpoint(ctx)
    start, end = ctx.state["client.first_push"]
    broken = []
    for r in _pushes(ep.received[:end], start):
        key = r.idempotency_key
        if not key or not KEY_SYNTAX.match(key):
            broken.append({"request": r.url, "why": "Idempotency-Key missing or not 1-128 visible ASCII",
                           "observed": key})
        if r.action == "refused" and r.answer and r.answer.get("errors"):
            broken.append({"why": "the envelope breaks batch.schema.json", "errors": r.answer["errors"]})
        elif r.status == 415:
            broken.append({"why": "Content-Type is not application/json",
                           "observed": r.headers.get("Content-Type")})
        elif r.status == 400:
            broken.append({"why": "the body is not JSON"})
        if r.answer and "results" in r.answer:
            try:
                import json

                sender = json.loads(r.body).get("sender")
            except ValueError:
                sender = None
            if sender != ctx.config.client.client_id:
                broken.append({"why": "sender must be the system's client id",
                               "expected": ctx.config.client.client_id, "observed": sender})
            for result in r.answer["results"]:
                if result["errors"]:
                    broken.append({"why": f"record {result['index']} is not valid against the standard "
                                          f"({ep.validator.how})", "errors": result["errors"]})
    if broken:
        raise Fail("the pushed batch must be a valid envelope of valid records", observed=broken)


def _retry_test(ctx, action: str, say: str) -> dict[str, Any]:
    """Have the first attempt of the next new batch answered with ``action``; check the retry."""
    ep = endpoint(ctx)
    start = len(ep.received)
    ep.plan[:] = [action]
    try:
        _say(ctx, say)

        def retried(got):
            pushes = _pushes(got, start)
            first = next((r for r in pushes if r.action == action), None)
            if first is None:
                return None
            later = [r for r in pushes if r.at > first.at and r.status is not None]
            return (first, later) if later else None

        first, later = _wait(ctx, ep, retried, f"a push whose first attempt gets '{action}', then a retry")
    finally:
        ep.plan[:] = []
    _evidence(ctx, _pushes(ep.received, start))
    retry = later[0]
    if retry.idempotency_key != first.idempotency_key:
        raise Fail("the retry must carry the same Idempotency-Key as the first attempt",
                   expected=first.idempotency_key, observed=retry.idempotency_key)
    if retry.body_sha256 != first.body_sha256:
        raise Fail("the retry must send the same body (no changing timestamp)",
                   expected=first.body_sha256, observed=retry.body_sha256)
    if retry.nonce is None or retry.nonce == first.nonce:
        raise Fail("every attempt is signed anew: the retry needs a new nonce",
                   expected=f"a nonce other than {first.nonce!r}", observed=retry.nonce)
    gap = retry.at - first.at
    ctx.note("seconds between the attempts", round(gap, 3))
    return {"gap": gap, "first": first, "retry": retry}


@conformance_test("client.push.retry_after_503",
                  title="After a 503 with Retry-After the system retries with the same key, not earlier",
                  requirements="CLI-RETRY-01", features=("push",), depends_on=(RECEIVED,))
def retry_after_503(ctx):
    ep = endpoint(ctx)
    seen = _retry_test(ctx, "503",
                       f"client: push another batch (records not pushed before) to {ep.base_url}"
                       f"{PUSH_PATH}; the suite answers its first attempt 503 with Retry-After: "
                       f"{RETRY_AFTER} and expects the same batch again after that")
    if seen["gap"] < RETRY_AFTER - 0.25:
        raise Fail(f"the retry came before Retry-After ({RETRY_AFTER} s) had passed",
                   expected=f"≥ {RETRY_AFTER} s", observed=f"{seen['gap']:.2f} s")


@conformance_test("client.push.retry_after_drop",
                  title="After a dropped connection the system retries with the same key, signed anew",
                  requirements="CLI-RETRY-02", features=("push",), depends_on=(RECEIVED,))
def retry_after_drop(ctx):
    ep = endpoint(ctx)
    _retry_test(ctx, "drop",
                f"client: push another batch (records not pushed before) to {ep.base_url}{PUSH_PATH}; "
                "the suite drops the connection of its first attempt and expects the same batch again")


# -- pull -----------------------------------------------------------------------------------------

def _feed_requests(received, start: int):
    return [r for r in received[start:] if r.path == FEED_PATH and r.method == "GET"]


def _read_to_end(ctx, ep: ReferenceEndpoint, start: int, what: str):
    def ended(got):
        return any(r.status == 200 and r.answer and r.answer.get("has_more") is False
                   for r in _feed_requests(got, start))

    _wait(ctx, ep, ended, what)
    time.sleep(0.2)   # let a client that goes on asking be seen
    pages = [r for r in _feed_requests(ep.received, start) if r.status == 200]
    _evidence(ctx, _feed_requests(ep.received, start))
    chain = []
    for before, after in zip(pages, pages[1:]):
        if before.answer.get("has_more") and after.query.get("since") != before.answer.get("next_cursor"):
            chain.append({"expected since": before.answer.get("next_cursor"),
                          "observed since": after.query.get("since")})
    if chain:
        raise Fail("while has_more is true, each page must be asked for with since = next_cursor",
                   observed=chain)
    end = next(i for i, r in enumerate(pages) if r.answer.get("has_more") is False)
    return pages[:end + 1]


@conformance_test(PAGES, title="The system pages the feed to its end",
                  requirements="CLI-PULL-01", features=("feed",), depends_on=(RECEIVED,))
def pages_to_end(ctx):
    ep = endpoint(ctx)
    start = len(ep.received)
    _say(ctx, f"client: pull the feed from {ep.base_url} (GET {ep.base_url}{FEED_PATH}) from the "
              f"beginning and keep the cursor; it has {len(ep.changes)} changes in pages of at most 3")
    pages = _read_to_end(ctx, ep, start, "a pull of the whole feed")
    if pages[0].query.get("since"):
        raise Fail("a first pull starts from the beginning (no since)", expected=None,
                   observed=pages[0].query.get("since"))
    handed = [c["cursor"] for p in pages for c in p.answer["changes"]]
    missing = [c["cursor"] for c in ep.changes if c["cursor"] not in handed]
    if missing:
        raise Fail("the system must read every page up to has_more false",
                   expected=len(ep.changes), observed=len(handed))
    ctx.state["client.last_cursor"] = pages[-1].answer["next_cursor"]


@conformance_test("client.pull.resumes", title="The next pull resumes from the last cursor",
                  requirements="CLI-PULL-01", features=("feed",), depends_on=(PAGES,))
def resumes(ctx):
    ep = endpoint(ctx)
    before = {c["cursor"] for c in ep.changes}
    for _ in range(2):
        ep.add_change(ctx.data.record("volunteer", ctx.data.volunteer()))
    new = [c["cursor"] for c in ep.changes if c["cursor"] not in before]
    start = len(ep.received)
    _say(ctx, f"client: pull the feed from {ep.base_url} again, resuming from the cursor saved by "
              f"the last pull ({len(new)} new changes)")
    pages = _read_to_end(ctx, ep, start, "a second pull")
    saved = ctx.state["client.last_cursor"]
    if pages[0].query.get("since") != saved:
        raise Fail("the second pull must start from the last next_cursor of the first",
                   expected=saved, observed=pages[0].query.get("since"))
    handed = {c["cursor"] for p in pages for c in p.answer["changes"]}
    if not set(new) <= handed:
        raise Fail("the second pull must read the new changes", expected=new, observed=sorted(handed))
    ctx.state["client.last_cursor"] = pages[-1].answer["next_cursor"]


@conformance_test("client.pull.verifies_answers",
                  title="The system does not use a feed page whose signature does not verify",
                  requirements="CLI-PULL-02", features=("feed",), depends_on=("client.pull.resumes",))
def verifies_answers(ctx):
    ep = endpoint(ctx)
    saved = ctx.state["client.last_cursor"]
    ep.add_change(ctx.data.record("volunteer", ctx.data.volunteer()))
    start = len(ep.received)
    ep.forge_feed = True
    try:
        _say(ctx, f"client: pull the feed from {ep.base_url} again; the suite signs this answer "
                  f"with another key under its kid {ep.key_id}: the system must refuse the page")
        _wait(ctx, ep, lambda got: [r for r in _feed_requests(got, start) if r.action == "forged"],
              "a pull answered with a forged signature")
        time.sleep(0.2)
    finally:
        ep.forge_feed = False
    start = len(ep.received)
    _say(ctx, f"client: pull the feed from {ep.base_url} again, resuming from your saved cursor "
              "(this answer is signed correctly)")
    pages = _read_to_end(ctx, ep, start, "a pull after the forged answer")
    if pages[0].query.get("since") != saved:
        raise Fail("after a page that did not verify, the next pull must resume from the cursor "
                   "saved before it (the forged page's changes were not used)",
                   expected=saved, observed=pages[0].query.get("since"))
    ctx.state["client.last_cursor"] = pages[-1].answer["next_cursor"]


# -- every request ----------------------------------------------------------------------------------

def _requests(ep: ReferenceEndpoint):
    return [r for r in ep.received if r.path in (PUSH_PATH, FEED_PATH)]


def _is_digest_problem(text: str) -> bool:
    return "Content-Digest" in text or "Client-Id" in text


@conformance_test("client.requests.signature",
                  title="Every request is signed as docs/protocol.md §2 says (components, parameters, key)",
                  requirements=("CLI-SIG-01", "CLI-SIG-02"), depends_on=(RECEIVED,))
def requests_signed(ctx):
    ep = endpoint(ctx)
    broken = []
    nonces: dict[Any, str] = {}
    for r in _requests(ep):
        if r.signature_error:
            broken.append({"request": f"{r.method} {r.url}", "why": r.signature_error})
            continue
        for problem in r.signature.problems:
            if not _is_digest_problem(problem):
                broken.append({"request": f"{r.method} {r.url}", "why": problem})
        if r.nonce in nonces:
            broken.append({"request": f"{r.method} {r.url}",
                           "why": f"nonce {r.nonce!r} already used by {nonces[r.nonce]}"})
        nonces.setdefault(r.nonce, f"{r.method} {r.url}")
    ctx.note("signatures checked", len(_requests(ep)))
    if broken:
        raise Fail("every request must carry one valid signature with the required components "
                   "and parameters", observed=broken)
    if ep.received:
        sample = next((r for r in _requests(ep) if r.signature), None)
        if sample:
            ctx.note("a signature", {"components": sample.signature.components,
                                     "parameters": sample.signature.parameters})


@conformance_test("client.requests.content_digest",
                  title="Requests with a body send a matching Content-Digest and the right Client-Id",
                  requirements="CLI-SIG-03", depends_on=(RECEIVED,))
def requests_digest(ctx):
    ep = endpoint(ctx)
    broken = [{"request": f"{r.method} {r.url}", "why": p}
              for r in _requests(ep) if r.signature for p in r.signature.problems
              if _is_digest_problem(p)]
    if broken:
        raise Fail("a body needs a signed, matching Content-Digest; Client-Id is the system's",
                   observed=broken)
