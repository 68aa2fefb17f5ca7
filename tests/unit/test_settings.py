"""Settings: layering order, type checks, and start-up refusing a bad value with its name."""

import pytest

from gateway import create_app
from gateway.settings import SettingsError, load_settings


def _write(tmp_path, text):
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_fill_a_sqlite_store_in_the_instance_folder(tmp_path):
    settings = load_settings(str(tmp_path), environ={})
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
    assert settings["MAX_JSON_DEPTH"] == 32
    assert settings["DEV_TOKENS"] is False


def test_layers_file_then_environment_then_overrides(tmp_path):
    path = _write(tmp_path, "[gateway]\nmax_json_depth = 10\nmin_volunteer_age = 8\nlog_level = 'DEBUG'\n")
    env = {"GATEWAY_MAX_JSON_DEPTH": "20", "GATEWAY_CONFIG_FILE": str(path)}
    settings = load_settings(str(tmp_path), overrides={"LOG_LEVEL": "ERROR"}, environ=env)
    assert settings["MAX_JSON_DEPTH"] == 20          # environment beats the file
    assert settings["MIN_VOLUNTEER_AGE"] == 8        # the file beats the default
    assert settings["LOG_LEVEL"] == "ERROR"          # overrides beat everything


def test_shipped_config_file_is_valid_and_changes_nothing(tmp_path):
    from pathlib import Path

    shipped = Path(__file__).parents[2] / "config" / "gateway.toml"
    assert load_settings(str(tmp_path), environ={}, config_file=shipped) == load_settings(
        str(tmp_path), environ={})


@pytest.mark.parametrize("env, named", [
    ({"GATEWAY_MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES"),
    ({"GATEWAY_MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES"),
    ({"GATEWAY_TIMEZONE": "Mars/Olympus"}, "TIMEZONE"),
    ({"GATEWAY_DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"GATEWAY_NO_SUCH_SETTING": "1"}, "NO_SUCH_SETTING"),
    ({"GATEWAY_MIN_VOLUNTEER_AGE": "17", "GATEWAY_ADULT_AGE": "16"}, "MIN_VOLUNTEER_AGE"),
    ({"GATEWAY_DEV_TOKENS": "maybe"}, "DEV_TOKENS"),
])
def test_bad_setting_is_refused_by_name(tmp_path, env, named):
    with pytest.raises(SettingsError, match=named):
        load_settings(str(tmp_path), environ=env)


def test_bad_file_names_the_file(tmp_path):
    path = _write(tmp_path, "max_json_depth = 'deep'\n")
    with pytest.raises(SettingsError, match="MAX_JSON_DEPTH.*config file"):
        load_settings(str(tmp_path), environ={"GATEWAY_CONFIG_FILE": str(path)})
    broken = _write(tmp_path, "max_json_depth = \n")
    with pytest.raises(SettingsError, match="config file"):
        load_settings(str(tmp_path), environ={"GATEWAY_CONFIG_FILE": str(broken)})


def test_app_start_up_stops_on_a_bad_setting(monkeypatch):
    monkeypatch.setenv("GATEWAY_MAX_JSON_DEPTH", "-1")
    with pytest.raises(SettingsError, match="MAX_JSON_DEPTH"):
        create_app({"TESTING": True})


def test_vgw_reports_a_bad_setting_and_exits_2(tmp_path):
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "GATEWAY_TIMEZONE": "Nowhere/Land", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "config", "show"], env=env,
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "TIMEZONE" in proc.stderr and "Traceback" not in proc.stderr
