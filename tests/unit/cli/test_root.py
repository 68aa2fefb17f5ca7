"""The lazy ``vgw`` root group: nothing imported, built or created before a command needs it."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[3]


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_KEYS_DIR"] = str(tmp_path / "keys")
    env["GATEWAY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return env


def test_importing_the_root_imports_neither_flask_nor_sqlalchemy():
    code = ("import sys, gateway.cli; "
            "print(sorted(m for m in ('flask', 'sqlalchemy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_help_lists_the_products_commands_only_and_creates_nothing(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "--help"], cwd=ROOT,
                          env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for name in [*COMMANDS, "sources", "sync", "scheduler"]:
        assert f"\n  {name} " in proc.stdout
    for flask_generic in ("\n  run ", "\n  shell ", "\n  routes ", "--app", "--debug", "--env-file"):
        assert flask_generic not in proc.stdout
    # No personal-data keys, no store: nothing happened but the help text.
    assert not (tmp_path / "keys").exists() and not (tmp_path / "store.sqlite3").exists()
    assert proc.stderr == ""


@pytest.mark.parametrize("name", sorted(n for n, (t, _) in COMMANDS.items() if not t.startswith("app.cli")))
def test_the_tables_help_line_is_the_commands_own(name):
    module, _, attr = COMMANDS[name][0].partition(":")
    command = getattr(importlib.import_module(module), attr)
    assert command.name == name or not module.startswith("gateway.")
    assert COMMANDS[name][1] == command.get_short_help_str(limit=300)


@pytest.mark.parametrize("name", [*sorted(COMMANDS), "sources", "sync", "scheduler"])
def test_every_command_is_reachable_by_its_name(name, tmp_path, monkeypatch):
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: cli {name}" in result.output or f"Usage: vgw {name}" in result.output


def test_a_command_builds_the_app_when_it_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "config", "show"], cwd=ROOT,
                          env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"sqlite:///{tmp_path / 'store.sqlite3'}" in proc.stdout


def test_an_unknown_command_is_a_usage_error_without_building_the_app(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "no-such-command"], cwd=ROOT,
                          env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 2 and "No such command" in proc.stderr
    assert not (tmp_path / "keys").exists()


def test_validate_runs_without_building_the_app(tmp_path):
    """`vgw validate` reads the settings only: no store, no keys, no Flask extensions."""
    path = tmp_path / "one.json"
    path.write_text('{"name":"王芳","id_type":"01","id_number":"11010519491231002X","gender":"2",'
                    '"mobile":"13800138000","service_area":"110105"}', encoding="utf-8")
    code = ("import sys\nfrom gateway.cli import main\nsys.argv=['vgw','validate','-e','volunteer',"
            f"{str(path)!r}]\ntry:\n    main()\nexcept SystemExit as e:\n"
            "    print('exit', e.code, 'sqlalchemy' in sys.modules, 'flask_smorest' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(tmp_path),
                          capture_output=True, text=True)
    assert proc.stdout.splitlines()[-1] == "exit 0 False False", proc.stdout + proc.stderr
    assert not (tmp_path / "keys").exists()
