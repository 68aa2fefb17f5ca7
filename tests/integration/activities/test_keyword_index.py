"""Keywords of one and two characters (助老, 环保, 支教: the most common searches) on an index
(issue 12 item 13).

- Results: every keyword length (1, 2, 3+; Chinese, mixed case, ``%`` and ``_`` literal)
  finds exactly the projects whose name holds it, on SQLite and PostgreSQL; the grams follow
  a renamed project (PATCH).
- The gram table ``project_grams`` (migration 0014_search3) stays exact under inserts,
  renames, date moves and deletions of projects, in the writing transaction (a rollback takes
  the grams back too); a short keyword combined with every other filter, sort, page and a
  caller's visibility finds what a plain filter over the projects finds (both stores).
- Plan (PostgreSQL): on a table of 40,000 projects, vacuumed and analyzed, a two-character
  keyword's count and page ids are index-only scans of ``pk_project_grams`` that read no
  project row (the page then reads its 20 rows by primary key); both old forms — 0009's
  ``name_grams @> ARRAY[kw]`` on its GIN index (a bitmap heap scan of every match) and
  ``name ILIKE '%支教%'`` (no trigram under three characters) — run through the same check
  and fail it.
"""

from __future__ import annotations

import json
import random

import pytest
from datetime import date

from sqlalchemy import Text, func, insert, inspect, select, text, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY

from gateway.caller import Caller
from gateway.services import activities
from gateway.services.context import ServiceContext
from gateway.store.grams import name_grams
from gateway.store.models import Project, ProjectGram, Team
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


# -- project_grams is exact under every write, in the writing transaction -----------------------

def _ctx(app, session, caller: Caller) -> ServiceContext:
    return ServiceContext(session=session, caller=caller, engine=app.extensions["standard.engine"],
                          vault=app.extensions["privacy.vault"], config=app.config)


def _stored(session) -> set[tuple[str, date, str]]:
    return set(session.execute(select(ProjectGram.gram, ProjectGram.starts_on, Project.project_no)
                               .join(Project, Project.id == ProjectGram.project_id)).all())


def _expected(session) -> set[tuple[str, date, str]]:
    """What project_grams must hold: computed afresh from every stored project."""
    return {(gram, project.starts_on, project.project_no)
            for project in session.execute(select(Project)).scalars()
            for gram in name_grams(project.name) or ()}


def test_project_grams_follow_inserts_renames_date_moves_and_deletions_in_their_transaction(
        store_app, http, admin, team_no):
    from gateway import store as store_module

    numbers = [helpers.publish(http, admin, helpers.project_record(name=name, posts=[]))["project_no"]
               for name in ("社区助老服务", "乡村支教", "环保宣传周")]
    with store_module.session_scope(store_app) as session:
        assert _stored(session) == _expected(session) and len(_stored(session)) == 11 + 7 + 9
        count = session.execute(select(func.count()).select_from(ProjectGram)).scalar_one()
        assert count == len(_stored(session))  # no row of a project that is not stored
    session = store_app.extensions["store.sessionmaker"]()
    try:
        renamed, moved, deleted = (session.execute(select(Project).where(Project.project_no == n))
                                   .scalar_one() for n in numbers)
        before = _stored(session)
        renamed.name = "城市环保骑行"
        moved.starts_on = date(2024, 5, 20)
        session.delete(deleted)
        session.flush()
        during = _stored(session)
        assert during == _expected(session) and during != before
        assert ("助老", date(2024, 4, 1), numbers[0]) not in during
        assert ("环保", date(2024, 4, 1), numbers[0]) in during
        assert ("支教", date(2024, 5, 20), numbers[1]) in during
        assert not any(number == numbers[2] for *_, number in during)
        session.rollback()  # the grams were written in the transaction: they go back with it
        assert _stored(session) == before == _expected(session)
        renamed, moved, deleted = (session.execute(select(Project).where(Project.project_no == n))
                                   .scalar_one() for n in numbers)
        renamed.name = "城市环保骑行"
        moved.starts_on = date(2024, 5, 20)
        session.delete(deleted)
        session.commit()
    finally:
        session.close()
    with store_module.session_scope(store_app) as session:
        assert _stored(session) == _expected(session)
        assert session.execute(select(func.count()).select_from(ProjectGram)).scalar_one() == 11 + 7
    assert _found(http, admin, "环保") == {"城市环保骑行"} and _found(http, admin, "助老") == set()
    assert _found(http, admin, "支教") == {"乡村支教"}


