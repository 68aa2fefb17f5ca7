"""Statistics on a national-size store: every answer from the aggregates, against the naive path.

    python -m benchmarks.statistics [--volunteers 1000000 --records 10000000] [--keep]

Creates a fresh PostgreSQL database (``--admin-url``, default postgres@127.0.0.1:5432),
migrates it, generates the base rows in SQL with generate_series (teams, projects,
volunteers with real county codes from schemas/regions/areas.csv, effective service records
over three years), runs the ``vgw stats rebuild`` logic, then times every statistics query
through the service functions (median and max of ``--runs``) and the naive path — the same
answers computed from the base tables with GROUP BY over volunteers / service_records — and
checks that both give the same figures. Drops the database at the end unless ``--keep``.

Secondary indexes and foreign keys of the generated tables are dropped for the load and
created again afterwards (the usual bulk-load practice); the statistics and naive queries
then run on the same schema the migration builds, with PostgreSQL's default settings.
"""

from __future__ import annotations

import argparse
import statistics as stats
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Callable, Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

import schemas

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TABLES = ("teams", "projects", "volunteers", "service_records")
CATEGORIES = sorted(schemas.code_table("service_category"))
# Project statuses, weighted towards the common ones (招募中, 招募已结束, 结项).
PROJECT_STATUSES = ["3", "3", "3", "4", "4", "6", "7", "7", "2", "1", "8", "9"]
CHUNK = 1_000_000


@contextmanager
def phase(name: str) -> Iterator[None]:
    print(f"  {name} …", end="", flush=True)
    started = time.perf_counter()
    yield
    print(f" {time.perf_counter() - started:8.1f} s", flush=True)


# -- generation ------------------------------------------------------------------------------------

