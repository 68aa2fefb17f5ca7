"""``vgw validate FILE``: exit status, per-record report in text and JSON, streaming paths."""

import orjson
import pytest

from gateway.standard import files
from tests import factories


def _ndjson(path, records):
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def _json_lines(output):
    return [orjson.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_all_valid_exits_0(runner, tmp_path):
    path = _ndjson(tmp_path / "ok.ndjson", [factories.volunteer(), factories.volunteer()])
    result = runner.invoke(args=["validate", "--entity", "volunteer", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 records, 2 valid, 0 invalid" in result.output


def test_some_invalid_exits_1_and_reports_each_error(runner, tmp_path):
    path = _ndjson(tmp_path / "mixed.ndjson",
                   [factories.volunteer(), factories.volunteer(mobile="1", id_number="110105194912310021")])
    result = runner.invoke(args=["validate", "-e", "volunteer", str(path)])
    assert result.exit_code == 1
    assert "record 1 (line 2): invalid" in result.output
    assert "/mobile  schema.pattern" in result.output
    assert "/id_number  citizen_id.checksum" in result.output
    assert "110105194912310021" not in result.output


def test_json_format_is_one_result_per_line_then_a_summary(runner, tmp_path):
    path = _ndjson(tmp_path / "mixed.ndjson", [factories.volunteer(gender="5"), factories.volunteer()])
    result = runner.invoke(args=["validate", "-e", "volunteer", "--format", "json", "--show-valid",
                                 str(path)])
    rows = _json_lines(result.output)
    assert [r.get("valid") for r in rows[:2]] == [False, True]
    assert rows[0]["errors"][0]["rule"] == "code.unknown" and rows[0]["line"] == 1
    assert rows[-1]["summary"]["errors_by_rule"] == {"code.unknown": 1}
    assert rows[-1]["summary"]["invalid"] == 1


def test_json_array_file_is_streamed(runner, tmp_path):
    path = tmp_path / "many.json"
    path.write_bytes(orjson.dumps([factories.volunteer() for _ in range(300)] + [{"name": 1}]))
    result = runner.invoke(args=["validate", "-e", "volunteer", str(path)])
    assert result.exit_code == 1
    assert "301 records, 300 valid, 1 invalid" in result.output


def test_batch_envelope_needs_no_entity(runner, tmp_path):
    path = tmp_path / "batch.json"
    path.write_bytes(orjson.dumps(factories.batch()))
    result = runner.invoke(args=["validate", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("records_valid", [True, False])
def test_large_envelope_is_streamed(runner, tmp_path, monkeypatch, records_valid):
    monkeypatch.setattr(files, "WHOLE_FILE_LIMIT", 100)  # force the streaming path
    envelope = factories.batch()
    if not records_valid:
        envelope["records"][0]["data"]["gender"] = "7"
    path = tmp_path / "batch.json"
    path.write_bytes(orjson.dumps(envelope))
    result = runner.invoke(args=["validate", "--format", "json", str(path)])
    assert result.exit_code == (0 if records_valid else 1), result.output
    summary = _json_lines(result.output)[-1]["summary"]
    assert summary["total"] == len(envelope["records"]) and summary["envelope_valid"]


@pytest.mark.parametrize("content", [b'[{"name": "x"}, {"na', b'{"name": "\xff"}', b"hello", b"[1,2"])
def test_unreadable_file_exits_2(runner, tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    result = runner.invoke(args=["validate", "-e", "volunteer", str(path)])
    assert result.exit_code == 2, result.output
    assert "cannot be read" in result.output


def test_missing_file_exits_2(runner, tmp_path):
    result = runner.invoke(args=["validate", "-e", "volunteer", str(tmp_path / "nope.json")])
    assert result.exit_code == 2


def test_unknown_entity_and_version_are_usage_errors(runner, tmp_path):
    path = _ndjson(tmp_path / "ok.ndjson", [factories.volunteer()])
    assert "unknown entity" in runner.invoke(args=["validate", "-e", "martian", str(path)]).output
    result = runner.invoke(args=["validate", "-e", "volunteer", "--schema-version", "7", str(path)])
    assert result.exit_code == 2 and "not supported" in result.output


def test_progress_bar_can_be_forced(runner, tmp_path):
    path = _ndjson(tmp_path / "ok.ndjson", [factories.volunteer() for _ in range(50)])
    result = runner.invoke(args=["validate", "-e", "volunteer", "--progress", str(path)])
    assert result.exit_code == 0
    assert "validating" in result.output  # the bar is drawn (on stderr, mixed in by the runner)


def test_stdin(runner):
    data = orjson.dumps(factories.volunteer()) + b"\n"
    result = runner.invoke(args=["validate", "-e", "volunteer", "--ndjson", "-"], input=data)
    assert result.exit_code == 0, result.output