SEARCH_NAMES = [("朝阳助老服务", "2024-03-01", "2024-03-31", "3", "1"),
                ("海淀助老陪伴", "2024-05-10", "2024-06-30", "7", "1"),
                ("助老义诊", "2023-11-01", "2024-01-15", "3", "4"),
                ("社区助老", "2024-05-10", "2024-05-10", "4", "1"),
                ("环保助老周", "2025-01-01", "2025-02-01", "3", "1"),
                ("乡村支教", "2024-05-10", "2024-08-01", "3", "1"),
                ("助学", "2024-04-01", "2024-04-30", "3", "1")]


def _match(project: Project, search: activities.ProjectSearch, closed_visible: bool) -> bool:
    return (search.q.lower() in project.name.lower()
            and (not search.statuses or project.status in search.statuses)
            and (search.date_to is None or project.starts_on <= search.date_to)
            and (search.date_from is None or project.ends_on >= search.date_from)
            and (search.region is None or project.province == search.region)
            and (closed_visible or project.recruit_scope != "4"))


def _by(sort: str):
    key, reverse = sort.lstrip("-"), sort.startswith("-")
    return (lambda p: (getattr(p, key), p.id)), reverse


def test_a_short_keyword_with_every_filter_sort_page_and_visibility_finds_what_a_plain_filter_finds(
        store_app, http, admin, team_no):
    from gateway import store as store_module

    for name, starts, ends, _status, _scope in SEARCH_NAMES:
        helpers.publish(http, admin, helpers.project_record(name=name, starts_on=starts, ends_on=ends,
                                                            posts=[]))
    with store_module.session_scope(store_app) as session:  # statuses and scopes as a store holds them
        for project in session.execute(select(Project)).scalars():
            _name, _s, _e, project.status, project.recruit_scope = next(
                row for row in SEARCH_NAMES if row[0] == project.name)
    searches = [dict(q="助老"), dict(q="助老", sort="starts_on"), dict(q="助老", sort="name"),
                dict(q="助老", sort="-created_at"), dict(q="助老", statuses=["3"]),
                dict(q="助老", statuses=["3", "4"]), dict(q="助老", date_from=date(2024, 5, 1)),
                dict(q="助老", date_to=date(2024, 5, 10)),
                dict(q="助老", date_from=date(2024, 3, 15), date_to=date(2024, 12, 31)),
                dict(q="助老", region="11"), dict(q="助老", region="44"),
                dict(q="助老", per_page=2, page=2), dict(q="助老", per_page=2, page=3, sort="starts_on"),
                dict(q="助老", per_page=2, page=9), dict(q="助", statuses=["3"], sort="name"),
                dict(q="支教"), dict(q="老", region="11", statuses=["3"], date_from=date(2024, 1, 1))]
    outsider = Caller("outsider", region_prefix="44", permissions={"project": frozenset({"read"})})
    everyone = Caller("everyone", permissions={"project": frozenset({"read"})})
    session = store_app.extensions["store.sessionmaker"]()
    try:
        projects = list(session.execute(select(Project)).scalars())
        checked = 0
        for who, closed_visible in ((everyone, True), (outsider, False)):
            ctx = _ctx(store_app, session, who)
            for fields in searches:
                search = activities.ProjectSearch(**fields)
                key, reverse = _by(search.sort)
                matches = sorted((p for p in projects if _match(p, search, closed_visible)),
                                 key=key, reverse=reverse)
                start = (search.page - 1) * search.per_page
                rows, total = activities.search_projects(ctx, search)
                assert total == len(matches), (who.client_id, fields)
                assert [r.id for r in rows] == [p.id for p in matches[start:start + search.per_page]], \
                    (who.client_id, fields)
                checked += bool(rows)
        assert checked >= 20  # not vacuous: most searches find something
    finally:
        session.close()


# -- the plan (PostgreSQL) -------------------------------------------------------------------

ROWS = 40_000
GRAM_INDEX = "pk_project_grams"


