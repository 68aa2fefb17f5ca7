"""The peers benchmark's own parts (benchmarks/peers.py): the Singer stream it feeds
target-postgres, the COPY rows, the table's ratios and the met / NOT met verdicts, and the
per-process CPU reading. The peers themselves (dlt, target-postgres) are not installed here."""

from __future__ import annotations

import csv
import os
import subprocess
import time

import jsonschema
import orjson

from benchmarks import peers
from benchmarks.push import volunteers


def test_singer_stream_is_schema_records_state_and_the_records_validate():
    records = list(volunteers(0, 25))
    lines = [orjson.loads(line) for line in peers.singer_messages(records)]
    assert [m["type"] for m in lines] == ["SCHEMA"] + ["RECORD"] * 25 + ["STATE"]
    schema = lines[0]
    assert schema["stream"] == "volunteers" and schema["key_properties"] == ["source_id"]
    assert [m["record"] for m in lines[1:-1]] == records
    assert lines[-1]["value"] == {"bookmarks": {"volunteers": {"source_id": "src-24"}}}
    validator = jsonschema.Draft7Validator(schema["schema"])
    for message in lines[1:-1]:
        validator.validate(message["record"])
    # the schema says something: a list where a string belongs, or no key, is caught
    assert not validator.is_valid({**records[0], "mobile": ["13800000000"]})
    assert not validator.is_valid({k: v for k, v in records[0].items() if k != "source_id"})
    assert schema["schema"]["properties"]["skills"]["type"] == ["array", "null"]


def test_copy_rows_hold_every_field_lists_as_json(tmp_path):
    records = list(volunteers(0, 10))
    columns = peers.copy_columns(records)
    assert columns == list(records[0])
    path = tmp_path / "rows.csv"
    peers.write_csv(path, records, columns)
    with path.open(newline="", encoding="utf-8") as rows:
        read = list(csv.reader(rows))
    assert len(read) == 10
    for row, record in zip(read, records):
        back = dict(zip(columns, row))
        assert orjson.loads(back["service_categories"]) == record["service_categories"]
        assert back["name"] == record["name"] and back["source_id"] == record["source_id"]


def _result(path, records, seconds, **cpu):
    return peers.Result(path, records, seconds, {c: cpu.get(c) for c in peers.CLASSES}, 100.0)


def test_table_prints_rates_ratios_against_dlt_and_copy_and_cpu_shares():
    rows = {"push": _result("push", 10_000, 1.0, gateway=3.0, postgres=1.0),
            "dlt": _result("dlt", 10_000, 2.0, peer=1.0),
            "copy": _result("copy", 10_000, 0.25, peer=0.1, postgres=0.1)}
    out = peers.table(rows).splitlines()
    assert len(out) == 2 + 3
    push_line = out[2]
    assert "10,000" in push_line and "2.00x" in push_line and "0.25x" in push_line
    assert "3.0 (75%)" in push_line and "1.0 (25%)" in push_line
    assert push_line.count("–") == 3          # peer, simulator, client: not measured
    assert "400" in push_line                 # 4 CPU seconds for 10,000 records = 400 us each
    assert "1.00x" in out[3] and "40,000" in out[4]


def test_targets_met_and_not_met():
    dlt = _result("dlt", 10_000, 2.0)                 # 5,000/s
    fast = {"push": _result("push", 12_000, 1.0), "dlt": dlt, "pull": _result("pull", 6_000, 1.0)}
    verdict = {name: met for name, _, met in peers.targets(fast)}
    assert verdict["push >= 10,000 records/s"] is True
    assert verdict["push >= 2x dlt in the same run"] is True
    assert verdict["pull >= 6,000 records/s, fresh tables"] is True
    assert verdict["pull: cost per record at 1,000,000 <= at 100,000"] is None   # needs --million

    slow = {"push": _result("push", 9_000, 1.0), "dlt": dlt, "pull": _result("pull", 5_999, 1.0)}
    verdict = {name: met for name, _, met in peers.targets(slow)}
    assert verdict["push >= 10,000 records/s"] is False
    assert verdict["push >= 2x dlt in the same run"] is False
    assert verdict["pull >= 6,000 records/s, fresh tables"] is False
    assert "NOT met" in peers.verdicts(peers.targets(slow))

    small, big = _result("pull", 100_000, 10.0), _result("pull", 1_000_000, 120.0)
    big.peak_rss_mb = 160.0
    scale = {"pull": (small, big)}
    verdict = {name: met for name, _, met in peers.targets({"pull": small}, scale)}
    assert verdict["pull: cost per record at 1,000,000 <= at 100,000"] is False   # 120 > 100 us
    assert verdict["pull: memory flat 100,000 -> 1,000,000"] is False           # 1.6x
    big.seconds, big.peak_rss_mb = 95.0, 120.0
    verdict = {name: met for name, _, met in peers.targets({"pull": small}, scale)}
    assert verdict["pull: cost per record at 1,000,000 <= at 100,000"] is True
    assert verdict["pull: memory flat 100,000 -> 1,000,000"] is True


def test_median_round():
    results = [_result("push", 1000, s) for s in (1.0, 4.0, 2.0)]
    assert peers.median_result(results).seconds == 2.0
    assert peers.median_result(results[:2]).seconds == 4.0    # the lower rate of two


def test_cpu_of_a_child_process_and_its_class():
    child = subprocess.Popen(["python3", "-c", "import time\nt = time.process_time()\n"
                              "while time.process_time() - t < 0.3: pass\ntime.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while (peers.proc_cpu_seconds(child.pid) or 0) < 0.25 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in peers.descendants(os.getpid())
        assert 0.25 <= (peers.proc_cpu_seconds(child.pid) or 0) < 5
    finally:
        child.kill()
        child.wait()
    assert peers.proc_cpu_seconds(child.pid) is None
    assert peers.classify("python -m gateway.cli serve --workers 3") == "gateway"
    assert peers.classify("python -m gunicorn tests.simulators.zyh365:wsgi_app()") == "simulator"
    assert peers.classify(f"{peers.PEERS_DIR}/dlt/bin/python dlt_load.py") == "peer"
    assert peers.classify("psql -X -f copy.sql") == "peer"
    assert peers.classify("sleep 1") is None


def test_local_ports_name_this_process_sockets_only():
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        assert port in peers.local_ports([os.getpid()])
        assert port not in peers.local_ports([1]) or os.getpid() == 1
    finally:
        server.close()
    assert port not in peers.local_ports([os.getpid()])
