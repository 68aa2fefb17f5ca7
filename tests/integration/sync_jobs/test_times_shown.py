"""One rule for showing times (issue 12, item 11; docs/operations.md "How times are shown"):
every command and answer that shows an instant shows it in TIMEZONE with the offset written
out — ISO 8601 in JSON, ``YYYY-MM-DD HH:MM:SS +HH:MM`` in tables — on SQLite and PostgreSQL.

Before the rule, ``vgw sync status --json`` said ``+00:00``, its table and ``vgw keys list``
showed bare UTC ("created (UTC)"), and the console's times had no offset.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from gateway.exchange import keys as client_keys
from tests.integration.sync_jobs.helpers import add_source, run

ROOT = Path(__file__).resolve().parents[3]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text("utf-8")
TABLE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ([+-]\d\d:\d\d)")


def _documented_examples() -> tuple[str, str]:
    section = OPERATIONS[OPERATIONS.index("### How times are shown"):]
    json_example = re.search(r"`(\d{4}-\d\d-\d\dT[\d:]+[+-]\d\d:\d\d)`", section).group(1)
    table_example = re.search(r"`(\d{4}-\d\d-\d\d [\d:]+ [+-]\d\d:\d\d)`", section).group(1)
    return json_example, table_example


@pytest.mark.parametrize("zone, offset", [("Asia/Shanghai", "+08:00"), ("Asia/Kolkata", "+05:30")])
def test_every_command_shows_times_in_the_zone_with_the_offset(sync_app, platform, base_url,
                                                              tmp_path, zone, offset):
    json_example, table_example = _documented_examples()
    assert TABLE_TIME.fullmatch(table_example) and datetime.fromisoformat(json_example).utcoffset()

    sync_app.config["TIMEZONE"] = zone
    platform.seed(volunteers=3)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    run(sync_app, "zyh")
    runner = sync_app.test_cli_runner()

    data = json.loads(runner.invoke(args=["sync", "status", "--json"]).output)
    (source,) = data["sources"]
    shown = [data["generated_at"], source["last_success_at"], source["last_run"]["started_at"],
             source["last_run"]["finished_at"]]
    assert all(text.endswith(offset) for text in shown), shown
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", t) for t in shown), shown

    # the table says the same instants, in the table form of the rule
    table = runner.invoke(args=["sync", "status"]).output
    success = datetime.fromisoformat(source["last_success_at"])
    assert f"{success:%Y-%m-%d %H:%M:%S} {offset}" in table, table
    runs = runner.invoke(args=["sync", "runs", "zyh"]).output
    assert TABLE_TIME.findall(runs) == [offset, offset], runs

    # the API answer the console reads
    http = sync_app.test_client()
    from tests.conftest import make_caller

    admin = make_caller(sync_app, "console", perms={"sync": ["read"]})
    answer = http.get("/api/v1/sync/status", headers=admin).get_json()
    assert answer["sources"][0]["last_success_at"] == source["last_success_at"]

    # clients' keys and the gateway's own signing keys
    assert runner.invoke(args=["clients", "add", "times-client", "--name", "t"]).exit_code == 0
    pem = tmp_path / "k.public.pem"
    pem.write_bytes(client_keys.generate_key_pair("ed25519").public_pem)
    assert runner.invoke(args=["keys", "add", "times-client", str(pem), "--key-id", "k1"]).exit_code == 0
    assert runner.invoke(args=["keys", "revoke", "--", "k1"]).exit_code == 0
    keys = runner.invoke(args=["keys", "list", "times-client"]).output
    assert "UTC" not in keys and TABLE_TIME.findall(keys) == [offset, offset], keys
    assert runner.invoke(args=["signing-keys", "generate"]).exit_code == 0
    signing = runner.invoke(args=["signing-keys", "list"]).output
    assert "UTC" not in signing and TABLE_TIME.findall(signing), signing


def test_the_console_filter_and_the_cli_tables_use_the_one_helper():
    """No other spelling of "a time for a table" is left where times are shown."""
    shown_in = [ROOT / "sync_jobs" / "cli.py", ROOT / "gateway" / "console" / "views.py",
                *sorted((ROOT / "gateway" / "cli").glob("*.py"))]
    offenders = [f"{path.relative_to(ROOT)}:{n}" for path in shown_in
                 for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                 if re.search(r'strftime\("%Y-%m-%d %H:%M|\(UTC\)|\[:19\]', line)]
    assert not offenders, offenders
