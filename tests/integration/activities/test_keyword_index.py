"""Keywords of one and two characters (助老, 环保, 支教: the most common searches) on an index
(issue 12 item 13).

- Results: every keyword length (1, 2, 3+; Chinese, mixed case, ``%`` and ``_`` literal)
  finds exactly the projects whose name holds it, on SQLite and PostgreSQL; the grams follow
  a renamed project (PATCH).
- Plan (PostgreSQL): on a table of a few thousand projects with statistics, a two-character
  keyword's count and page queries read the GIN index ``ix_projects_name_grams``; the old form
  (``name ILIKE '%支教%'``, which pg_trgm cannot serve under three characters) is run through
  the same check and fails it.
"""

from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import func, insert, inspect, select, text

from gateway.caller import Caller
from gateway.services import activities
from gateway.services.context import ServiceContext
from gateway.store.grams import name_grams
from gateway.store.models import Project, Team
from tests.integration.activities import helpers
from tests.integration.activities.helpers import PROJECTS

NAMES = ["朝阳区助老志愿服务", "海淀环保行动", "支教山区小学", "社区环境保护宣传", "助学支教",
         "南山社区 ABC 服务", "东莞助老 100% 服务", "老年大学 abc_班", "环保", "垃圾分类进社区"]
KEYWORDS = ["助", "老", "环", "助老", "环保", "支教", "abc", "Ab", "c_", "_", "%", "0%",
            "100%", "社区助", "环境保护", "垃圾分类进社区", "不存在", "区 A"]


@pytest.fixture
def admin(store_app, caller):
    return caller(store_app, "admin", perms={"*": ["read", "write", "review"]})


