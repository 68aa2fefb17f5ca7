"""Reports of a run: results.json as the source, JUnit XML read by junitparser, the HTML
report rendered by Chromium (screenshot in build/conformance-screenshots/, gitignored), and
ID / mobile numbers masked everywhere."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from conformance_tests import registry as reg_mod
from conformance_tests.config import load_config
from conformance_tests.context import Exchange
from conformance_tests.masking import mask
from conformance_tests.outcomes import Fail, Skip
from conformance_tests.registry import Registry, Requirement
from conformance_tests.reporters import write_reports
from conformance_tests.runner import run

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "conformance-screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ID_NUMBER = "110101199003077351"
MOBILE = "13912345678"


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    folder = tmp_path_factory.mktemp("reporters")
    (folder / "a.ndjson").write_text("{}\n")
    (folder / "suite.toml").write_text(f"""
[system]
name = "Report test system <省级平台>"
roles = ["data"]
[data]
files = ["*.ndjson"]
validator_url = "http://127.0.0.1:{server.server_address[1]}"
[features]
feed = false
[report]
dir = "report"
""")
    config = load_config(folder / "suite.toml")
    body = json.dumps({"id_number": ID_NUMBER, "mobile": MOBILE, "name": "张三"},
                      ensure_ascii=False).encode()

    def sent(ctx):
        ctx.record_exchange(Exchange("POST", "http://sut.example/api/v1/exchange/batches",
                                     {"Content-Type": "application/json"}, body, 422,
                                     {"Content-Type": "application/problem+json"},
                                     json.dumps({"errors": [{"pointer": "/records/0/data/mobile",
                                                             "rule": "schema.pattern",
                                                             "detail": f"got {MOBILE}"}]}).encode()))
        raise Fail(f"the record of {ID_NUMBER} was refused", expected=200, observed=422)

    def ok(ctx):
        ctx.note("answer", {"mobile": MOBILE})

    def boom(ctx):
        raise RuntimeError("connection reset")

    def skip(ctx):
        raise Skip("the system declares no body limit")

    reqs = {"EXC-T-01": Requirement("EXC-T-01", "A valid push is accepted.", "docs/protocol.md, Push"),
            "EXC-T-02": Requirement("EXC-T-02", "The feed pages.", "docs/protocol.md, Pull")}
    tests = [
        reg_mod.TestCase("data.push.accepted", "A valid push is accepted", "data", "data.push",
                         ("EXC-T-01",), (), sent),
        reg_mod.TestCase("data.push.answer", "The answer is signed", "data", "data.push",
                         ("EXC-T-01",), (), ok),
        reg_mod.TestCase("data.push.crash", "It does not crash", "data", "data.push",
                         ("EXC-T-01",), (), boom),
        reg_mod.TestCase("data.limits.body", "Big bodies are refused", "data", "data.limits",
                         ("EXC-T-01",), (), skip),
        reg_mod.TestCase("data.feed.pages", "The feed pages", "data", "data.feed",
                         ("EXC-T-02",), ("feed",), ok),
    ]
    results = run(config, Registry(reqs, {t.id: t for t in tests}), out=lambda line: None).to_dict()
    paths = write_reports(results, config.report.dir)
    server.shutdown()
    server.server_close()
    return paths


def test_results_json_is_the_source_and_masks_personal_data(report):
    raw = report["json"].read_text("utf-8")
    data = json.loads(raw)
    assert ID_NUMBER not in raw and MOBILE not in raw
    assert "110101***********1" in raw and "139****5678" in raw
    assert data["format"] == "vgw-conformance-results/1"
    assert data["summary"] == {"fail": 1, "error": 1, "pass": 1, "skip": 1, "omit": 1, "total": 5}
    test = next(t for t in data["tests"] if t["id"] == "data.push.accepted")
    assert test["requirements"] == [{"id": "EXC-T-01", "text": "A valid push is accepted.",
                                     "source": "docs/protocol.md, Push"}]
    ex = test["evidence"][0]
    assert ex["method"] == "POST" and ex["status"] == 422
    assert json.loads(ex["request_body"]["text"])["name"] == "张三"
    assert set(data) >= {"suite_version", "system", "config_digest", "started_at", "finished_at"}


def test_junit_xml_is_read_by_junitparser(report):
    xml = JUnitXml.fromfile(str(report["junit"]))
    suites = {s.name: s for s in xml}
    assert set(suites) == {"data.push", "data.limits", "data.feed"}
    push = suites["data.push"]
    assert (push.tests, push.failures, push.errors, push.skipped) == (3, 1, 1, 0)
    assert {p.name: p.value for p in push.properties()} == {
        "requirement:EXC-T-01": "A valid push is accepted."}
    cases = {c.name: c for s in xml for c in s}
    accepted = cases["data.push.accepted"]
    assert accepted.classname == "data.push"
    (failure,) = accepted.result
    assert isinstance(failure, Failure)
    assert "expected: 200" in failure.text and "observed: 422" in failure.text
    assert ID_NUMBER not in failure.message
    assert isinstance(cases["data.push.crash"].result[0], Error)
    assert isinstance(cases["data.limits.body"].result[0], Skipped)
    assert cases["data.feed.pages"].result[0].message.startswith("omitted: feature 'feed'")
    assert cases["data.push.answer"].is_passed
    assert ID_NUMBER not in report["junit"].read_text("utf-8")


def test_the_html_report_in_chromium(report):
    html = report["html"].read_text("utf-8")
    assert ID_NUMBER not in html and MOBILE not in html
    assert "<link" not in html and "<script" not in html and "http-equiv" not in html
    assert "src=" not in html                                 # no external assets at all
    assert html.index("data.push.accepted") < html.index("data.push.answer")   # failures first
    assert "A valid push is accepted." in html and "&lt;省级平台&gt;" in html
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "report.png"
    shot.unlink(missing_ok=True)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--disable-extensions", f"--user-data-dir={report['html'].parent / 'chromium'}"]
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1280,1800",
                    report["html"].as_uri()], check=True, capture_output=True, timeout=90)
    assert shot.stat().st_size > 10_000
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", report["html"].as_uri()], check=True,
                         capture_output=True, timeout=90, text=True).stdout
    assert "Failures and errors" in dom and "139****5678" in dom


@pytest.mark.parametrize(("text", "masked"), [
    ("id 110101199003077351 ok", "id 110101***********1 ok"),
    ("x 11010119900307735X.", "x 110101***********X."),
    ('{"mobile":"13812345678"}', '{"mobile":"138****5678"}'),
    ("ts 1733150000123456789 and 12345678901 and 1381234567890", "ts 1733150000123456789 and "
     "12345678901 and 1381234567890"),
    ("V1101082612845620W", "V1101082612845620W"),
])
def test_masking(text, masked):
    assert mask(text) == masked
