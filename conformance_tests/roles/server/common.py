"""What the server-role tests share: pushing batches, reading problems, paging the feed."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from typing import Any

import requests

from ...outcomes import Fail

PROBLEM_TYPE = "application/problem+json"
_counter = itertools.count(1)


def idempotency_key(body: bytes) -> str:
    """``sha256-`` + base64url SHA-256 of the body, as docs/protocol.md suggests."""
    return "sha256-" + base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()


def volunteer_item(ctx, op: str = "upsert", **overrides: Any) -> dict:
    """A fresh valid volunteer (inside the declared scope, tagged with the run id) as an item."""
    return ctx.data.record("volunteer", ctx.data.volunteer(**overrides), op=op)


def batch_body(ctx, items: list[dict], *, batch_id: str | None = None,
               schema_version: str = "1") -> bytes:
    batch_id = batch_id or f"{ctx.run_id}-{next(_counter):04d}"
    envelope = ctx.data.batch(items, sender=ctx.config.server.client_id, batch_id=batch_id,
                              schema_version=schema_version)
    return json.dumps(envelope, ensure_ascii=False).encode("utf-8")


def push(ctx, body: bytes, *, key: str | None = None, sign: bool | dict = True,
         headers: dict[str, str] | None = None, note: str = "") -> requests.Response:
    """POST a batch body to the push endpoint (Idempotency-Key derived from the body by default)."""
    fields = {"Content-Type": "application/json", **(headers or {})}
    if key is not False:
        fields["Idempotency-Key"] = key or idempotency_key(body)
    return ctx.http.request("POST", ctx.config.server.push_path, body=body, headers=fields,
                            sign=sign, note=note)


def answer_json(answer: requests.Response, what: str) -> Any:
    try:
        return answer.json()
    except ValueError:
        raise Fail(f"{what}: the answer is not JSON", expected="JSON",
                   observed=answer.text[:300]) from None


def accepted(ctx, body: bytes, *, key: str | None = None, what: str = "a signed push") -> dict:
    """Push ``body`` correctly signed; the answer must be 200 with one result per record."""
    answer = push(ctx, body, key=key)
    if answer.status_code != 200:
        raise Fail(f"{what} must be answered 200", expected=200,
                   observed={"status": answer.status_code, "body": answer.text[:500]})
    result = answer_json(answer, what)
    sent = json.loads(body)["records"]
    results = result.get("results") if isinstance(result, dict) else None
    if not isinstance(results, list) or len(results) != len(sent):
        raise Fail(f"{what}: one result per record expected", expected=len(sent),
                   observed=None if results is None else len(results))
    return result


def expect_problem(answer: requests.Response, status: int, slug: str, what: str) -> dict:
    """The answer must be ``status`` with problem+json of type /problems/``slug``."""
    observed = {"status": answer.status_code, "content_type": answer.headers.get("Content-Type"),
                "body": answer.text[:500]}
    if answer.status_code != status:
        raise Fail(f"{what} must be refused with {status} /problems/{slug}", expected=status,
                   observed=observed)
    if (answer.headers.get("Content-Type") or "").split(";")[0].strip() != PROBLEM_TYPE:
        raise Fail(f"{what}: the refusal must be {PROBLEM_TYPE}", expected=PROBLEM_TYPE,
                   observed=observed)
    problem = answer_json(answer, what)
    kind = problem.get("type") if isinstance(problem, dict) else None
    if not isinstance(kind, str) or not (kind == f"/problems/{slug}" or kind.endswith(f"/problems/{slug}")):
        raise Fail(f"{what} must be refused with the problem type /problems/{slug}",
                   expected=f"/problems/{slug}", observed=kind)
    return problem


def statuses(result: dict) -> list[str]:
    return [r.get("status") for r in result.get("results", [])]


def nothing_was_written(ctx, body: bytes, key: str | None, what: str) -> None:
    """The refused batch, pushed again correctly (same key, same body), must be created anew."""
    result = accepted(ctx, body, key=key, what=f"the batch refused before ({what}), signed correctly")
    if statuses(result) != ["created"] * len(result["results"]):
        raise Fail(f"the refused request ({what}) must write nothing: its records, pushed again "
                   f"correctly, must be created", expected=["created"] * len(result["results"]),
                   observed=statuses(result))


def feed_pages(ctx, *, since: str | None = None, limit: int = 100, entity: str | None = "volunteer",
               max_pages: int = 2000):
    """Yield (answer, page) of the change feed from ``since`` until ``has_more`` is false."""
    for _ in range(max_pages):
        params: dict[str, Any] = {"limit": limit, **ctx.feed_params()}
        if since is not None:
            params["since"] = since
        if entity:
            params["entity"] = entity
        answer = ctx.http.request("GET", ctx.config.server.feed_path, params=params)
        if answer.status_code != 200:
            raise Fail("a page of the change feed must be served", expected=200,
                       observed={"status": answer.status_code, "body": answer.text[:500]})
        page = answer_json(answer, "a page of the change feed")
        for member, kind in (("changes", list), ("next_cursor", str), ("has_more", bool)):
            if not isinstance(page.get(member), kind) and not (member == "next_cursor" and
                                                                page.get(member) is None and since is None):
                raise Fail(f"a feed page must have {member} ({kind.__name__})", expected=kind.__name__,
                           observed=repr(page.get(member))[:100])
        yield answer, page
        if not page["has_more"]:
            return
        if page["next_cursor"] == since:
            raise Fail("has_more is true but next_cursor does not move", observed=since)
        since = page["next_cursor"]
    raise Fail(f"the feed did not end within {max_pages} pages")


def feed_tail(ctx, entity: str | None = "volunteer") -> str | None:
    """The cursor after the last change the feed has now (None: the feed is empty)."""
    cursor = None
    for _answer, page in feed_pages(ctx, limit=1000, entity=entity):
        cursor = page["next_cursor"] or cursor
    return cursor


def changes_after(ctx, since: str | None, keys: set[str], *, limit: int, entity: str = "volunteer",
                  wait: float = 10.0) -> list[dict]:
    """Every change after ``since`` for ``keys``; waits (up to ``wait`` s) until each key shows up.

    A feed may hold changes back for a moment (docs/protocol.md, Pull: PostgreSQL hands out
    only changes of finished transactions), so a missing key is looked for again.
    """
    deadline = time.monotonic() + wait
    while True:
        found = [c for _a, page in feed_pages(ctx, since=since, limit=limit, entity=entity)
                 for c in page["changes"] if isinstance(c, dict) and c.get("key") in keys]
        if {c.get("key") for c in found} >= keys or time.monotonic() > deadline:
            return found
        time.sleep(0.5)
