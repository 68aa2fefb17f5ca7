"""GET /api/v1/projects: region (a province finds its counties), category, overlapping dates,
status, keyword, pagination and stable sorting, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.integration.activities import helpers
from tests.integration.activities.helpers import PROJECTS, problem


@pytest.fixture
def admin(store_app, caller):
    """A nationwide client allowed everything (publishes the projects searched for)."""
    return caller(store_app, "admin", perms={"*": ["read", "write", "review"]})


@pytest.fixture
def reader(store_app, caller):
    """A client of another province that may only read projects."""
    return caller(store_app, "reader", region="32", perms={"project": ["read"]})


def _publish(http, headers, name, area, *, starts="2024-04-01", ends="2024-06-30", category="0001",
             status="3", **extra):
    record = helpers.project_record(name=name, area=area, starts_on=starts, ends_on=ends,
                                    service_category=category, status=status, posts=[], **extra)
    return helpers.publish(http, headers, record)["project_no"]


@pytest.fixture
def world(store_app, http, admin, team_no):
    """Projects across 北京 and 广东 (a town of 南山, a county-level city 东莞), several
    categories, dates and statuses. Returns name -> project_no."""
    rows = [
        ("朝阳助老", "110105", {}),
        ("海淀环保行动", "110108", {"category": "0003", "starts": "2024-07-01", "ends": "2024-07-31"}),
        ("南山社区 ABC 服务", "440305", {"category": "0003"}),
        ("南头街道义诊", "440305001", {"status": "4", "starts": "2023-01-01", "ends": "2023-12-31"}),
        ("天河文明交通", "440106", {"category": "0017", "status": "7"}),
        ("东莞助老 100% 服务", "441900", {"starts": "2025-01-01", "ends": "2025-01-01"}),
    ]
    return {name: _publish(http, admin, name, area, **kw) for name, area, kw in rows}


def _search(http, headers, query: str = "", status: int = 200) -> dict:
    answer = http.get(f"{PROJECTS}?{query}", headers=headers)
    assert answer.status_code == status, answer.get_data(as_text=True)
    return answer.get_json()


def _names(body) -> set[str]:
    return {item["name"] for item in body["items"]}


def test_a_province_finds_the_projects_of_its_counties_and_towns(http, world, reader):
    body = _search(http, reader, "region=44")
    assert _names(body) == {"南山社区 ABC 服务", "南头街道义诊", "天河文明交通", "东莞助老 100% 服务"}
    assert body["total"] == 4 and body["page"] == 1 and body["per_page"] == 20
    # The 6-digit form of a province or city is understood as such.
    assert _names(_search(http, reader, "region=440000")) == _names(body)
    assert _names(_search(http, reader, "region=4403")) == {"南山社区 ABC 服务", "南头街道义诊"}
    assert _names(_search(http, reader, "region=440300")) == {"南山社区 ABC 服务", "南头街道义诊"}
    assert _names(_search(http, reader, "region=440305")) == {"南山社区 ABC 服务", "南头街道义诊"}
    # A town code finds the town's projects only; trailing zero groups name the same town.
    assert _names(_search(http, reader, "region=440305001")) == {"南头街道义诊"}
    assert _names(_search(http, reader, "region=440305001000")) == {"南头街道义诊"}
    assert _names(_search(http, reader, "region=440305000000")) == {"南山社区 ABC 服务", "南头街道义诊"}
    # 东莞 has no counties: it is a county-level city, found by its city and county codes.
    assert _names(_search(http, reader, "region=4419")) == {"东莞助老 100% 服务"}
    assert _names(_search(http, reader, "region=441900")) == {"东莞助老 100% 服务"}
    assert _names(_search(http, reader, "region=11")) == {"朝阳助老", "海淀环保行动"}


def test_filters_by_category_status_and_overlapping_dates(http, world, reader):
    assert _names(_search(http, reader, "service_category=0003")) == {"海淀环保行动", "南山社区 ABC 服务"}
    assert _search(http, reader, "service_category=0003,0017")["total"] == 3
    assert _search(http, reader, "service_category=0003&service_category=0017")["total"] == 3
    assert _names(_search(http, reader, "status=4")) == {"南头街道义诊"}
    assert _names(_search(http, reader, "status=4,7")) == {"南头街道义诊", "天河文明交通"}
    assert _names(_search(http, reader, "status=4&status=7")) == {"南头街道义诊", "天河文明交通"}
    assert _search(http, reader, "status=3&region=44")["total"] == 2
    # Overlap with [from, to]: starts_on <= to and ends_on >= from.
    assert _names(_search(http, reader, "from=2024-06-30&to=2024-07-01&region=11")) == {
        "朝阳助老", "海淀环保行动"}
    assert _names(_search(http, reader, "from=2024-07-01&region=11")) == {"海淀环保行动"}
    assert _names(_search(http, reader, "to=2023-06-01")) == {"南头街道义诊"}
    assert _names(_search(http, reader, "from=2025-01-01&to=2025-01-01")) == {"东莞助老 100% 服务"}
    assert _search(http, reader, "from=2026-01-01")["total"] == 0


def test_keyword_on_the_name(http, world, reader):
    assert _names(_search(http, reader, "q=助老")) == {"朝阳助老", "东莞助老 100% 服务"}
    assert _names(_search(http, reader, "q=abc")) == {"南山社区 ABC 服务"}  # case-insensitive
    assert _names(_search(http, reader, "q=100%25")) == {"东莞助老 100% 服务"}  # % is literal
    assert _search(http, reader, "q=_")["total"] == 0  # so is _
    assert _names(_search(http, reader, "q=助老&region=11")) == {"朝阳助老"}


def test_pagination_and_sort_are_stable(store_app, http, admin, team_no, reader):
    numbers = [_publish(http, admin, f"项目{i}", "110105", starts="2024-05-01") for i in range(5)]
    numbers.append(_publish(http, admin, "项目A", "110105", starts="2024-01-01"))
    seen = []
    for page in (1, 2, 3, 4):
        body = _search(http, reader, f"per_page=2&page={page}")
        assert body["total"] == 6 and body["per_page"] == 2
        seen += [item["project_no"] for item in body["items"]]
    # -starts_on (default): ties broken by creation, newest first; nothing repeated or lost.
    assert seen == numbers[4::-1] + [numbers[5]]
    ascending = [i["project_no"] for i in _search(http, reader, "sort=starts_on")["items"]]
    assert ascending == [numbers[5]] + numbers[:5]
    by_name = [i["name"] for i in _search(http, reader, "sort=name")["items"]]
    assert by_name == sorted(by_name)
    newest = [i["project_no"] for i in _search(http, reader, "sort=-created_at")["items"]]
    assert newest == numbers[::-1]
    assert _search(http, reader, "page=9")["items"] == []


def test_bad_arguments_are_problems_with_pointers(http, world, reader):
    for query, field in (("region=123", "region"), ("from=2024-02-01&to=2024-01-01", "to"),
                         ("status=99", "status"), ("sort=price", "sort"),
                         ("service_category=0000", "service_category"), ("per_page=1000", "per_page"),
                         ("from=2024-02-30", "from")):
        body = problem(http.get(f"{PROJECTS}?{query}", headers=reader), 422)
        assert any(e["pointer"].startswith(f"/{field}") for e in body["errors"]), (query, body)


def test_search_needs_project_read(store_app, http, world, caller):
    problem(http.get(PROJECTS), 401)
    nobody = caller(store_app, "nobody", region="11", perms={"enrollment": ["read"]})
    problem(http.get(PROJECTS, headers=nobody), 403)
    # Another province's reader sees every public project (filters as given, not its region).
    assert _search(http, caller(store_app, "far", region="65", perms={"project": ["read"]}))["total"] == 6