def _drop_secondary(conn: Connection, table: str) -> list[str]:
    """Drop the table's foreign keys, unique constraints and secondary indexes; return the DDL
    that recreates them (indexes and unique constraints first, foreign keys last)."""
    constraints = conn.execute(text(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('f', 'u')"), {"t": table}).all()
    indexes = conn.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass))"), {"t": table}).all()
    create_first, create_last = [], []
    for name, kind, definition in constraints:
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        (create_last if kind == "f" else create_first).append(
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
        create_first.append(definition)
    return create_first + create_last


def _load_counties(conn: Connection) -> int:
    rows = [{"i": i, "code": row["code"]} for i, row in enumerate(schemas.read_table("regions", "areas"))]
    conn.execute(text("CREATE UNLOGGED TABLE bench_counties (i integer PRIMARY KEY, code varchar(6))"))
    conn.execute(text("INSERT INTO bench_counties (i, code) VALUES (:i, :code)"), rows)
    return len(rows)


def generate(engine, teams: int, projects: int, volunteers: int, records: int) -> None:
    """Bulk-generate the base rows in SQL (generate_series), then index and analyse them."""
    categories = "ARRAY[" + ",".join(f"'{c}'" for c in CATEGORIES) + "]"
    statuses = "ARRAY[" + ",".join(f"'{s}'" for s in PROJECT_STATUSES) + "]"
    with engine.begin() as conn:
        with phase("drop secondary indexes and foreign keys for the load"):
            recreate = [ddl for table in reversed(TABLES) for ddl in _drop_secondary(conn, table)]
        with phase("load county codes (schemas/regions/areas.csv)"):
            counties = _load_counties(conn)
    params = {"teams": teams, "projects": projects, "volunteers": volunteers, "n": counties}

    with phase(f"teams: {teams:,}"), engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO teams (id, team_no, name, team_type, status, area_code, province, city, county,"
            " join_policy, data, created_at, updated_at) "
            "SELECT g, 'T' || c.code || lpad(g::text, 7, '0'), '志愿服务队' || g, '2',"
            " CASE WHEN g % 10 < 7 THEN '1' WHEN g % 10 < 9 THEN '2' ELSE '3' END,"
            " c.code, substr(c.code, 1, 2), substr(c.code, 1, 4), c.code, '1', '{}'::jsonb, now(), now() "
            "FROM generate_series(1, CAST(:teams AS bigint)) g JOIN bench_counties c ON c.i = (g * 7919) % :n"), params)

    with phase(f"projects: {projects:,}"), engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO projects (id, project_no, team_id, name, starts_on, ends_on, service_category,"
            " status, recruit_scope, area_code, province, city, county, data, created_at, updated_at) "
            "SELECT g, 'P' || lpad(g::text, 12, '0'), t.id, '志愿服务项目' || g,"
            " current_date - 1095 + (g % 1000)::int, current_date - 1095 + (g % 1000)::int + 90,"
            f" ({categories})[1 + (g * 31) % {len(CATEGORIES)}],"
            f" ({statuses})[1 + (g * 17) % {len(PROJECT_STATUSES)}],"
            " '1', t.area_code, t.province, t.city, t.county, '{}'::jsonb, now(), now() "
            "FROM generate_series(1, CAST(:projects AS bigint)) g JOIN teams t ON t.id = 1 + g % :teams"), params)

    for start in range(1, volunteers + 1, CHUNK):
        stop = min(start + CHUNK - 1, volunteers)
        with phase(f"volunteers {start:,}–{stop:,}"), engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO volunteers (id, volunteer_no, name, id_type, id_index, id_number_enc,"
                " id_number_masked, mobile_index, mobile_enc, mobile_masked, gender, birth_date,"
                " registered_at, real_name_status, total_hours, star_level, data, provenance,"
                " area_code, province, city, county, created_at, updated_at) "
                "SELECT g, 'V' || c.code || lpad(g::text, 11, '0'), '志愿者' || g, '01',"
                " md5('id' || g) || md5('id2' || g), repeat(md5('enc' || g), 4),"
                " c.code || '********' || lpad((g % 10000)::text, 4, '0'),"
                " md5('mobile' || g) || md5('mobile2' || g), repeat(md5('menc' || g), 4),"
                " '138****' || lpad((g % 10000)::text, 4, '0'), (1 + g % 2)::text,"
                " date '1950-01-01' + ((g * 37) % 23000)::int, current_date - 1095 + ((g * 13) % 1095)::int,"
                " '1', 0, 0, '{}'::jsonb, '{}'::jsonb,"
                " c.code, substr(c.code, 1, 2), substr(c.code, 1, 4), c.code, now(), now() "
                "FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) g JOIN bench_counties c ON c.i = (g * 7919) % :n"),
                {**params, "start": start, "stop": stop})

    for start in range(1, records + 1, CHUNK):
        stop = min(start + CHUNK - 1, records)
        with phase(f"service records {start:,}–{stop:,}"), engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO service_records (id, record_no, volunteer_id, project_id, team_id,"
                " started_at, ended_at, local_date, hours, source, status, kind, recorded_at,"
                " created_at, updated_at) "
                "SELECT g, 'R' || lpad(g::text, 14, '0'), 1 + (g * 7) % :volunteers, p, 1 + p % :teams,"
                " (d + time '09:00') AT TIME ZONE 'Asia/Shanghai',"
                " (d + time '09:00') AT TIME ZONE 'Asia/Shanghai' + make_interval(mins => (30 * (1 + g % 8))::int),"
                " d, 0.5 * (1 + g % 8), '1', '2', '1', d, now(), now() "
                "FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) g,"
                " LATERAL (SELECT 1 + (g * 13) % :projects AS p,"
                "                 current_date - 1095 + ((g * 17) % 1095)::int AS d) x"),
                {**params, "start": start, "stop": stop})

    with engine.begin() as conn:
        conn.execute(text("SET maintenance_work_mem = '512MB'"))
        with phase(f"recreate {len(recreate)} indexes, unique constraints and foreign keys"):
            for ddl in recreate:
                conn.execute(text(ddl))
        for table in TABLES:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))
        conn.execute(text("DROP TABLE bench_counties"))
    with phase("VACUUM ANALYZE"), engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


# -- the naive path: the same answers straight from the base tables --------------------------------

def _naive_volunteers(conn, key_sql: str, where: str = "") -> dict:
    return {k: int(n) for k, n in conn.execute(text(
        f"SELECT {key_sql} AS k, count(*) FROM volunteers v {where} GROUP BY 1"))}


def _naive_hours(conn, key_sql: str, where: str = "") -> dict:
    rows = conn.execute(text(
        f"SELECT {key_sql} AS k, sum(r.hours), count(*) FROM service_records r "
        f"JOIN projects p ON p.id = r.project_id WHERE r.status = '2' {where} GROUP BY 1"))
    return {k: (float(round(Decimal(h), 2)), int(n)) for k, h, n in rows}


def _age_bands(by_year: dict, ref_year: int) -> dict:
    from gateway.services.statistics import age_band

    bands: dict = {}
    for year, n in by_year.items():
        band = age_band(ref_year - int(year)) if year and ref_year >= int(year) else None
        bands[band] = bands.get(band, 0) + n
    return bands


def _counts(answer: dict) -> dict:
    return {i["code"]: i["count"] for i in answer["items"]}


