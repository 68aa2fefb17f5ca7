"""The data role against a real gateway: its validation API served on 127.0.0.1 by werkzeug.

Also proves the suite's generated test data valid: DataFactory's records go through the
gateway's own validation (schemas/v1 and every rule of docs/rules.md).
"""

from __future__ import annotations

import json
import threading

import pytest
import requests

from conformance_tests import cli
from conformance_tests.datagen import DataFactory

ENTITIES = ("volunteer", "team", "project", "service_record")


@pytest.fixture
def gateway_url(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def _records(factory: DataFactory) -> dict[str, list[dict]]:
    return {
        "volunteer": [factory.volunteer() for _ in range(5)] + [factory.volunteer(gender="2")],
        "team": [factory.team() for _ in range(3)],
        "project": [factory.project("T110101000001") for _ in range(2)],
        "service_record": [factory.service_record(factory.volunteer_no(), "P110101000001")
                           for _ in range(4)],
    }


@pytest.mark.parametrize("prefix", ["1101", "44", "310115"])
def test_generated_records_are_valid_for_the_gateway(gateway_url, prefix):
    factory = DataFactory("gen1", prefix, seed=7)
    for entity, records in _records(factory).items():
        answer = requests.post(f"{gateway_url}/api/v1/validate/{entity}", json=records, timeout=30)
        assert answer.status_code == 200
        bad = [r for r in answer.json()["results"] if not r["valid"]]
        assert bad == [], f"{entity}: {bad}"
        for record in records:
            for field in ("residence_area", "service_area", "area"):
                if field in record:
                    assert record[field].startswith(prefix)
    items = [factory.record("volunteer", factory.volunteer()), factory.record("team", factory.team())]
    batch = factory.batch(items, sender="conformance")
    answer = requests.post(f"{gateway_url}/api/v1/validate/batch", json=batch, timeout=30).json()
    assert answer["valid"], answer
    assert not factory.out_of_scope_region().startswith(prefix[:2])
    assert all(r["source_id"].startswith("conf-gen1-") for rs in _records(factory).values() for r in rs)


def _export_folder(tmp_path, gateway_url, factory, *, broken: bool = False):
    from adapters import national

    exports = tmp_path / "exports"
    exports.mkdir()
    recs = _records(factory)
    volunteers = recs["volunteer"]
    teams = recs["team"]
    hours = recs["service_record"]
    if broken:
        vid = volunteers[1]["id_number"]
        volunteers[1]["id_number"] = vid[:17] + ("0" if vid[17] != "0" else "1")  # checksum
        volunteers[2]["service_area"] = "110103"          # abolished (崇文区)
        teams[0]["uscc"] = teams[0]["uscc"][:17] + ("0" if teams[0]["uscc"][17] != "0" else "1")
        hours[0]["hours"] = hours[0]["hours"] + 1          # does not match start / end
    (exports / "volunteer.ndjson").write_text(
        "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in volunteers[:3]), encoding="utf-8")
    (exports / "teams.json").write_text(json.dumps(teams, ensure_ascii=False), encoding="utf-8")
    items = [factory.record("project", p) for p in recs["project"]] + [
        factory.record("service_record", h) for h in hours]
    items.append(factory.record("volunteer", {"source_id": "gone-1"}, op="delete"))
    (exports / "batch-0001.json").write_text(
        json.dumps(factory.batch(items, sender="local-system-01"), ensure_ascii=False), encoding="utf-8")
    natives = {}
    for i, v in enumerate(volunteers[3:]):
        native = national.from_standard("volunteer", v)
        natives[f"v-{i}"] = {"seq": i + 1, "op": "upsert", "native": native}
    if broken:
        first = natives["v-0"]["native"]
        first["albp0008"] = "77"                          # no such ethnicity code
        first["albe0002"] = "a team field in a volunteer table"
    (exports / "lbp01.json").write_text(json.dumps(
        {"format": "vgw-national/1", "entity": "volunteer", "table": "LBP01", "seq": len(natives),
         "records": natives}, ensure_ascii=False), encoding="utf-8")
    config = tmp_path / "suite.toml"
    config.write_text(f"""
[system]
name = "Export files of a local system"
roles = ["data"]
[data]
files = ["exports/*.ndjson", "exports/*.json"]
validator_url = "{gateway_url}"
[report]
dir = "report"
""", encoding="utf-8")
    return config, volunteers


def test_data_role_passes_on_valid_exports_of_every_format(tmp_path, gateway_url, capsys):
    config, _ = _export_folder(tmp_path, gateway_url, DataFactory("good", "1101", seed=3))
    assert cli.main(["run", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "[1/13]" in out and "data.records.valid … pass" in out
    results = json.loads((tmp_path / "report" / "results.json").read_text("utf-8"))
    outcomes = {t["id"]: t["outcome"] for t in results["tests"]}
    assert set(outcomes.values()) == {"pass"}, outcomes
    summary = next(e["value"] for t in results["tests"] for e in t["evidence"]
                   if e["kind"] == "note" and e["label"] == "data summary")
    by_file = {s["file"]: s for s in summary}
    assert {f: (s["format"], s["records"], s["valid"]) for f, s in by_file.items()} == {
        "exports/volunteer.ndjson": ("ndjson", 3, 3),
        "exports/teams.json": ("json array", 3, 3),
        "exports/batch-0001.json": ("batch envelope", 7, 6),
        "exports/lbp01.json": ("national", 3, 3),
    }
    assert by_file["exports/batch-0001.json"]["not_checked"] == 1     # the deletion


def test_data_role_names_each_broken_requirement_and_record(tmp_path, gateway_url, capsys):
    config, volunteers = _export_folder(tmp_path, gateway_url, DataFactory("bad", "1101", seed=4),
                                        broken=True)
    assert cli.main(["run", "--config", str(config)]) == 1
    results = json.loads((tmp_path / "report" / "results.json").read_text("utf-8"))
    outcomes = {t["id"]: t["outcome"] for t in results["tests"]}
    failing = {k for k, v in outcomes.items() if v != "pass"}
    assert failing == {"data.volunteers.citizen_id", "data.records.regions", "data.teams.rules",
                       "data.service_records.rules", "data.records.codes", "data.national.codes",
                       "data.records.valid"}, outcomes
    tests = {t["id"]: t for t in results["tests"]}
    cid = tests["data.volunteers.citizen_id"]
    assert cid["requirements"][0]["id"] == "DAT-ID-01"
    assert "exports/volunteer.ndjson: line 2 /id_number citizen_id.checksum" in cid["message"]
    codes = tests["data.records.codes"]["observed"]
    assert any(o.startswith("exports/lbp01.json: LBP01 id v-0 /albp0008 code.unknown") for o in codes)
    nat = tests["data.national.codes"]["observed"]
    assert any("/albe0002 mapping.foreign_code" in o for o in nat)
    assert "record 2 /data/hours service_record.hours_within_duration" in tests["data.service_records.rules"]["message"]
    raw = (tmp_path / "report" / "results.json").read_text("utf-8")
    for v in volunteers:                                 # personal data never in the report
        assert v["id_number"] not in raw and v["mobile"] not in raw
    html = (tmp_path / "report" / "report.html").read_text("utf-8")
    assert volunteers[0]["id_number"] not in html and volunteers[0]["id_number"][:6] in html


def test_the_data_report_in_chromium(tmp_path, gateway_url, capsys):
    import shutil
    import subprocess
    from pathlib import Path

    config, volunteers = _export_folder(tmp_path, gateway_url, DataFactory("shot", "1101", seed=5),
                                        broken=True)
    assert cli.main(["run", "--config", str(config)]) == 1
    page = tmp_path / "report" / "report.html"
    html = page.read_text("utf-8")
    assert "Export files: per file, per record" in html and "LBP01 id v-0" in html
    shots = Path(__file__).resolve().parents[2] / "build" / "conformance-screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "data-report.png"
    shot.unlink(missing_ok=True)
    subprocess.run([shutil.which("chromium") or "/usr/bin/chromium", "--headless", "--no-sandbox",
                    "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'chromium'}",
                    f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
                   check=True, capture_output=True, timeout=90)
    assert shot.stat().st_size > 10_000


def test_data_role_in_schema_version_2_checks_files_against_v2(tmp_path, gateway_url, capsys):
    """The same export file with v2-only members: refused in version 1 (v1 has no such
    field), valid with ``--schema-version 2``, whose validator calls ask ``?version=2``."""
    factory = DataFactory("v2", "1101", seed=5)
    exports = tmp_path / "exports"
    exports.mkdir()
    lines = [dict(factory.volunteer(), native_place="北京", service_fields=["0003"])
             for _ in range(2)]
    (exports / "volunteer.ndjson").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    config = tmp_path / "suite.toml"
    config.write_text(f"""[system]
name = "v2 export files"
roles = ["data"]
[data]
files = ["exports/*.ndjson"]
validator_url = "{gateway_url}"
[report]
dir = "report"
""", encoding="utf-8")
    assert cli.main(["run", "--config", str(config)]) == 1
    results = json.loads((tmp_path / "report" / "results.json").read_text("utf-8"))
    assert results["schema_version"] == "1"
    assert "schema.additionalProperties" in json.dumps(results, ensure_ascii=False)
    assert cli.main(["run", "--config", str(config), "--schema-version", "2"]) == 0
    capsys.readouterr()
    results = json.loads((tmp_path / "report" / "results.json").read_text("utf-8"))
    assert results["schema_version"] == "2"
    assert {t["outcome"] for t in results["tests"]} <= {"pass", "skip"}, results["tests"]
    urls = [e["url"] for t in results["tests"] for e in t["evidence"] if e.get("kind") == "exchange"]
    assert urls and all(u.endswith("/volunteer?version=2") for u in urls), urls
