"""`vgw validate -`: standard input works for every format the command accepts, piped or
redirected, told apart by content as files without a telling suffix are."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from gateway.standard.files import looks_like_ndjson
from tests import factories

ROOT = Path(__file__).resolve().parents[3]


def _vgw(args, tmp_path, *, stdin=None, input=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_KEYS_DIR"] = str(tmp_path / "keys")
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=ROOT, env=env,
                          stdin=stdin, input=input, capture_output=True)
    proc.stdout, proc.stderr = proc.stdout.decode(), proc.stderr.decode()
    return proc


BAD = factories.volunteer(mobile="12345")
GOOD = factories.volunteer()
CASES = {
    "one object": (orjson.dumps(GOOD), ["-e", "volunteer"], "1 records, 1 valid, 0 invalid"),
    "pretty object": (orjson.dumps(GOOD, option=orjson.OPT_INDENT_2), ["-e", "volunteer"],
                      "1 records, 1 valid, 0 invalid"),
    "array": (orjson.dumps([GOOD, BAD]), ["-e", "volunteer"], "2 records, 1 valid, 1 invalid"),
    "ndjson": (orjson.dumps(GOOD) + b"\n" + orjson.dumps(BAD) + b"\n", ["-e", "volunteer"],
               "2 records, 1 valid, 1 invalid"),
    "batch envelope": (orjson.dumps(factories.batch()), [], "records, "),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_piped_stdin(case, tmp_path):
    body, args, summary = CASES[case]
    # input= is a real pipe (not seekable): the old code crashed with "OSError: Illegal seek".
    result = _vgw(["validate", *args, "-"], tmp_path, input=body)
    assert "Traceback" not in result.stderr, result.stderr
    assert summary in result.stdout, result.stdout + result.stderr
    assert result.returncode == (1 if "1 invalid" in summary else 0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_redirected_file_reads_as_the_file_does(case, tmp_path):
    body, args, summary = CASES[case]
    path = tmp_path / "input"
    path.write_bytes(body)
    with path.open("rb") as stdin:
        result = _vgw(["validate", *args, "-"], tmp_path, stdin=stdin)
    assert summary in result.stdout, result.stdout + result.stderr
    if case == "ndjson":
        assert "record 1 (line 2): invalid" in result.stdout


def test_ndjson_file_without_a_suffix_is_told_by_content(runner, tmp_path):
    path = tmp_path / "export.txt"
    path.write_bytes(orjson.dumps(GOOD) + b"\n" + orjson.dumps(BAD) + b"\n")
    result = runner.invoke(args=["validate", "-e", "volunteer", str(path)])
    assert "record 1 (line 2): invalid" in result.output


@pytest.mark.parametrize("body, ndjson", [
    (b'{"a":1}\n{"a":2}\n', True), (b'\n\n{"a":1}\r\n{"a":2}', True), (b'{"a":1}\n', False),
    (b'{\n "a": 1\n}\n', False), (b'[{"a":1},\n{"a":2}]\n', False), (b'{"a":1}', False),
    (b'{"a":\n1}\n{"b":2}\n', False),
])
def test_content_rule(body, ndjson, tmp_path):
    path = tmp_path / "x"
    path.write_bytes(body)
    with path.open("rb") as stream:
        stream.read(0)
        assert looks_like_ndjson(stream) is ndjson
        assert stream.tell() == 0