def _found(http, headers, keyword: str) -> set[str]:
    answer = http.get(PROJECTS, query_string={"q": keyword, "per_page": 100}, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["total"] == len(body["items"])
    return {item["name"] for item in body["items"]}


def test_every_keyword_length_finds_exactly_the_names_that_hold_it(store_app, http, admin, team_no):
    for name in NAMES:
        helpers.publish(http, admin, helpers.project_record(name=name, posts=[]))
    for keyword in KEYWORDS:
        expected = {name for name in NAMES if keyword.lower() in name.lower()}
        assert _found(http, admin, keyword) == expected, keyword
    assert _found(http, admin, "支教") == {"支教山区小学", "助学支教"}  # not vacuous


def test_the_grams_follow_a_renamed_project(store_app, http, admin, team, team_no):
    number = helpers.publish(http, team, helpers.project_record(name="社区助老服务", posts=[]))["project_no"]
    answer = http.patch(f"{PROJECTS}/{number}", json={"name": "乡村支教服务"}, headers=team)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert _found(http, admin, "助老") == set() and _found(http, admin, "支教") == {"乡村支教服务"}
    assert _found(http, admin, "乡") == {"乡村支教服务"}


def test_a_short_keyword_pages_through_every_match_once_with_its_total(store_app, http, admin, team_no):
    """On PostgreSQL the page and the total come from one pass (a window count); past the
    last page the total still comes back."""
    for i in range(23):
        helpers.publish(http, admin, helpers.project_record(
            name=f"助老{i:02d}", starts_on=f"2024-04-{1 + i % 5:02d}", posts=[]))
    helpers.publish(http, admin, helpers.project_record(name="环境整治", posts=[]))
    seen = []
    for page in (1, 2, 3, 4):
        answer = http.get(PROJECTS, query_string={"q": "助老", "per_page": 10, "page": page,
                                                  "sort": "starts_on"}, headers=admin)
        body = answer.get_json()
        assert answer.status_code == 200 and body["total"] == 23, body
        assert len(body["items"]) == [10, 10, 3, 0][page - 1]
        seen += [(item["starts_on"], item["name"]) for item in body["items"]]
    assert len(set(seen)) == 23 and [s for s, _ in seen] == sorted(s for s, _ in seen)


# -- the plan (PostgreSQL) -------------------------------------------------------------------

ROWS = 40_000
GRAM_INDEX = "ix_projects_name_grams"


@pytest.fixture
def loaded(pg_database):
    """A PostgreSQL store of ROWS projects (one in 1000 with 支教 in its name), analyzed."""
    from tests.conftest import _make_app, _truncate_all

    app = _make_app(pg_database)
    _truncate_all(app)
    rng = random.Random(12)
    themes = ["助老", "环境保护", "关爱儿童", "文明交通", "社区清洁", "图书馆服务", "义诊", "防疫"]
    with app.extensions["store.engine"].begin() as conn:
        team_id = conn.execute(insert(Team).values(
            team_no="T110105000001", name="测试队", team_type="2", status="1", data={},
            province="11", city="1101", county="110105", area_code="110105").returning(Team.id)).scalar_one()
        rows = []
        for i in range(ROWS):
            theme = "支教" if i % 1000 == 0 else rng.choice(themes)
            name = f"朝阳区{theme}志愿服务{i}"
            rows.append({"project_no": f"P110105{i:08d}", "team_id": team_id, "name": name,
                         "name_grams": name_grams(name), "starts_on": f"20{19 + i % 7}-0{1 + i % 9}-01",
                         "ends_on": f"20{19 + i % 7}-0{1 + i % 9}-28", "service_category": "0001",
                         "status": "3", "recruit_scope": "1", "data": {}, "area_code": "110105",
                         "province": "11", "city": "1101", "county": "110105"})
        conn.execute(insert(Project), rows)
        conn.execute(text("ANALYZE projects"))
    yield app
    _truncate_all(app)
    app.extensions["store.engine"].dispose()


def _indexes(session, statement) -> tuple[set[str], list[str]]:
    """The indexes and the node types of ``statement``'s plan (EXPLAIN, JSON)."""
    sql = str(statement.compile(dialect=session.get_bind().dialect,
                                compile_kwargs={"literal_binds": True}))
    plan = session.execute(text("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    names, nodes, todo = set(), [], [plan[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node["Node Type"])
        if node.get("Index Name"):
            names.add(node["Index Name"])
        todo.extend(node.get("Plans", []))
    return names, nodes


def _served_by_grams(session, statement) -> bool:
    names, nodes = _indexes(session, statement)
    return GRAM_INDEX in names and "Seq Scan" not in nodes


@pytest.mark.postgres
def test_a_two_character_keyword_reads_the_gram_index_and_the_old_form_does_not(loaded):
    session = loaded.extensions["store.sessionmaker"]()
    try:
        ctx = ServiceContext(session=session, caller=Caller("plan", permissions={"project": frozenset({"read"})}),
                             engine=loaded.extensions["standard.engine"],
                             vault=loaded.extensions["privacy.vault"], config=loaded.config)
        search = activities.ProjectSearch(q="支教")
        page, count = activities.search_statements(ctx, search)
        assert _served_by_grams(session, count), _indexes(session, count)
        assert _served_by_grams(session, page), _indexes(session, page)
        rows, total = activities.search_projects(ctx, search)
        assert total == ROWS // 1000 and all("支教" in row.name for row in rows) and len(rows) == 20

        # The old form: the same check catches it (no trigram in a 2-character pattern).
        old = Project.name.ilike("%支教%")
        old_count = select(func.count()).select_from(Project).where(old)
        old_page = (select(Project.id).where(old).order_by(*activities.SORTS[search.sort])
                    .limit(search.per_page))
        assert not _served_by_grams(session, old_count), _indexes(session, old_count)
        assert not _served_by_grams(session, old_page), _indexes(session, old_page)
        assert session.execute(old_count).scalar_one() == total
        # Three characters and more keep the trigram index.
        _, count3 = activities.search_statements(ctx, activities.ProjectSearch(q="支教志"))
        assert "ix_projects_name_trgm" in _indexes(session, count3)[0]
    finally:
        session.close()


# -- the migration backfills the projects already stored ---------------------------------------

def test_migration_0009_backfills_the_grams_of_stored_projects(store_app, http, admin, team_no):
    """Down to 0008 (the column goes), projects written then, up to head: each has its grams
    and a two-character keyword finds it (both stores; on PostgreSQL through the new index)."""
    from gateway import store as store_module

    names = ["社区助老服务", "乡村支教"]
    numbers = [helpers.publish(http, admin, helpers.project_record(name=name, posts=[]))["project_no"]
               for name in names]
    store_module.downgrade(store_app, "0008_verbs")
    try:
        with store_app.extensions["store.engine"].begin() as conn:
            columns = [c["name"] for c in inspect(conn).get_columns("projects")]
            assert "name_grams" not in columns
            conn.execute(text("UPDATE projects SET name = '环保宣传周' WHERE project_no = :n"),
                         {"n": numbers[1]})
    finally:
        store_module.upgrade(store_app)
    with store_module.session_scope(store_app) as session:
        stored = dict(session.execute(select(Project.project_no, Project.name_grams)).all())
    assert stored[numbers[0]] == name_grams("社区助老服务")
    assert stored[numbers[1]] == name_grams("环保宣传周")
    assert _found(http, admin, "环保") == {"环保宣传周"} and _found(http, admin, "支教") == set()