def _hours_items(answer: dict) -> dict:
    return {i["code"]: (i["hours"], i["records"]) for i in answer["items"]}


REGISTERED_MONTH = ("coalesce(to_char(v.registered_at, 'YYYY-MM'), "
                    "to_char(v.created_at AT TIME ZONE 'UTC', 'YYYY-MM'))")


def queries(svc, ref_year: int) -> list[tuple[str, Callable[[Any], dict], Callable[[Any], dict] | None, Callable]]:
    """(name, service call, naive call or None when the service already reads base tables, key)."""
    months = ("2024-01", "2024-12")
    return [
        ("overview (country)", lambda ctx: svc.overview(ctx),
         lambda c: {"volunteers": sum(_naive_volunteers(c, "1").values()),
                    "records": sum(n for _, n in _naive_hours(c, "1").values())},
         lambda a: {"volunteers": a["volunteers"]["count"], "records": a["hours"]["records"]}),
        ("overview region=44", lambda ctx: svc.overview(ctx, "44"),
         lambda c: {"volunteers": sum(_naive_volunteers(c, "1", "WHERE v.province = '44'").values()),
                    "records": sum(n for _, n in _naive_hours(c, "1", "AND p.province = '44'").values())},
         lambda a: {"volunteers": a["volunteers"]["count"], "records": a["hours"]["records"]}),
        ("volunteers by=region (country → provinces)", lambda ctx: svc.volunteers(ctx),
         lambda c: _naive_volunteers(c, "v.province"), _counts),
        ("volunteers by=region region=44 (→ cities)", lambda ctx: svc.volunteers(ctx, "44"),
         lambda c: _naive_volunteers(c, "v.city", "WHERE v.province = '44'"), _counts),
        ("volunteers by=region region=4401 (→ counties)", lambda ctx: svc.volunteers(ctx, "4401"),
         lambda c: _naive_volunteers(c, "v.county", "WHERE v.city = '4401'"), _counts),
        ("volunteers by=age_band (country)", lambda ctx: svc.volunteers(ctx, by="age_band"),
         lambda c: _age_bands(_naive_volunteers(c, "extract(year FROM v.birth_date)::int"), ref_year),
         _counts),
        ("volunteers by=age_band region=44", lambda ctx: svc.volunteers(ctx, "44", by="age_band"),
         lambda c: _age_bands(_naive_volunteers(c, "extract(year FROM v.birth_date)::int",
                                                "WHERE v.province = '44'"), ref_year), _counts),
        ("volunteers by=month (country)", lambda ctx: svc.volunteers(ctx, by="month"),
         lambda c: _naive_volunteers(c, REGISTERED_MONTH), _counts),
        ("volunteers by=gender (country)", lambda ctx: svc.volunteers(ctx, by="gender"),
         lambda c: _naive_volunteers(c, "v.gender"), _counts),
        ("hours by=region (country → provinces)", lambda ctx: svc.hours(ctx),
         lambda c: _naive_hours(c, "p.province"), _hours_items),
        ("hours by=region region=44 (→ cities)", lambda ctx: svc.hours(ctx, "44"),
         lambda c: _naive_hours(c, "p.city", "AND p.province = '44'"), _hours_items),
        ("hours by=month (country)", lambda ctx: svc.hours(ctx, by="month"),
         lambda c: _naive_hours(c, "to_char(r.local_date, 'YYYY-MM')"), _hours_items),
        ("hours by=month from=2024-01 to=2024-12", lambda ctx: svc.hours(ctx, by="month", month_from=months[0],
                                                                          month_to=months[1]),
         lambda c: _naive_hours(c, "to_char(r.local_date, 'YYYY-MM')",
                                "AND r.local_date >= date '2024-01-01' AND r.local_date < date '2025-01-01'"),
         _hours_items),
        ("hours by=service_category (country)", lambda ctx: svc.hours(ctx, by="service_category"),
         lambda c: _naive_hours(c, "p.service_category"), _hours_items),
        ("hours by=service_category region=4401", lambda ctx: svc.hours(ctx, "4401", by="service_category"),
         lambda c: _naive_hours(c, "p.service_category", "AND p.city = '4401'"), _hours_items),
        ("teams by=region (country)", lambda ctx: svc.teams(ctx), None, _counts),
        ("teams by=status (country)", lambda ctx: svc.teams(ctx, by="status"), None, _counts),
        ("teams by=region region=44", lambda ctx: svc.teams(ctx, "44"), None, _counts),
        ("projects by=region (country)", lambda ctx: svc.projects(ctx), None, _counts),
        ("projects by=status region=44", lambda ctx: svc.projects(ctx, "44", by="status"), None, _counts),
        ("projects by=service_category (country)", lambda ctx: svc.projects(ctx, by="service_category"),
         None, _counts),
    ]


