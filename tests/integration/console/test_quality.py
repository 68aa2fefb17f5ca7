"""The data-quality page over time, on both stores: per source from the dead letters, per client
from the stored (sealed) answers to its pushes; a 30-day series per day and the table of the
page's days, with masked examples."""

from __future__ import annotations

import html
import json
import re
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from gateway import timefmt
from gateway.privacy import SEAL_PREFIX
from gateway.store.models import BlobChunk, DeadLetter, IdempotencyKey, utcnow
from tests import factories
from tests.conftest import make_caller
from tests.integration.console.helpers import logged_in
from tests.integration.console.test_operations import _sheet_source
from tests.integration.exchange_push import helpers as push_helpers
from tests.integration.sync_jobs.helpers import run

URL = "/api/v1/exchange/batches"
_CHART = re.compile(r'<script type="application/json" id="(chart-q-[^"]+)-data">(.*?)</script>', re.S)


def _charts(page: str) -> list[dict]:
    return [json.loads(html.unescape(body)) for _id, body in _CHART.findall(page)]


def _push_with_rejections(app, headers, start: int) -> str:
    """One batch: a good volunteer, one with a wrong check digit, one with a bad gender."""
    bad_id = push_helpers.volunteer(start + 1, id_number=factories.CITIZEN_ID[:-1] + "9")
    records = [push_helpers.item("volunteer", push_helpers.volunteer(start)),
               push_helpers.item("volunteer", bad_id),
               push_helpers.item("volunteer", push_helpers.volunteer(start + 2, gender="x"))]
    key = uuid.uuid4().hex
    answer = app.test_client().post(URL, json=push_helpers.envelope(records, sender="q-city"),
                                    headers={**headers, "Idempotency-Key": key})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["summary"]["rejected"] == 2
    return key


def _age(app, model, where, days: int) -> None:
    with app.extensions["store.sessionmaker"]() as session:
        session.execute(update(model).where(where).values(created_at=utcnow() - timedelta(days=days)))
        session.commit()


def test_rejections_per_day_per_source_and_client_from_sealed_answers(store_app, tmp_path):
    headers = make_caller(store_app, "q-city", region="11", perms={"*": ["read", "write"]})
    old = _push_with_rejections(store_app, headers, 100)
    _push_with_rejections(store_app, headers, 200)
    _age(store_app, IdempotencyKey, IdempotencyKey.key == old, 12)   # in the series, not the table
    _sheet_source(store_app, tmp_path / "drop", region="3201")        # 3 records out of scope
    run(store_app, "sheet")
    with store_app.extensions["store.sessionmaker"]() as session:
        letters = list(session.execute(select(DeadLetter.id).order_by(DeadLetter.id)).scalars())
        blobs = list(session.execute(select(IdempotencyKey.response_blob)).scalars())
        stored = list(session.execute(select(BlobChunk.data).where(BlobChunk.blob_key.in_(blobs)))
                      .scalars())
    assert len(letters) == 3 and len(blobs) == 2
    # the answers the page reads are sealed at rest: no rule id readable in the rows
    assert stored and all(bytes(d).startswith(SEAL_PREFIX) for d in stored)
    assert not any(b"format.gb11643" in bytes(d) or b"volunteer" in bytes(d) for d in stored)
    _age(store_app, DeadLetter, DeadLetter.id == letters[0], 3)

    viewer = logged_in(store_app, "look")
    page = viewer.get("/console/quality").data.decode()
    series = _charts(page)
    assert len(series) == 2                                          # the source, the client
    source, client = series
    assert len(source["labels"]) == len(client["labels"]) == 30
    assert source["labels"][-1] == timefmt.local(utcnow()).strftime("%m-%d")   # days of TIMEZONE
    (scope_rule,) = source["datasets"]
    assert scope_rule["rule"] == "exchange.out_of_scope"
    assert scope_rule["counts"][-1] == 2 and scope_rule["counts"][-4] == 1 and sum(scope_rule["counts"]) == 3
    by_rule = {d["rule"]: d["counts"] for d in client["datasets"]}
    assert {"citizen_id.checksum", "code.unknown"} <= set(by_rule), by_rule
    today = sorted(counts[-1] for counts in by_rule.values())
    for counts in by_rule.values():                       # today's batch and the one of 12 days ago
        assert counts[-1] == counts[-13] > 0 and sum(counts) == 2 * counts[-1]
    # the table is the page's 7 days: the push of 12 days ago is not in it, the 3-day-old letter is
    def table(text):
        return sorted(int(n) for n in re.findall(r'<td class="num">(\d+)</td>', text[text.index("按客户端"):]))
    assert table(page) == today
    assert '<td class="num">3</td>' in page[page.index("按数据源"):page.index("按客户端")]
    assert table(viewer.get("/console/quality?days=30").data.decode()) == [2 * n for n in today]
    # masked examples: keys, pointers and messages, never an ID or mobile number
    for i in (100, 101, 102, 200, 201, 202):
        person = push_helpers.volunteer(i)
        assert person["id_number"] not in page and person["mobile"] not in page
    assert "vol-000201" in page and "/data/id_number" in page

    # a province account sees neither the Beijing client nor the Nanjing source of another
    other = logged_in(store_app, "zj", region="33")
    assert _charts(other.get("/console/quality").data.decode()) == []
    nanjing = logged_in(store_app, "js", region="32")
    names = re.findall(r"<h3>([^<]+)</h3>", nanjing.get("/console/quality").data.decode())
    assert names == ["sheet"]
