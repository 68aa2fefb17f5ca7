"""Keyword search on 100,000 projects in PostgreSQL: the name's grams against the old ILIKE.

    python -m benchmarks.keyword_search [--count 100000] [--repeat 20] [--pg-url URL]

Creates a throw-away database (default server postgres@127.0.0.1:5432), migrates it with the
gateway's migrations (the GIN index ``ix_projects_name_grams`` comes from 0009_verbs2, the
trigram index from 0002), COPYs generated teams and projects in (benchmarks.project_search's
generator, with 环保 and 支教 among the themes; the grams computed as the model does), runs
``VACUUM ANALYZE`` and times each keyword search through the service the API calls
(:func:`gateway.services.activities.search_projects`: the count and the first page of 20).

"old" is the form before 0009_verbs2: every keyword by ``name ILIKE '%kw%'`` (the service
with its gram path switched off, nothing else changed); "new" is the service as it is. Both
must find the same projects. It prints the median and p95 (ms) of ``--repeat`` runs after a
warm-up, the ratio and the plan's scan of the count query, and "met" / "NOT met" for the
target: every keyword of one or two characters answers in under TARGET_MS (median), new form.
The database is dropped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.project_search import DEFAULT_PG, _THEMES, generate, load, plan_path

#: The target for one- and two-character keywords (count + page), median, new form.
TARGET_MS = 10.0
KEYWORDS = ["助老", "环保", "支教", "老", "垃圾分类", "社区清洁志愿"]
THEMES = _THEMES + ["环保", "支教", "乡村支教", "环保宣传"]


@contextmanager
def old_form():
    """The service as before 0009_verbs2: no keyword is searched by its grams."""
    from gateway.services import activities

    kept = activities.keyword_gram
    activities.keyword_gram = lambda _keyword: None
    try:
        yield
    finally:
        activities.keyword_gram = kept


def measure(ctx, keyword: str, repeat: int) -> dict:
    from gateway.services.activities import ProjectSearch, search_projects, search_statements

    search = ProjectSearch(q=keyword)
    ctx.session.rollback()
    rows, total = search_projects(ctx, search)  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        rows, total = search_projects(ctx, search)
        times.append((time.perf_counter() - started) * 1000)
    page, count = search_statements(ctx, search)
    ordered = sorted(times)
    return {"total": total, "ids": [r.id for r in rows], "median": statistics.median(times),
            "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            "plan": plan_path(ctx.session, count), "page_plan": plan_path(ctx.session, page)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="admin URL of the PostgreSQL server")
    args = parser.parse_args(argv)

    from gateway import create_app, store
    from gateway.caller import Caller
    from gateway.privacy import vault
    from gateway.services.context import ServiceContext
    from gateway.standard import engine

    admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    name = f"vgw_bench_keywords_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
    app = None
    met = True
    try:
        with tempfile.TemporaryDirectory() as keys:
            app = create_app({"DATABASE_URL": url, "KEYS_DIR": keys, "LOG_LEVEL": "WARNING"})
            started = time.perf_counter()
            store.upgrade(app)
            teams, projects = generate(args.count, themes=THEMES)
            load(url, teams, projects)
            print(f"database {name}: {len(projects):,} projects loaded with COPY in "
                  f"{time.perf_counter() - started:.1f} s; {args.repeat} runs each (count + page of "
                  f"20), times in ms; target: 1-2 character keywords < {TARGET_MS:g} ms (median, new)\n")
            with app.app_context():
                session = app.extensions["store.sessionmaker"]()
                ctx = ServiceContext(session=session, engine=engine(), vault=vault(), config=app.config,
                                     caller=Caller("benchmark", permissions={"project": frozenset({"read"})}))
                header = (f"{'keyword':14} {'chars':>5} {'matches':>7} {'old med':>8} {'old p95':>8} "
                          f"{'new med':>8} {'new p95':>8} {'ratio':>6}  target")
                print(header)
                print("-" * len(header))
                plans = []
                for keyword in KEYWORDS:
                    with old_form():
                        old = measure(ctx, keyword, args.repeat)
                    new = measure(ctx, keyword, args.repeat)
                    assert (old["total"], old["ids"]) == (new["total"], new["ids"]), keyword
                    verdict = ""
                    if len(keyword) <= 2:
                        ok = new["median"] < TARGET_MS
                        met = met and ok
                        verdict = "met" if ok else "NOT met"
                    print(f"{keyword:14} {len(keyword):>5} {new['total']:>7,} {old['median']:>8.2f} "
                          f"{old['p95']:>8.2f} {new['median']:>8.2f} {new['p95']:>8.2f} "
                          f"{old['median'] / new['median']:>5.1f}x  {verdict}")
                    plans.append((keyword, old, new))
                session.close()
                print("\nplans (count query | page query):")
                for keyword, old, new in plans:
                    print(f"  {keyword}\n    old: {old['plan']}  |  {old['page_plan']}"
                          f"\n    new: {new['plan']}  |  {new['page_plan']}")
                print(f"\ntarget (1-2 character keywords < {TARGET_MS:g} ms): {'met' if met else 'NOT met'}")
    finally:
        if app is not None:
            app.extensions["store.engine"].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
