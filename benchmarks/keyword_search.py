"""Keyword search on 100,000 projects in PostgreSQL: project_grams against 0009's GIN grams.

    python -m benchmarks.keyword_search [--count 100000] [--repeat 20] [--pg-url URL]

Creates a throw-away database (default server postgres@127.0.0.1:5432), migrates it with the
gateway's migrations (the table ``project_grams`` from 0014_search3, the trigram index from
0002), COPYs generated teams and projects in (benchmarks.project_search's generator, with 环保
and 支教 among the themes; the grams computed as the model does, project_grams filled from
them), builds 0009_verbs2's GIN index ``ix_projects_name_grams`` again for the old form, runs
``VACUUM ANALYZE`` and times each keyword search through the service the API calls
(:func:`gateway.services.activities.search_projects`: the count and the first page of 20).

"old" is the form before 0014_search3: a keyword of one or two characters by
``name_grams @> ARRAY[kw]`` on the GIN index (which finds the matches but reads every one from
the heap for the count and the page), longer ones by ``ILIKE`` (unchanged); "new" is the
service as it is (project_grams' primary key alone for a short keyword). Old and new run
interleaved, keyword by keyword, in one run, and must find the same projects in the same
order. It prints the median and p95 (ms) of ``--repeat`` runs after a warm-up, the ratio and
the plans, and "met" / "NOT met" for the target: every keyword of one or two characters
answers in under TARGET_MS (median), new form.
The database is dropped at the end, whatever happens.
"""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import contextmanager

from sqlalchemy import text

from benchmarks.project_search import _THEMES, _p95, arguments, loaded_projects, plan_path

#: The target for one- and two-character keywords (count + page), median, new form.
TARGET_MS = 10.0
KEYWORDS = ["助老", "环保", "支教", "老", "垃圾分类", "社区清洁志愿"]
THEMES = _THEMES + ["环保", "支教", "乡村支教", "环保宣传"]


@contextmanager
def old_form():
    """The service as before 0014_search3: a short keyword by 0009_verbs2's containment on
    ``projects.name_grams`` (its GIN index), one condition among the others."""
    from sqlalchemy import Text, type_coerce
    from sqlalchemy.dialects.postgresql import ARRAY

    from gateway.services import activities
    from gateway.store.models import Project

    kept = activities._gram_only, activities._keyword_condition

    def gin_condition(dialect: str, keyword: str):
        gram = activities.keyword_gram(keyword)
        if gram is None:
            return kept[1](dialect, keyword)
        return type_coerce(Project.name_grams, ARRAY(Text())).contains([gram])

    activities._gram_only = lambda *_args: None
    activities._keyword_condition = gin_condition
    try:
        yield
    finally:
        activities._gram_only, activities._keyword_condition = kept


def _run(ctx, search, old: bool):
    from gateway.services.activities import search_projects

    if old:
        with old_form():
            return search_projects(ctx, search)
    return search_projects(ctx, search)


def measure(ctx, keyword: str, repeat: int) -> tuple[dict, dict]:
    """Old and new for ``keyword``, alternating run by run (so that the machine's load
    falls on both alike): each form's total, page ids, median, p95 and plans."""
    from gateway.services.activities import ProjectSearch, search_statements

    search = ProjectSearch(q=keyword)
    ctx.session.rollback()
    results = {}
    for old in (True, False):
        rows, total = _run(ctx, search, old)  # warm-up
        results[old] = {"total": total, "ids": [r.id for r in rows], "times": []}
    for _ in range(repeat):
        for old in (True, False):
            started = time.perf_counter()
            _run(ctx, search, old)
            results[old]["times"].append((time.perf_counter() - started) * 1000)
    for old in (True, False):
        if old:
            with old_form():
                page, count = search_statements(ctx, search)
        else:
            page, count = search_statements(ctx, search)
        times = results[old].pop("times")
        results[old].update(median=statistics.median(times), p95=_p95(times),
                            plan=plan_path(ctx.session, count), page_plan=plan_path(ctx.session, page))
    return results[True], results[False]


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv)
    met = True
    with loaded_projects(args.pg_url, args.count, "keywords", themes=THEMES) as (ctx, _projects, note):
        ctx.session.execute(text("CREATE INDEX ix_projects_name_grams ON projects USING gin (name_grams)"))
        ctx.session.execute(text("ANALYZE projects"))
        ctx.session.commit()
        print(f"{note}; {args.repeat} runs each, old and new alternating (count + page of 20), "
              f"times in ms; target: "
              f"1-2 character keywords < {TARGET_MS:g} ms (median, new)\n")
        header = (f"{'keyword':14} {'chars':>5} {'matches':>7} {'old med':>8} {'old p95':>8} "
                  f"{'new med':>8} {'new p95':>8} {'ratio':>6}  target")
        print(header)
        print("-" * len(header))
        plans = []
        for keyword in KEYWORDS:
            old, new = measure(ctx, keyword, args.repeat)
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
