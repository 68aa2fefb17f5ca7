"""``vgw sources``, ``vgw sync`` and ``vgw scheduler`` (registered in the ``vgw.commands``
entry-point group; they run inside the gateway's app context like every ``vgw`` command)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from gateway import store, timefmt
from gateway.services import sync_status
from gateway.store.models import SyncSource
from sync_jobs import dead_letters as dead_mod
from sync_jobs import engine
from sync_jobs import sources as sources_mod

EXIT_FAILED, EXIT_BUSY = 1, 3


def _log_to_stderr() -> None:
    """Runs and the scheduler say what they do on stderr (at LOG_LEVEL), personal data scrubbed."""
    import logging

    from gateway.privacy import install_log_filter

    root = logging.getLogger()
    if current_app.config["LOG_FORMAT"] == "json":
        from gateway import logs

        logs.configure("json")  # one JSON object per line (gateway/logs.py)
    elif not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    level = current_app.config["LOG_LEVEL"].upper()
    for name in ("sync_jobs", "apscheduler"):
        logging.getLogger(name).setLevel(level)
    install_log_filter([logging.getLogger("sync_jobs"), logging.getLogger("apscheduler")])


def _vault():
    return current_app.extensions["privacy.vault"]


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _fail(exc: sources_mod.SourceError) -> None:
    raise click.ClickException(str(exc))


def _json_option(value: str | None, what: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{what} must be a JSON object")
    return data


# -- vgw sources -------------------------------------------------------------------------------

@click.group(help="Local systems the gateway syncs with through adapters.")
def sources() -> None:
    pass


@sources.command("add")
@click.argument("name")
@click.option("--adapter", required=True, help="Adapter name (vgw.adapters entry point), e.g. zyh365.")
@click.option("--direction", type=click.Choice(sources_mod.DIRECTIONS), default="pull", show_default=True)
@click.option("--entity", "entities", multiple=True, help="An entity to sync (repeatable; default: all the adapter handles).")
@click.option("--schedule", default="", help="'every 5m', 'every 30s', or a cron line '*/10 * * * *'; empty: by hand only.")
@click.option("--settings", "settings_json", help="The adapter's settings as a JSON object.")
@click.option("--settings-file", type=click.File("r", encoding="utf-8"),
              help="The adapter's settings from a JSON file (keeps secrets out of shell history).")
@click.option("--region", default="", help="Region prefix the source may write and see (empty: all).")
@click.option("--team", "teams", multiple=True, help="Limit to a team number (repeatable).")
@click.option("--pii", type=click.Choice(sources_mod.PII), default="full", show_default=True,
              help="Personal data sent to the source in full or masked.")
@with_appcontext
def add(name, adapter, direction, entities, schedule, settings_json, settings_file, region, teams, pii) -> None:
    """Add source NAME."""
    settings = _json_option(settings_file.read() if settings_file else settings_json, "settings")
    spec = sources_mod.SourceSpec(name=name, adapter=adapter, settings=settings, direction=direction,
                                  entities=list(entities) or None, schedule=schedule,
                                  scope={"region_prefix": region, "teams": list(teams), "pii": pii})
    with store.session_scope(current_app) as session:
        try:
            status, row = sources_mod.add_or_update(session, _vault(), spec)
        except sources_mod.SourceError as exc:
            _fail(exc)
        click.echo(f"source {row.name} {'added' if status == 'created' else 'exists, unchanged'}: "
                   f"{row.adapter}, {row.direction} "
                   f"{', '.join(row.entities)}, {row.schedule or 'by hand only'}")


@sources.command("update")
@click.argument("name")
@click.option("--direction", type=click.Choice(sources_mod.DIRECTIONS))
@click.option("--entity", "entities", multiple=True, help="Replaces the entities (repeatable).")
@click.option("--schedule", help="New schedule ('' for by hand only).")
@click.option("--settings", "settings_json", help="Settings to change, as a JSON object (merged).")
@click.option("--settings-file", type=click.File("r", encoding="utf-8"),
              help="Settings to change from a JSON file (merged).")
@click.option("--region", help="New region prefix ('' for all).")
@click.option("--pii", type=click.Choice(sources_mod.PII))
@with_appcontext
def update(name, direction, entities, schedule, settings_json, settings_file, region, pii) -> None:
    """Change source NAME (its cursors, history and dead letters stay)."""
    changes = _json_option(settings_file.read() if settings_file else settings_json, "settings")
    with store.session_scope(current_app) as session:
        try:
            row = sources_mod.get(session, name)
            scope = dict(row.scope or {})
            if region is not None:
                scope["region_prefix"] = region
            if pii is not None:
                scope["pii"] = pii
            spec = sources_mod.SourceSpec(
                name=name, adapter=row.adapter,
                settings={**sources_mod.settings_of(_vault(), row), **changes},
                direction=direction or row.direction, entities=list(entities) or list(row.entities),
                schedule=row.schedule if schedule is None else schedule, scope=scope)
            status, _row = sources_mod.add_or_update(session, _vault(), spec, declared_in=row.declared_in,
                                                     update=True)
        except sources_mod.SourceError as exc:
            _fail(exc)
    click.echo(f"source {name} {status}")


@sources.command("apply")
@click.argument("path", required=False)
@with_appcontext
def apply(path) -> None:
    """Create or update the sources a TOML file declares (default: the SOURCES_FILE setting)."""
    path = path or current_app.config["SOURCES_FILE"]
    if not path:
        raise click.UsageError("give a file, or set SOURCES_FILE")
    with store.session_scope(current_app) as session:
        try:
            results = sources_mod.apply_file(session, _vault(), path)
        except sources_mod.SourceError as exc:
            _fail(exc)
    for name, status in results:
        click.echo(f"{name}: {status}")


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_(as_json) -> None:
    """List the sources."""
    with store.session_scope(current_app) as session:
        rows = session.execute(select(SyncSource).order_by(SyncSource.name)).scalars().all()
        views = [sources_mod.view(_vault(), r) for r in rows]
    if as_json:
        _echo_json(views)
        return
    if not views:
        click.echo("no sources (vgw sources add NAME --adapter ...)")
    for v in views:
        state = "FLAGGED" if v["flagged"] else v["status"]
        click.echo(f"{v['name']:<20} {v['adapter']:<12} {v['direction']:<5} {state:<8} "
                   f"{v['schedule']:<16} {','.join(v['entities'])}")


@sources.command("show")
@click.argument("name")
@with_appcontext
def show(name) -> None:
    """Show source NAME (secrets masked) as JSON."""
    with store.session_scope(current_app) as session:
        try:
            _echo_json(sources_mod.view(_vault(), sources_mod.get(session, name)))
        except sources_mod.SourceError as exc:
            _fail(exc)


@sources.command("pause")
@click.argument("name")
@click.option("--reason", help="Why (shown by vgw sync status).")
@with_appcontext
def pause(name, reason) -> None:
    """Stop starting runs of NAME (a run in progress finishes)."""
    with store.session_scope(current_app) as session:
        try:
            sources_mod.set_paused(session, name, True, reason)
        except sources_mod.SourceError as exc:
            _fail(exc)
    click.echo(f"source {name} paused")


@sources.command("resume")
@click.argument("name")
@with_appcontext
def resume(name) -> None:
    """Start scheduling NAME again; clears the failure flag."""
    with store.session_scope(current_app) as session:
        try:
            sources_mod.set_paused(session, name, False)
        except sources_mod.SourceError as exc:
            _fail(exc)
    click.echo(f"source {name} resumed")


@sources.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@with_appcontext
def remove(name, yes) -> None:
    """Remove NAME with its cursors, runs and dead letters (records in the store stay)."""
    if not yes:
        click.confirm(f"remove source {name} with its cursors, run history and dead letters?", abort=True)
    with store.session_scope(current_app) as session:
        try:
            sources_mod.remove(session, name)
        except sources_mod.SourceError as exc:
            _fail(exc)
    click.echo(f"source {name} removed")


# -- vgw sync ----------------------------------------------------------------------------------

@click.group(help="Run syncs, see their state, handle dead letters.")
def sync() -> None:
    pass


def _print_run(result: engine.RunResult) -> None:
    lag = "caught up" if result.caught_up else (
        f"lag {result.lag_seconds}s" if result.lag_seconds is not None else
        "stopped early" if result.status != "failed" else "resumes from its last page")
    click.echo(f"{result.source} {result.direction} run {result.run_id}: {result.status} — "
               f"{result.pages} page(s), {result.read} read, {result.written} written, "
               f"{result.unchanged} unchanged, {result.rejected} rejected, "
               f"{result.dead_lettered} dead-lettered, {result.retries} retries"
               + (f", {result.skipped} skipped" if result.skipped else "") + f"; {lag}")
    for rule, reason in result.skipped_reasons.items():
        click.echo(f"    skipped {reason['count']} ({rule}): {reason['message']}")
    for error in result.errors:
        click.echo(f"    {error['kind']}: {error['message']}", err=True)


@sync.command("run")
@click.argument("name")
@click.option("--direction", type=click.Choice(["pull", "push"]), help="Only this direction.")
@click.option("--max-pages", type=click.IntRange(min=1), help="Stop after this many pages.")
@click.option("--json", "as_json", is_flag=True, help="Print the run results as JSON.")
@with_appcontext
def run(name, direction, max_pages, as_json) -> None:
    """Run source NAME now (even if paused). Exit 1 if a run failed, 3 if NAME is busy."""
    _log_to_stderr()
    from gateway.gc_tuning import freeze_after_startup

    freeze_after_startup()  # the app is built: a one-shot process, so nothing built stays long
    try:
        results = engine.run_source(current_app._get_current_object(), name, trigger="manual",
                                    direction=direction, max_pages=max_pages, include_paused=True)
    except sources_mod.SourceError as exc:
        _fail(exc)
    if results is None:
        click.echo(f"source {name} is being run by another process; not started", err=True)
        sys.exit(EXIT_BUSY)
    if as_json:
        _echo_json([r.as_dict() for r in results])
    else:
        for result in results:
            _print_run(result)
    if any(r.status == "failed" for r in results):
        sys.exit(EXIT_FAILED)


def _age(iso: str | None) -> str:
    return timefmt.table_from_iso(iso)  # the one rule for shown times (gateway/timefmt.py)


@sync.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (what the console shows).")
@with_appcontext
def status(as_json) -> None:
    """Every source: state, last run, last success, lag, failures, dead letters."""
    with store.session_scope(current_app) as session:
        data = sync_status.status(session)
    if as_json:
        _echo_json(data)
        return
    if data["retries"] == "off":
        click.echo("RETRIES ARE OFF (vgw sync retries on)")
    header = ("SOURCE", "ADAPTER", "DIR", "STATE", "LAST RUN", "LAST SUCCESS", "LAG", "FAILS", "DEAD")
    rows = []
    for s in data["sources"]:
        last = s["last_run"]
        last_text = f"{last['status']} {_age(last['started_at'])[5:]}" if last else "-"
        lag = "-" if s["lag_seconds"] is None else f"{s['lag_seconds']}s"
        state = "FLAGGED" if s["flagged"] else s["status"]
        rows.append((s, (s["name"], s["adapter"], s["direction"], state, last_text,
                         _age(s["last_success_at"]), lag, str(s["consecutive_failures"]),
                         str(s["dead_letters_pending"]))))
    # each column as wide as its widest cell: a long source or adapter name no longer pushes
    # the cells after it under the next heading
    widths = [max([len(h)] + [len(cells[i]) for _s, cells in rows]) for i, h in enumerate(header)]

    def line(cells) -> str:
        return " ".join(c.rjust(w) if i >= 6 else c.ljust(w)
                        for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    click.echo(line(header))
    for s, cells in rows:
        click.echo(line(cells))
        if s["flagged"] or s["status"] == "paused":
            click.echo(f"    {s['paused_reason']}")
        for rule, reason in ((last or {}).get("skipped_reasons") or {}).items():
            click.echo(f"    last run skipped {reason['count']} ({rule}): {reason['message']}")


@sync.command("runs")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def runs(name, limit, as_json) -> None:
    """Run history of NAME, newest first."""
    with store.session_scope(current_app) as session:
        try:
            sources_mod.get(session, name)
        except sources_mod.SourceError as exc:
            _fail(exc)
        rows = sync_status.runs(session, name, limit)
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id']:>6} {r['direction']:<5} {r['trigger']:<9} {r['status']:<11} "
                   f"{_age(r['started_at'])} → {_age(r['finished_at'])}  pages={r['pages']} "
                   f"read={r['read']} written={r['written']} rejected={r['rejected']} "
                   f"dead={r['dead_lettered']} skipped={r['skipped']} lag={r['lag_seconds']}")


@sync.command("retries")
@click.argument("state", type=click.Choice(["on", "off", "show"]), default="show")
@with_appcontext
def retries(state) -> None:
    """Switch retries of every source on or off (effective at once, in every process)."""
    with store.session_scope(current_app) as session:
        if state != "show":
            engine.set_retries(session, state == "on")
        enabled = engine.retries_enabled(session) if state == "show" else state == "on"
    click.echo(f"retries are {'on' if enabled else 'off'}")


@sync.group("dead-letters", help="Records that kept failing.")
def dead_letters() -> None:
    pass


def _filter_options(fn):
    fn = click.option("--source", help="Only this source.")(fn)
    fn = click.option("--entity", help="Only this entity.")(fn)
    return click.option("--rule", help="Only this rule id (the first reason).")(fn)


@dead_letters.command("list")
@_filter_options
@click.option("--status", type=click.Choice(["pending", "replayed", "discarded", "all"]),
              default="pending", show_default=True)
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def dl_list(source, entity, rule, status, limit, as_json) -> None:
    """List dead letters (reasons, never the records' personal data)."""
    flt = dead_mod.Filter(source=source, entity=entity, rule=rule,
                          status=None if status == "all" else status)
    with store.session_scope(current_app) as session:
        rows = dead_mod.listing(session, flt, limit)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo(f"no {'' if status == 'all' else status + ' '}dead letters"
                   + (" matching the filter" if source or entity or rule else ""))
        return
    for r in rows:
        first = r["reason"][0] if r["reason"] else {}
        click.echo(f"{r['id']:>6} {r['source']:<16} {r['direction']:<4} {r['entity']:<14} "
                   f"{(r['record_key'] or '-'):<24} {r['status']:<9} x{r['attempts']} "
                   f"{first.get('pointer') or '/'} {first.get('rule', '')}: {first.get('message_en', '')}")


@dead_letters.command("replay")
@click.argument("ids", nargs=-1, type=int)
@_filter_options
@click.option("--all", "all_", is_flag=True, help="Every pending dead letter matching the filters.")
@with_appcontext
def dl_replay(ids, source, entity, rule, all_) -> None:
    """Replay dead letters: by ID, or in bulk with filters and --all."""
    if not ids and not all_:
        raise click.UsageError("give dead-letter ids, or --all (with --source/--entity/--rule to narrow)")
    summary = dead_mod.replay(current_app._get_current_object(),
                              dead_mod.Filter(ids=tuple(ids), source=source, entity=entity, rule=rule))
    click.echo(f"replayed {summary.replayed}, still failing {summary.failed}")
    if summary.busy_sources:
        click.echo(f"busy (being run, try again): {', '.join(summary.busy_sources)}", err=True)
        sys.exit(EXIT_BUSY)
    if summary.failed:
        sys.exit(EXIT_FAILED)


@dead_letters.command("discard")
@click.argument("ids", nargs=-1, type=int, required=True)
@with_appcontext
def dl_discard(ids) -> None:
    """Stop replaying these dead letters (they are kept, marked discarded)."""
    with store.session_scope(current_app) as session:
        count = dead_mod.discard(session, dead_mod.Filter(ids=tuple(ids)))
    click.echo(f"discarded {count}")


# -- vgw scheduler -----------------------------------------------------------------------------

@click.command(help="Run the sync scheduler in this process until SIGTERM / SIGINT.")
@with_appcontext
def scheduler() -> None:
    from sync_jobs import scheduler as scheduler_mod

    _log_to_stderr()
    scheduler_mod.serve(current_app._get_current_object())