def _time(call: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def measure(app, runs: int, naive_runs: int) -> bool:
    from gateway import privacy, standard
    from gateway.caller import Caller
    from gateway.services import statistics as svc
    from gateway.services.context import ServiceContext

    caller = Caller("benchmark", "", permissions={"statistics": frozenset({"read"})})
    slowest = 0.0
    all_equal = True
    with app.app_context():
        session = app.extensions["store.sessionmaker"]()
        ctx = ServiceContext(session=session, caller=caller, engine=standard.engine(),
                             vault=privacy.vault(), config=app.config)
        print(f"\n{'query':<46} {'median ms':>10} {'max ms':>9} {'naive median ms':>16} {'ratio':>8}  same")
        for name, call, naive, key in queries(svc, ctx.now.year):
            times, answer = _time(lambda: call(ctx), runs)
            session.rollback()
            median, worst = stats.median(times), max(times)
            slowest = max(slowest, worst)
            if naive is None:
                print(f"{name:<46} {median:10.1f} {worst:9.1f} {'(base tables)':>16} {'':>8}")
                continue
            with app.extensions["store.engine"].connect() as conn:
                naive_times, expected = _time(lambda: naive(conn), naive_runs)
            naive_median = stats.median(naive_times)
            same = key(answer) == expected
            all_equal &= same
            print(f"{name:<46} {median:10.1f} {worst:9.1f} {naive_median:16.1f} "
                  f"{naive_median / median:7.0f}x  {'yes' if same else 'NO'}")
        session.close()
    print(f"\nslowest statistics answer: {slowest:.1f} ms (target: under 1000 ms); "
          f"aggregates and naive path agree: {'yes' if all_equal else 'NO'}")
    return slowest < 1000 and all_equal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--teams", type=int, default=20_000)
    parser.add_argument("--projects", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each statistics query")
    parser.add_argument("--naive-runs", type=int, default=3, help="timed runs of each naive query")
    parser.add_argument("--admin-url", default=ADMIN_URL, help="PostgreSQL URL to create the database with")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database", help="re-measure a database kept by an earlier --keep run "
                                           "(no generation; implies --keep)")
    args = parser.parse_args(argv)

    from gateway import create_app, store
    from gateway.services import statistics as svc

    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    reuse = bool(args.database)
    args.keep = args.keep or reuse
    name = args.database or f"vgw_bench_stats_{uuid.uuid4().hex[:8]}"
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    if reuse:
        print(f"statistics benchmark on the kept database {name}")
    else:
        print(f"statistics benchmark: {args.volunteers:,} volunteers, {args.records:,} service records, "
              f"{args.teams:,} teams, {args.projects:,} projects; database {name}")
    started = time.perf_counter()
    ok = False
    if not reuse:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as keys:
            app = create_app({"TESTING": True, "DATABASE_URL": url, "KEYS_DIR": keys})
            engine = app.extensions["store.engine"]
            print("\nphases")
            if not reuse:
                with phase("migrate (gateway.store.upgrade)"):
                    store.upgrade(app)
                generate(engine, args.teams, args.projects, args.volunteers, args.records)
            with phase("vgw stats rebuild (four aggregate tables, one transaction)"):
                with store.session_scope(app) as session:
                    counts = svc.rebuild(session)
            print(f"    stat_volunteers: {counts['stat_volunteers']:,} rows (province roll-up "
                  f"{counts['stat_volunteers_province']:,}) for {counts['volunteers']:,} volunteers; "
                  f"stat_hours: {counts['stat_hours']:,} rows (province roll-up "
                  f"{counts['stat_hours_province']:,}) for {counts['records']:,} records "
                  f"({counts['hours']:,} hours)")
            with engine.connect() as conn:
                sizes = conn.execute(text(
                    "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
                    "WHERE relname IN ('volunteers', 'service_records', 'projects', 'teams', "
                    "'stat_volunteers', 'stat_hours', 'stat_volunteers_province', 'stat_hours_province') "
                    "ORDER BY pg_total_relation_size(oid) DESC")).all()
            print("    sizes (with indexes): " + ", ".join(f"{t} {s}" for t, s in sizes))
            ok = measure(app, args.runs, args.naive_runs)
            engine.dispose()
    finally:
        if args.keep:
            print(f"kept database {name} ({url})")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
