"""Project search on 100,000 projects in PostgreSQL: indexes against the naive sequential path.

    python -m benchmarks.project_search [--count 100000] [--repeat 20] [--pg-url URL]

Creates a throw-away database on the PostgreSQL server (default postgres@127.0.0.1:5432),
migrates it with the gateway's own migrations (``gateway.store.upgrade``: the search indexes
and the pg_trgm index come from 0002), bulk-loads generated teams and projects with COPY,
runs ``VACUUM ANALYZE``, then times typical searches through the same service function the
API calls (:func:`gateway.services.activities.search_projects`: the count and the page).

Each search runs ``--repeat`` times (after one warm-up) on the indexed path and again with
the planner forbidden to use indexes (``SET LOCAL enable_indexscan / enable_indexonlyscan /
enable_bitmapscan = off``): the naive path, a sequential scan of the table. It prints the
median and p95 in milliseconds, the number of matches, the plan of the page query down to
its first scan node (Index Scan vs Seq Scan) and the naive/indexed ratio of the medians.
The database is dropped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import schemas

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

_THEMES = ["助老", "助残", "关爱儿童", "环境保护", "垃圾分类", "文明交通", "社区清洁", "图书馆服务",
           "应急救援", "义诊", "河湖巡护", "文化惠民", "禁毒宣传", "防疫", "扶贫助困", "心理疏导",
           "法律援助", "科普", "体育赛事", "大型活动", "关爱留守老人", "森林防火", "反诈宣传",
           "邻里互助", "助学"]
_KINDS = ["志愿服务", "志愿服务活动", "志愿服务项目", "公益行动", "志愿者招募"]
# project_status weights: most projects in a national store have ended.
_STATUSES = [("3", 15), ("4", 25), ("7", 38), ("6", 10), ("2", 5), ("1", 4), ("9", 3)]
_SCOPES = [("1", 80), ("2", 8), ("3", 5), ("4", 5), ("5", 2)]
_CATEGORIES = [f"{i:04d}" for i in range(1, 21)] + ["0099"]


# -- data -----------------------------------------------------------------------------------------

def _weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> Callable[[], str]:
    values, weights = zip(*pairs)
    return lambda: rng.choices(values, weights)[0]


def generate(count: int, seed: int = 7, themes: list[str] | None = None) -> tuple[list[tuple], list[tuple]]:
    """Teams (one per 50 projects) and projects as COPY rows; deterministic for a seed.
    ``name_grams`` is computed as the model does (gateway/store/grams.py): COPY bypasses it."""
    from gateway.store.grams import name_grams

    themes = themes or _THEMES
    rng = random.Random(seed)
    counties = [(r["code"], r["name"]) for r in schemas.read_table("regions", "areas")]
    status, scope = _weighted(rng, _STATUSES), _weighted(rng, _SCOPES)
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    teams = []
    for i in range(1, max(1, count // 50) + 1):
        code, name = rng.choice(counties)
        teams.append((i, f"T{code}{i:06d}", f"{name}志愿服务队{i}", "2", "1", code, code[:2],
                      code[:4], code, "{}", now, now))
    projects = []
    first = date(2019, 1, 1)
    for i in range(1, count + 1):
        code, cname = rng.choice(counties)
        team_id = rng.randrange(1, len(teams) + 1)
        starts = first + timedelta(days=rng.randrange(0, 365 * 8))
        ends = starts + timedelta(days=rng.choice((0, 0, 1, 2, 6, 13, 29, 59, 89, 179, 364)))
        name = f"{cname}{rng.choice(themes)}{rng.choice(_KINDS)}"
        created = now - timedelta(seconds=rng.randrange(0, 86400 * 365 * 7))
        projects.append((f"P{code}{i:06d}", team_id, name, starts, ends, rng.choice(_CATEGORIES),
                         status(), scope(), "{}", created, created, "bench", code, code[:2],
                         code[:4], code, name_grams(name)))
    return teams, projects


TEAM_COLUMNS = ("id", "team_no", "name", "team_type", "status", "area_code", "province", "city",
                "county", "data", "created_at", "updated_at")
PROJECT_COLUMNS = ("project_no", "team_id", "name", "starts_on", "ends_on", "service_category",
                   "status", "recruit_scope", "data", "created_at", "updated_at", "source_system",
                   "area_code", "province", "city", "county", "name_grams")


def load(url: str, teams: list[tuple], projects: list[tuple]) -> None:
    """COPY the rows in, fill project_grams and VACUUM ANALYZE (visibility map for index-only
    scans, statistics)."""
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY teams ({', '.join(TEAM_COLUMNS)}) FROM STDIN") as copy:
                for row in teams:
                    copy.write_row(row)
            cur.execute("SELECT setval('teams_id_seq', (SELECT max(id) FROM teams))")
            with cur.copy(f"COPY projects ({', '.join(PROJECT_COLUMNS)}) FROM STDIN") as copy:
                for row in projects:
                    copy.write_row(row)
            # The short keywords' index (migration 0014_search3): COPY bypasses the model's
            # flush that writes it, so it is filled from the grams computed above.
            cur.execute("INSERT INTO project_grams (gram, starts_on, project_id) "
                        "SELECT unnest(name_grams), starts_on, id FROM projects")
            cur.execute("VACUUM ANALYZE teams")
            cur.execute("VACUUM ANALYZE projects")
            cur.execute("VACUUM ANALYZE project_grams")


# -- measuring ------------------------------------------------------------------------------------

def searches(projects: list[tuple]):
    """The typical searches, as (label, ProjectSearch[, the caller's region prefix])."""
    from gateway.services.activities import ProjectSearch

    busiest_county = max(_tally(p[15] for p in projects if p[13] == "44").items(), key=lambda kv: kv[1])[0]
    return [
        ("province 44 + status 3 + dates", ProjectSearch(region="44", statuses=["3"],
                                                          date_from=date(2025, 1, 1), date_to=date(2025, 6, 30))),
        ("city 4401, statuses 3,4", ProjectSearch(region="4401", statuses=["3", "4"])),
        (f"county {busiest_county}", ProjectSearch(region=busiest_county)),
        ("category 0001", ProjectSearch(service_categories=["0001"])),
        ("keyword 垃圾分类", ProjectSearch(q="垃圾分类")),
        ("keyword + province 32", ProjectSearch(q="河湖巡护", region="32")),
        # Under three characters pg_trgm extracts no trigram from '%kw%': project_grams
        # serves it (migration 0014_search3; benchmarks/keyword_search.py compares the forms).
        ("keyword 助老 (2 chars)", ProjectSearch(q="助老")),
        ("status 7, page 1000", ProjectSearch(statuses=["7"], page=1000, per_page=20)),
        ("all, page 2500 by -starts_on", ProjectSearch(page=2500, per_page=20)),
        ("all, sort name, page 1", ProjectSearch(sort="name")),
        # A caller scoped to one province also sees only the public projects of other regions.
        ("as client of 44: province 44 + status 3", ProjectSearch(region="44", statuses=["3"]), "44"),
    ]


def _tally(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


NAIVE = ("SET LOCAL enable_indexscan = off", "SET LOCAL enable_indexonlyscan = off",
         "SET LOCAL enable_bitmapscan = off")


def plan_path(session, stmt) -> str:
    """The plan of ``stmt`` from its top node down to the first scan node."""
    sql = str(stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}))
    plan = session.execute(text("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()
    node = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    parts = []
    while True:
        label = node["Node Type"]
        if node.get("Scan Direction") == "Backward":
            label += " Backward"
        if node.get("Index Name"):
            label += f" ({node['Index Name']})"
        parts.append(label)
        if "Scan" in node["Node Type"] or not node.get("Plans"):
            break
        # Follow the child that leads to the projects table first: the page's id subquery
        # (deferred join) or the outer side of a join, else the only child.
        node = node["Plans"][0]
    return " > ".join(parts)


def measure(ctx, search, repeat: int, naive: bool) -> dict[str, Any]:
    from gateway.services.activities import search_projects, search_statements

    session = ctx.session
    session.rollback()
    if naive:
        for statement in NAIVE:
            session.execute(text(statement))
    rows, total = search_projects(ctx, search)  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        rows, total = search_projects(ctx, search)
        times.append((time.perf_counter() - started) * 1000)
    page, count = search_statements(ctx, search)
    result = {"total": total, "rows": len(rows), "median": statistics.median(times),
              "p95": _p95(times), "plan": plan_path(session, page), "count_plan": plan_path(session, count)}
    session.rollback()
    return result


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# -- main -------------------------------------------------------------------------------------------

def arguments(doc: str, argv: list[str] | None) -> argparse.Namespace:
    """The options both search benchmarks take."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="admin URL of the PostgreSQL server")
    return parser.parse_args(argv)


@contextmanager
def loaded_projects(pg_url: str, count: int, label: str, themes: list[str] | None = None):
    """A throw-away database, migrated, with ``count`` generated projects (and their teams)
    COPYed in; yields ``(ctx, projects, note)`` inside the app's context — ``ctx`` a service
    context reading projects, ``note`` what was loaded and how long it took. The database is
    dropped at the end, whatever happens."""
    from gateway import create_app, store
    from gateway.caller import Caller
    from gateway.privacy import vault
    from gateway.services.context import ServiceContext
    from gateway.standard import engine

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    name = f"vgw_bench_{label}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    app = None
    try:
        with tempfile.TemporaryDirectory() as keys:
            app = create_app({"DATABASE_URL": url, "KEYS_DIR": keys, "LOG_LEVEL": "WARNING"})
            started = time.perf_counter()
            store.upgrade(app)
            teams, projects = generate(count, themes=themes)
            load(url, teams, projects)
            note = (f"database {name}: migrated, {len(projects):,} projects and {len(teams):,} "
                    f"teams loaded with COPY in {time.perf_counter() - started:.1f} s")
            with app.app_context():
                session = app.extensions["store.sessionmaker"]()
                try:
                    yield (ServiceContext(session=session, engine=engine(), vault=vault(),
                                          config=app.config,
                                          caller=Caller("benchmark",
                                                        permissions={"project": frozenset({"read"})})),
                           projects, note)
                finally:
                    session.close()
    finally:
        if app is not None:
            app.extensions["store.engine"].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv)
    from gateway.caller import Caller

    with loaded_projects(args.pg_url, args.count, "projects") as (ctx, projects, note):
        print(f"{note}; {args.repeat} runs each (count + page of 20 + teams), times in ms\n")
        header = (f"{'search':40} {'matches':>7} {'median':>7} {'p95':>7} "
                  f"{'naive med':>9} {'naive p95':>9} {'ratio':>6}")
        print(header)
        print("-" * len(header))
        details = []
        for label, search, *scope in searches(projects):
            ctx.caller = Caller("benchmark", region_prefix=scope[0] if scope else "",
                                permissions={"project": frozenset({"read"})})
            fast = measure(ctx, search, args.repeat, naive=False)
            slow = measure(ctx, search, args.repeat, naive=True)
            assert fast["total"] == slow["total"] and fast["rows"] == slow["rows"], label
            print(f"{label:40} {fast['total']:>7,} {fast['median']:>7.2f} {fast['p95']:>7.2f} "
                  f"{slow['median']:>9.2f} {slow['p95']:>9.2f} "
                  f"{slow['median'] / fast['median']:>5.1f}x")
            details.append((label, fast, slow))
        print("\nplans (page query | count query):")
        for label, fast, slow in details:
            print(f"  {label}\n    indexed: {fast['plan']}  |  {fast['count_plan']}"
                  f"\n    naive:   {slow['plan']}  |  {slow['count_plan']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
