"""The configuration file: the example of `init` loads, bad files are refused naming the field."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from conformance_tests import cli
from conformance_tests.config import ConfigError, example_config, load_config


def _example_folder(tmp_path: Path) -> Path:
    """The example of `init` with the files it names made to exist."""
    assert cli.main(["init", str(tmp_path / "suite.toml")]) == 0
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "conformance.private.pem").write_text("not read at load time")
    (tmp_path / "keys" / "local-system.jwks.json").write_text('{"keys": []}')
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "volunteer.ndjson").write_text("{}\n")
    return tmp_path / "suite.toml"


def test_init_writes_a_commented_example_that_loads(tmp_path, capsys):
    path = _example_folder(tmp_path)
    assert "wrote" in capsys.readouterr().out
    config = load_config(path)
    assert config.system.roles == ("server", "data")
    assert config.server.private_key == (tmp_path / "keys" / "conformance.private.pem").resolve()
    assert config.server.jwks_url == "http://127.0.0.1:8080/.well-known/jwks.json"
    assert config.server.jwks_file is None
    assert config.scope.region_prefix == "1101"
    assert config.features["push"] is True
    assert config.client.jwks == ((tmp_path / "keys" / "local-system.jwks.json").resolve(),)
    assert config.data.paths() == [(tmp_path / "exports" / "volunteer.ndjson").resolve()]
    assert config.report.dir == (tmp_path / "conformance-report").resolve()
    assert config.statement.signing_key is None
    assert len(config.digest) == 64
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.system = None  # type: ignore[misc]
    assert cli.main(["init", str(path)]) == 2                   # never overwrites silently


def test_a_run_of_one_role_needs_only_that_roles_settings(tmp_path, capsys):
    """`init`'s example names export files and a key that are not there yet: `--role data`
    needs no suite key, `--role server` no export files; a run of every role needs both."""
    assert cli.main(["init", str(tmp_path / "suite.toml")]) == 0
    path = tmp_path / "suite.toml"
    with pytest.raises(ConfigError, match="server.private_key: file not found"):
        load_config(path)
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "volunteer.ndjson").write_text("{}\n")
    assert load_config(path, ("data",)).server.private_key is None
    (tmp_path / "exports" / "volunteer.ndjson").unlink()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "conformance.private.pem").write_text("not read at load time")
    config = load_config(path, ("server",))
    assert config.system.roles == ("server", "data"), "the file's roles stay as written"
    with pytest.raises(ConfigError, match="data.files: no file matches exports/"):
        load_config(path)
    with pytest.raises(ConfigError, match="data.files: no file matches exports/"):
        load_config(path, ("server", "data"))
    # the command line passes --role on: refused before any test, not for the missing files
    capsys.readouterr()
    assert cli.main(["run", "--config", str(path), "--role", "server"]) == 2
    assert "data.files" not in capsys.readouterr().err


def test_every_field_of_the_example_has_a_comment():
    lines = example_config().splitlines()
    doc = tomllib.loads(example_config())
    for i, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            assert lines[i - 1].lstrip().startswith("#"), f"no comment above: {line}"
    assert set(doc) == {"system", "server", "scope", "features", "client", "data", "report",
                        "statement"}


@pytest.mark.parametrize(("edit", "message"), [
    (('private_key = "keys/conformance.private.pem"', 'private_key = "keys/missing.pem"'),
     "server.private_key: file not found (keys/missing.pem)"),
    (('base_url = "http://127.0.0.1:8080"', 'base_url = "127.0.0.1:8080"'),
     "system.base_url: must be an http(s) URL"),
    (('roles = ["server", "data"]', 'roles = ["server", "proxy"]'), "system.roles: unknown role 'proxy'"),
    (('push = true', 'push = "yes"'), 'features.push: must be true, false or "unknown"'),
    (('algorithm = "ed25519"', 'algorithm = "rsa"'), "server.algorithm: must be one of"),
    (('region_prefix = "1101"\n# The entities', 'region_prefix = "11x1"\n# The entities'),
     "scope.region_prefix: must be 2, 4 or 6 digits"),
    (('region_prefix = "1101"\n# The entities', 'region_prefix = "9999"\n# The entities'),
     "scope.region_prefix: no current county code starts with '9999'"),
    (('entities = ["volunteer"', 'entities = ["volunter"'), "scope.entities: unknown entity 'volunter'"),
    (('port = 8765', 'port = 70000'), "client.port: must be between 0 and 65535"),
    (('timeout_seconds = 30', 'timeout_seconds = -1'), "system.timeout_seconds: must be a positive"),
    (('files = ["exports/*.ndjson"]', 'files = ["exports/*.csv"]'), "data.files: no file matches"),
    (('dir = "conformance-report"', 'dir = "r"\ncolour = "blue"'), "report.colour: unknown setting"),
    (('signing_key = ""', 'signing_key = "keys/local-system.jwks.json"'),
     "statement.signing_key: local-system.jwks.json is not an unencrypted Ed25519 private key"),
    (('[scope]', 'scope = 1\n[scopes]'), "scopes: unknown setting"),
    (('name = "Example provincial platform"', 'name = 7'), "system.name: must be a string, not int"),
    (('validator_url = "http://127.0.0.1:8080"', ''), "data.validator_url: required"),
    (('jwks = "/.well-known/jwks.json"', 'jwks = "keys/none.json"'), "server.jwks: file not found"),
])
def test_a_bad_file_is_refused_naming_the_field(tmp_path, edit, message):
    path = _example_folder(tmp_path)
    text = path.read_text()
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(message), str(info.value)


def test_unreadable_toml_and_the_command_line_exit_2(tmp_path, capsys):
    path = tmp_path / "broken.toml"
    path.write_text("[system\nname = ")
    with pytest.raises(ConfigError, match="^config: .* is not valid TOML"):
        load_config(path)
    assert cli.main(["run", "--config", str(path)]) == 2
    assert "bad configuration" in capsys.readouterr().err
    assert cli.main(["run", "--config", str(tmp_path / "absent.toml")]) == 2


def test_a_feature_left_out_or_unknown_is_null_and_a_jwks_file_is_a_file(tmp_path):
    path = _example_folder(tmp_path)
    text = path.read_text().replace("feed = true\n", "").replace("push = true", 'push = "unknown"')
    text = text.replace('jwks = "/.well-known/jwks.json"', 'jwks = "keys/local-system.jwks.json"')
    path.write_text(text)
    config = load_config(path)
    assert config.features["feed"] is None and config.features["push"] is None
    assert config.server.jwks_file == (tmp_path / "keys" / "local-system.jwks.json").resolve()
    assert config.server.jwks_url is None
    public = config.public_dict()
    assert public["server"]["private_key"] is True          # whether a key is set, not where
    assert "conformance.private.pem" not in str(public)


def test_a_server_only_file_need_not_have_the_client_roles_key_files(tmp_path, capsys):
    """The example from init, cut to the server role, loads without keys/local-system.jwks.json."""
    path = _example_folder(tmp_path)
    (tmp_path / "keys" / "local-system.jwks.json").unlink(missing_ok=True)
    text = path.read_text(encoding="utf-8").replace('roles = ["server", "data"]', 'roles = ["server"]')
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    assert config.system.roles == ("server",)
    with_client = text.replace('roles = ["server"]', 'roles = ["server", "client"]')
    path.write_text(with_client, encoding="utf-8")
    with pytest.raises(ConfigError, match="client.jwks"):
        load_config(path)


def test_the_schema_version_is_1_by_default_2_on_request_and_nothing_else(tmp_path, capsys):
    from conformance_tests.config import with_schema_version

    path = _example_folder(tmp_path)
    config = load_config(path)
    assert config.server.schema_version == "1"
    v2 = with_schema_version(config, "2")
    assert v2.server.schema_version == "2" and v2.digest != config.digest   # part of the digest
    path.write_text(path.read_text("utf-8").replace('schema_version = "1"', 'schema_version = "2"'),
                    "utf-8")
    assert load_config(path).server.schema_version == "2"
    for bad in ('"3"', '"v2"', "2"):
        path.write_text(path.read_text("utf-8").replace('schema_version = "2"',
                                                        f"schema_version = {bad}"), "utf-8")
        with pytest.raises(ConfigError) as refused:
            load_config(path)
        assert refused.value.field == "server.schema_version"
        path.write_text(path.read_text("utf-8").replace(f"schema_version = {bad}",
                                                        'schema_version = "2"'), "utf-8")
    with pytest.raises(ConfigError):
        with_schema_version(config, "3")
    with pytest.raises(SystemExit):                                 # argparse's refusal
        cli.main(["run", "--config", str(path), "--schema-version", "3"])
    assert "invalid choice" in capsys.readouterr().err
