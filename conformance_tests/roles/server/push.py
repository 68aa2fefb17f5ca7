"""Server role: signed pushes, idempotency, validation and scope (docs/protocol.md, Push)."""

from __future__ import annotations

import json

from ...outcomes import Fail
from ...registry import conformance_test
from .common import (accepted, batch_body, expect_problem, idempotency_key, push, statuses,
                     volunteer_item)

ACCEPTED = "server.push.accepted"


@conformance_test(ACCEPTED, title="A signed push is accepted with one result per record",
                  requirements="EXC-PUSH-01", features=("push",))
def push_accepted(ctx):
    items = [volunteer_item(ctx) for _ in range(3)]
    result = accepted(ctx, batch_body(ctx, items))
    results = result["results"]
    if [r.get("index") for r in results] != [0, 1, 2]:
        raise Fail("results come in input order, each with its index", expected=[0, 1, 2],
                   observed=[r.get("index") for r in results])
    if statuses(result) != ["created"] * 3:
        raise Fail("three new valid records must be created", expected=["created"] * 3,
                   observed=[(r.get("status"), r.get("errors")) for r in results])
    for r in results:
        if r.get("entity") != "volunteer" or r.get("op") != "upsert" or not r.get("key") \
                or r.get("errors") != []:
            raise Fail("each result names its entity, op, the store's key and its errors",
                       expected={"entity": "volunteer", "op": "upsert", "key": "…", "errors": []},
                       observed=r)
    summary = result.get("summary") or {}
    if summary.get("total") != 3 or summary.get("created") != 3 or summary.get("rejected") != 0:
        raise Fail("the summary must add up", expected={"total": 3, "created": 3, "rejected": 0},
                   observed=summary)
    ctx.state["pushed_keys"] = [r["key"] for r in results]


@conformance_test("server.push.answer_signed", title="A push's answer is signed by a key of the JWK set",
                  requirements="EXC-RESP-01", features=("push", "response_signatures"),
                  depends_on=(ACCEPTED, "server.keys.jwks"))
def push_answer_signed(ctx):
    body = batch_body(ctx, [volunteer_item(ctx)])
    answer = push(ctx, body)
    if answer.status_code != 200:
        raise Fail("a signed push must be answered 200", expected=200, observed=answer.status_code)
    ctx.note("signature", ctx.http.verify_response(answer))


@conformance_test("server.keys.jwks", title="The system publishes its signing keys as a JWK set",
                  requirements="EXC-KEY-01", features=("response_signatures",))
def jwks_published(ctx):
    keys = ctx.http.keys(refresh=True)   # raises Fail if unreadable; refuses private JWKs
    if not keys.keys:
        raise Fail("the JWK set must hold at least one Ed25519 or P-256 key with a kid",
                   expected="≥ 1 key", observed=0)
    ctx.note("key ids", sorted(keys.keys))


@conformance_test("server.push.idempotent_replay",
                  title="The same Idempotency-Key and body get the stored answer byte for byte",
                  requirements="EXC-IDEM-01", features=("push", "idempotency"), depends_on=(ACCEPTED,))
def idempotent_replay(ctx):
    body = batch_body(ctx, [volunteer_item(ctx), volunteer_item(ctx)])
    first = push(ctx, body)
    second = push(ctx, body, note="the same body and Idempotency-Key, signed anew")
    if first.status_code != 200 or second.status_code != 200:
        raise Fail("both attempts must be answered 200", expected=[200, 200],
                   observed=[first.status_code, second.status_code])
    if second.content != first.content:
        raise Fail("a repeated Idempotency-Key must get the stored answer byte for byte",
                   expected=first.text[:400], observed=second.text[:400])


@conformance_test("server.push.idempotency_key_reused",
                  title="The same Idempotency-Key with another body is refused (409)",
                  requirements=("EXC-IDEM-02", "EXC-PROB-01"), features=("push", "idempotency"),
                  depends_on=(ACCEPTED,))
def idempotency_key_reused(ctx):
    body = batch_body(ctx, [volunteer_item(ctx)])
    key = idempotency_key(body)
    first = push(ctx, body, key=key)
    if first.status_code != 200:
        raise Fail("the first push must be answered 200", expected=200, observed=first.status_code)
    other = batch_body(ctx, [volunteer_item(ctx)])
    answer = push(ctx, other, key=key, note="the Idempotency-Key of the batch before, another body")
    expect_problem(answer, 409, "idempotency-key-reused", "a reused Idempotency-Key")


@conformance_test("server.push.idempotency_key_required",
                  title="A push without an Idempotency-Key is refused (400)",
                  requirements="EXC-IDEM-03", features=("push",), depends_on=(ACCEPTED,))
def idempotency_key_required(ctx):
    answer = push(ctx, batch_body(ctx, [volunteer_item(ctx)]), key=False)
    expect_problem(answer, 400, "idempotency-key-required", "a push without Idempotency-Key")


def _rejected_with(result: dict, index: int, pointer: str, rule: str) -> dict:
    item = result["results"][index]
    errors = item.get("errors") or []
    if item.get("status") != "rejected" or not any(
            isinstance(e, dict) and e.get("pointer") == pointer and e.get("rule") == rule for e in errors):
        raise Fail(f"record {index} must be rejected with an error at {pointer} (rule {rule})",
                   expected={"status": "rejected", "errors": [{"pointer": pointer, "rule": rule}]},
                   observed={"status": item.get("status"), "errors": errors})
    return item


@conformance_test("server.validation.invalid_records",
                  title="Invalid records are refused with a JSON Pointer and a rule id; valid ones kept",
                  requirements="EXC-VAL-01", features=("push",), depends_on=(ACCEPTED,))