@pytest.fixture
def loaded(pg_database):
    """A PostgreSQL store of ROWS projects (one in 1000 with 支教 in its name) and their grams
    (filled as a bulk loader does: from the name_grams column), vacuumed and analyzed."""
    from tests.conftest import _make_app, _truncate_all

    app = _make_app(pg_database)
    _truncate_all(app)
    rng = random.Random(12)
    themes = ["助老", "环境保护", "关爱儿童", "文明交通", "社区清洁", "图书馆服务", "义诊", "防疫"]
    engine = app.extensions["store.engine"]
    with engine.begin() as conn:
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
        conn.execute(text("INSERT INTO project_grams (gram, starts_on, project_id) "
                          "SELECT unnest(name_grams), starts_on, id FROM projects"))
        # 0009's GIN index, for the old form's plan (0014_search3 dropped it).
        conn.execute(text("CREATE INDEX ix_projects_name_grams ON projects USING gin (name_grams)"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE projects"))
        conn.execute(text("VACUUM ANALYZE project_grams"))
    yield app
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX IF EXISTS ix_projects_name_grams"))
    _truncate_all(app)
    engine.dispose()


def _nodes(session, statement) -> list[dict]:
    """Every node of ``statement``'s plan (EXPLAIN, JSON)."""
    sql = str(statement.compile(dialect=session.get_bind().dialect,
                                compile_kwargs={"literal_binds": True}))
    plan = session.execute(text("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes, todo = [], [plan[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    return nodes


def _indexes(session, statement) -> list[tuple]:
    return [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in _nodes(session, statement)]


def _from_index_alone(session, statement, *, page_rows: bool = False) -> bool:
    """The matches come from an index-only scan of project_grams' primary key, and no project
    row is read — except, with ``page_rows``, the page's own rows by the primary key."""
    nodes = _nodes(session, statement)
    gram_only = any(n["Node Type"] == "Index Only Scan" and n.get("Index Name") == GRAM_INDEX
                    for n in nodes)
    heap = [n for n in nodes if n.get("Relation Name") and n["Node Type"] != "Index Only Scan"]
    allowed = [n for n in heap if page_rows and n["Relation Name"] == "projects"
               and n["Node Type"] == "Index Scan" and n.get("Index Name") == "pk_projects"]
    return gram_only and len(heap) == len(allowed) and len(allowed) <= 1


@pytest.mark.postgres
def test_a_two_character_keyword_is_counted_and_paged_from_an_index_alone_and_the_old_forms_are_not(loaded):
    session = loaded.extensions["store.sessionmaker"]()
    try:
        ctx = _ctx(loaded, session, Caller("plan", permissions={"project": frozenset({"read"})}))
        search = activities.ProjectSearch(q="支教")
        page, count = activities.search_statements(ctx, search)
        _, _, counted = activities._statements(ctx, search)
        assert _from_index_alone(session, count), _indexes(session, count)
        assert _from_index_alone(session, counted), _indexes(session, counted)
        assert _from_index_alone(session, page, page_rows=True), _indexes(session, page)
        rows, total = activities.search_projects(ctx, search)
        assert total == ROWS // 1000 and all("支教" in row.name for row in rows) and len(rows) == 20
        assert [r.starts_on for r in rows] == sorted((r.starts_on for r in rows), reverse=True)

        # The old forms: the same check catches each (0009's GIN containment reads every
        # match from the heap; ILIKE has no trigram in a 2-character pattern).
        for old in (type_coerce(Project.name_grams, ARRAY(Text())).contains(["支教"]),
                    Project.name.ilike("%支教%")):
            old_count = select(func.count()).select_from(Project).where(old)
            old_page = (select(Project).where(Project.id.in_(
                select(Project.id).where(old).order_by(*activities.SORTS[search.sort])
                .limit(search.per_page))).order_by(*activities.SORTS[search.sort]))
            assert not _from_index_alone(session, old_count), _indexes(session, old_count)
            assert not _from_index_alone(session, old_page, page_rows=True), _indexes(session, old_page)
            assert session.execute(old_count).scalar_one() == total
        assert "ix_projects_name_grams" in {i for *_, i in _indexes(session, select(func.count()).select_from(
            Project).where(type_coerce(Project.name_grams, ARRAY(Text())).contains(["支教"])))}
        # Three characters and more keep the trigram index.
        _, count3 = activities.search_statements(ctx, activities.ProjectSearch(q="支教志"))
        assert "ix_projects_name_trgm" in {i for *_, i in _indexes(session, count3)}
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
