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

import statistics
import sys
import time
from contextlib import contextmanager


from benchmarks.project_search import _THEMES, _p95, arguments, loaded_projects, plan_path

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
    return {"total": total, "ids": [r.id for r in rows], "median": statistics.median(times),
            "p95": _p95(times),
            "plan": plan_path(ctx.session, count), "page_plan": plan_path(ctx.session, page)}


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv)
    met = True
    with loaded_projects(args.pg_url, args.count, "keywords", themes=THEMES) as (ctx, _projects, note):
        print(f"{note}; {args.repeat} runs each (count + page of 20), times in ms; target: "
              f"1-2 character keywords < {TARGET_MS:g} ms (median, new)\n")
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
        print("\nplans (count query | page query):")
        for keyword, old, new in plans:
            print(f"  {keyword}\n    old: {old['plan']}  |  {old['page_plan']}"
                  f"\n    new: {new['plan']}  |  {new['page_plan']}")
        print(f"\ntarget (1-2 character keywords < {TARGET_MS:g} ms): {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