def invalid_records(ctx):
    bad_mobile = volunteer_item(ctx)
    bad_mobile["data"]["mobile"] = "2" + bad_mobile["data"]["mobile"][1:]   # schema.pattern
    bad_checksum = volunteer_item(ctx)
    number = bad_checksum["data"]["id_number"]
    wrong = "0" if number[17] != "0" else "1"
    bad_checksum["data"]["id_number"] = number[:17] + wrong                # citizen_id.checksum
    items = [volunteer_item(ctx), bad_mobile, bad_checksum, volunteer_item(ctx)]
    result = accepted(ctx, batch_body(ctx, items), what="a batch with invalid records")
    _rejected_with(result, 1, "/data/mobile", "schema.pattern")
    _rejected_with(result, 2, "/data/id_number", "citizen_id.checksum")
    kept = [result["results"][i].get("status") for i in (0, 3)]
    if kept != ["created", "created"]:
        raise Fail("the valid records of the same batch must be stored", expected=["created"] * 2,
                   observed=kept)


@conformance_test("server.scope.out_of_scope", title="Out-of-scope records are refused per record",
                  requirements="EXC-SCOPE-01", features=("push",), depends_on=(ACCEPTED,))
def out_of_scope(ctx):
    outside = volunteer_item(ctx, service_area=ctx.data.out_of_scope_region())
    items = [volunteer_item(ctx), outside]
    result = accepted(ctx, batch_body(ctx, items), what="a batch with an out-of-scope record")
    item = result["results"][1]
    if item.get("status") != "rejected" or not any(
            isinstance(e, dict) and e.get("rule") == "exchange.out_of_scope" and
            isinstance(e.get("pointer"), str) for e in item.get("errors") or []):
        raise Fail("a record outside the client's region must be rejected with exchange.out_of_scope",
                   expected={"status": "rejected", "rule": "exchange.out_of_scope"},
                   observed={"status": item.get("status"), "errors": item.get("errors")})
    if result["results"][0].get("status") != "created":
        raise Fail("the record inside the scope must be stored", expected="created",
                   observed=result["results"][0].get("status"))


@conformance_test("server.problems.well_formed", title="Refusals are well-formed problem+json (RFC 9457)",
                  requirements="EXC-PROB-01", features=("push",), depends_on=(ACCEPTED,))
def problems_well_formed(ctx):
    from .common import PROBLEM_TYPE, answer_json

    cases = []
    body = batch_body(ctx, [volunteer_item(ctx)])
    cases.append(("an unsigned push", push(ctx, body, sign=False)))
    cases.append(("a body that is not JSON", push(ctx, b'{"schema_version": "1", "records": [',
                                                 key=f"{ctx.run_id}-not-json")))
    envelope = json.loads(body)
    envelope["schema_version"] = "999"
    cases.append(("an envelope breaking batch.schema.json",
                  push(ctx, json.dumps(envelope).encode(), key=f"{ctx.run_id}-bad-envelope")))
    broken = []
    for what, answer in cases:
        observed = {"case": what, "status": answer.status_code,
                    "content_type": answer.headers.get("Content-Type"), "body": answer.text[:300]}
        if not 400 <= answer.status_code < 500:
            broken.append({**observed, "why": "a refusal must be a 4xx"})
            continue
        if (answer.headers.get("Content-Type") or "").split(";")[0].strip() != PROBLEM_TYPE:
            broken.append({**observed, "why": f"Content-Type must be {PROBLEM_TYPE}"})
            continue
        problem = answer_json(answer, what)
        if not isinstance(problem, dict):
            broken.append({**observed, "why": "the body must be a JSON object"})
        elif not isinstance(problem.get("type"), str) or not problem["type"]:
            broken.append({**observed, "why": "type must be a URI reference (string)"})
        elif not isinstance(problem.get("title"), str):
            broken.append({**observed, "why": "title must be a string"})
        elif problem.get("status") != answer.status_code:
            broken.append({**observed, "why": "status must equal the HTTP status"})
        elif "detail" in problem and not isinstance(problem["detail"], str):
            broken.append({**observed, "why": "detail must be a string"})
    if broken:
        raise Fail("every refusal must be a well-formed RFC 9457 problem", expected="type, title, "
                   "status (= HTTP status), detail (string) in application/problem+json",
                   observed=broken)


@conformance_test("server.limits.body_too_large", title="A body over the declared limit is refused unread",
                  requirements="EXC-LIM-01", features=("push",), depends_on=(ACCEPTED,))
def body_too_large(ctx):
    from ...outcomes import Skip

    limit = ctx.config.server.max_body_bytes
    if not limit:
        raise Skip("[server] max_body_bytes is 0: the system declares no body limit")
    size = limit + 512 * 1024
    status, headers, body, sent = ctx.http.send_oversized(
        ctx.config.server.push_path, size=size,
        headers={"Idempotency-Key": f"{ctx.run_id}-too-large"})
    if status != 413:
        raise Fail(f"a body of {size} bytes (limit {limit}) must be refused with 413", expected=413,
                   observed={"status": status, "body": body[:300].decode("utf-8", "replace")})
    if (headers.get("Content-Type") or "").split(";")[0].strip() != "application/problem+json":
        raise Fail("the 413 must be problem+json", expected="application/problem+json",
                   observed=headers.get("Content-Type"))
    try:
        kind = json.loads(body).get("type", "")
    except ValueError:
        kind = None
    if not isinstance(kind, str) or not kind.endswith("/problems/body-too-large"):
        raise Fail("the 413 must have the type /problems/body-too-large",
                   expected="/problems/body-too-large", observed=kind)
    if sent >= size:
        raise Fail("the body must be refused from its declared length, before it is read",
                   expected=f"an answer before all {size} bytes are sent",
                   observed=f"answered after {sent} bytes")
    ctx.note("bytes sent before the answer", sent)
