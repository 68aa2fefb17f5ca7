"""Statistics over HTTP on both stores: drill-down, age bands, months, categories, shares, scope."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from tests.conftest import ALL_PERMS, make_caller
from tests.integration.statistics import helpers
from tests.integration.statistics.helpers import READ

BASE = "/api/v1/statistics"


@pytest.fixture
def world(store_app):
    helpers.seed(store_app)
    return store_app


@pytest.fixture
def national(world):
    return world.test_client(), make_caller(world, "stats-national", perms=READ)


def _get(client, headers, path, **params):
    answer = client.get(f"{BASE}/{path}", query_string=params, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _items(answer, *fields):
    return [tuple(item.get(f) for f in ("code", "name", *fields)) for item in answer["items"]]


def test_volunteers_drill_down_from_country_to_county(national):
    client, headers = national
    country = _get(client, headers, "volunteers")
    assert country["region"] == {"code": None, "name": "全国", "level": "country"}
    assert _items(country, "count") == [("11", "北京市", 3), ("44", "广东省", 6)]
    assert country["count"] == 9

    province = _get(client, headers, "volunteers", region="44", by="region")
    assert province["region"] == {"code": "44", "name": "广东省", "level": "province"}
    assert _items(province, "count") == [("4401", "广州市", 3), ("4403", "深圳市", 2),
                                         ("4419", "东莞市", 1)]

    city = _get(client, headers, "volunteers", region="4401")
    assert city["region"]["level"] == "city"
    assert _items(city, "count") == [("440106", "天河区", 3)]

    county = _get(client, headers, "volunteers", region="440305")
    assert county["region"] == {"code": "440305", "name": "南山区", "level": "county"}
    assert _items(county, "count") == [("440305", "南山区", 2)]

    padded = _get(client, headers, "volunteers", region="440000")
    assert padded["region"]["code"] == "44" and padded["count"] == 6


def test_age_bands_at_the_reference_year(national):
    client, headers = national
    answer = _get(client, headers, "volunteers", region="44", by="age_band")
    assert answer["reference_date"][:4] == str(helpers.this_year())
    # 18 this year -> band 18 (even before the birthday); 17 -> 14; 7 -> 0; 28 -> 28; 45; 60.
    assert _items(answer, "count") == [("0", "年龄<8", 1), ("14", "14≤年龄<18", 1),
                                       ("18", "18≤年龄<28", 1), ("28", "28≤年龄<35", 1),
                                       ("45", "45≤年龄<60", 1), ("60", "60≤年龄", 1)]
    beijing = _get(client, headers, "volunteers", region="11", by="age_band")
    assert _items(beijing, "count") == [("35", "35≤年龄<40", 1), ("45", "45≤年龄<60", 1),
                                        (None, "出生年份未知", 1)]
    assert beijing["count"] == 3


def test_volunteers_by_month_and_gender(national):
    client, headers = national
    months = _get(client, headers, "volunteers", region="44", by="month")
    assert _items(months, "count") == [("2024-03", "2024-03", 3), ("2024-04", "2024-04", 2),
                                       ("2024-05", "2024-05", 1)]
    limited = _get(client, headers, "volunteers", region="44", by="month", **{"from": "2024-04", "to": "2024-05"})
    assert [i["code"] for i in limited["items"]] == ["2024-04", "2024-05"]
    assert limited["count"] == 3 and limited["from"] == "2024-04" and limited["to"] == "2024-05"

    # The Beijing volunteer without a registration date counts in the month it was created.
    beijing = _get(client, headers, "volunteers", region="11", by="month")
    created = datetime.now(timezone.utc).strftime("%Y-%m")
    assert _items(beijing, "count") == [("2024-05", "2024-05", 2), (created, created, 1)]

    genders = _get(client, headers, "volunteers", region="44", by="gender")
    assert _items(genders, "count") == [("1", "男", 4), ("2", "女", 2)]


def test_hours_by_region_month_and_category(national):
    client, headers = national
    country = _get(client, headers, "hours")
    assert country["hours"] == 11.0 and country["records"] == 4
    assert _items(country, "hours", "records") == [("11", "北京市", 1.5, 1), ("44", "广东省", 9.5, 3)]

    months = _get(client, headers, "hours", region="44", by="month")
    assert _items(months, "hours", "records") == [("2024-05", "2024-05", 7.5, 2),
                                                  ("2024-06", "2024-06", 2.0, 1)]
    june = _get(client, headers, "hours", region="44", by="month", **{"from": "2024-06", "to": "2024-12"})
    assert june["hours"] == 2.0 and june["records"] == 1

    categories = _get(client, headers, "hours", region="44", by="service_category")
    assert _items(categories, "hours", "records") == [("0001", "社区服务", 5.5, 2),
                                                      ("0013", "应急救援", 4.0, 1)]
    cities = _get(client, headers, "hours", region="44")
    assert _items(cities, "hours", "records") == [("4401", "广州市", 5.5, 2), ("4403", "深圳市", 4.0, 1)]


def test_teams_and_projects(national):
    client, headers = national
    teams = _get(client, headers, "teams", region="44", by="status")
    assert teams["count"] == 3 and teams["approved"] == 2
    assert _items(teams, "count") == [("1", "已审团体", 2), ("2", "待审团体", 1)]

    # A team registered at city level is counted under its city, and in the 'not further
    # specified' item when the city's counties are listed.
    by_region = _get(client, headers, "teams", region="44")
    assert _items(by_region, "count", "approved") == [("4401", "广州市", 2, 2), ("4403", "深圳市", 1, 0)]
    guangzhou = _get(client, headers, "teams", region="4401")
    assert _items(guangzhou, "count", "approved") == [("440106", "天河区", 1, 1), (None, "未细分地区", 1, 1)]
    assert guangzhou["count"] == 2

    projects = _get(client, headers, "projects", region="44", by="status")
    assert _items(projects, "count") == [("3", "招募中", 1), ("4", "招募已结束", 1)]
    categories = _get(client, headers, "projects", by="service_category")
    assert _items(categories, "count") == [("0001", "社区服务", 2), ("0013", "应急救援", 1)]
    provinces = _get(client, headers, "projects")
    assert _items(provinces, "count") == [("11", "北京市", 1), ("44", "广东省", 2)]


def test_overview(national):
    client, headers = national
    answer = _get(client, headers, "overview", region="44")
    assert answer["region"]["name"] == "广东省"
    assert answer["volunteers"] == {"count": 6}
    assert answer["teams"]["count"] == 3 and answer["teams"]["approved"] == 2
    assert answer["projects"]["count"] == 2
    assert answer["hours"] == {"hours": 9.5, "records": 3, "late_records": 0}
    country = _get(client, headers, "overview")
    assert country["volunteers"]["count"] == 9 and country["hours"]["records"] == 4


def test_population_share_where_a_figure_exists(national, tmp_path):
    client, headers = national
    figures = tmp_path / "population.csv"
    figures.write_text("# test figures\ncode,population\n44,1000000\n4401,300\n440300,200\n",
                       encoding="utf-8")
    client.application.config["POPULATION_FILE"] = str(figures)
    answer = _get(client, headers, "volunteers", region="44")
    assert answer["population"] == 1000000 and answer["share"] == 0.000006
    assert answer["items"] == [
        {"code": "4401", "name": "广州市", "count": 3, "population": 300, "share": 0.01},
        {"code": "4403", "name": "深圳市", "count": 2, "population": 200, "share": 0.01},
        {"code": "4419", "name": "东莞市", "count": 1},        # no figure: no share
    ]
    overview = _get(client, headers, "overview", region="4401")
    assert overview["volunteers"] == {"count": 3, "population": 300, "share": 0.01}
    assert "population" not in _get(client, headers, "volunteers", region="11")
    # Volunteers registered in some months are no share of the population.
    limited = _get(client, headers, "volunteers", region="44", **{"from": "2024-04"})
    assert limited["count"] == 3 and "share" not in limited and "share" not in limited["items"][0]


def test_caller_scoped_to_one_province(world):
    client = world.test_client()
    headers = make_caller(world, "stats-44", region="44", perms=READ)
    refused = client.get(f"{BASE}/volunteers", query_string={"region": "11"}, headers=headers)
    assert refused.status_code == 403
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.get_json()["type"] == "/problems/out-of-scope"
    for path in ("overview", "hours", "teams", "projects"):
        assert client.get(f"{BASE}/{path}", query_string={"region": "1101"},
                          headers=headers).status_code == 403

    # Without a region: its own province, drilled into its cities; nothing from Beijing.
    own = _get(client, headers, "volunteers")
    assert own["region"]["code"] == "44" and own["count"] == 6
    assert [i["code"] for i in own["items"]] == ["4401", "4403", "4419"]
    assert _get(client, headers, "hours")["hours"] == 9.5
    assert _get(client, headers, "teams")["count"] == 3
    assert _get(client, headers, "projects")["count"] == 2
    assert _get(client, headers, "overview")["volunteers"]["count"] == 6
    assert _get(client, headers, "volunteers", region="4403")["count"] == 2


def test_permission_arguments_and_unknown_regions(world):
    client = world.test_client()
    none = make_caller(world, "no-stats", perms={"volunteer": ["read"]})
    assert client.get(f"{BASE}/overview", headers=none).status_code == 403
    assert client.get(f"{BASE}/overview").status_code == 401

    headers = make_caller(world, "all", perms=ALL_PERMS)
    assert client.get(f"{BASE}/volunteers", query_string={"region": "99"}, headers=headers).status_code == 404
    for params in ({"region": "4"}, {"by": "colour"}, {"from": "2024-13"},
                   {"from": "2024-06", "to": "2024-05"}):
        bad = client.get(f"{BASE}/hours", query_string=params, headers=headers)
        assert bad.status_code == 422, params
        assert bad.get_json()["errors"][0]["rule"] == "request.argument"
    assert client.get(f"{BASE}/teams", query_string={"by": "age_band"}, headers=headers).status_code == 422


def test_empty_store_answers_zeros(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "empty", perms=READ)
    answer = _get(client, headers, "overview")
    assert answer["volunteers"] == {"count": 0}
    assert answer["hours"] == {"hours": 0.0, "records": 0, "late_records": 0}
    assert answer["teams"] == {"count": 0, "approved": 0, "by_status": []}
    assert _get(client, headers, "volunteers", by="age_band")["items"] == []


def test_openapi_documents_the_statistics_endpoints(app):
    spec = app.test_client().get("/api/openapi.json").get_json()
    for path in ("overview", "volunteers", "hours", "teams", "projects"):
        operation = spec["paths"][f"{BASE}/{path}"]["get"]
        assert {"200", "403", "422"} <= set(operation["responses"])
    params = {p["name"] for p in spec["paths"][f"{BASE}/hours"]["get"]["parameters"]}
    assert {"region", "by", "from", "to"} <= params


def test_hours_of_a_city_level_project_count_at_every_level(national):
    client, headers = national
    app = client.application
    from gateway import store

    with store.session_scope(app) as session:
        team = helpers.add_team(session, app, "T440100000009", "440100", "1")
        project = helpers.add_project(session, app, "P-CITY", team, "440100", "0006", "3")
        volunteer = helpers.add_volunteer(session, app, "440106", age=30)
        helpers.add_record(session, volunteer, project, date(2024, 7, 1), "1.00")

    country = _get(client, headers, "hours")
    assert country["hours"] == 12.0 and country["records"] == 5
    assert _items(country, "hours", "records")[1] == ("44", "广东省", 10.5, 4)
    assert _get(client, headers, "overview", region="44")["hours"] == {"hours": 10.5, "records": 4, "late_records": 0}
    cities = _get(client, headers, "hours", region="44")
    assert _items(cities, "hours", "records")[0] == ("4401", "广州市", 6.5, 3)
    counties = _get(client, headers, "hours", region="4401")
    assert _items(counties, "hours", "records") == [("440106", "天河区", 5.5, 2),
                                                    (None, "未细分地区", 1.0, 1)]


def test_national_roll_up_agrees_with_each_province(national):
    client, headers = national
    for path, field in (("volunteers", "count"), ("hours", "records")):
        country = _get(client, headers, path)
        for item in country["items"]:
            province = _get(client, headers, path, region=item["code"])
            assert province[field] == item[field]
            assert sum(i[field] for i in province["items"]) == item[field]
    assert _get(client, headers, "volunteers", by="age_band")["count"] == 9
    assert _get(client, headers, "hours", by="service_category")["hours"] == 11.0
