"""SIGNATURE_WINDOW_SECONDS and SIGNATURE_CLOCK_SKEW_SECONDS: declared, defaulted, checked."""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, load_settings


def test_defaults(tmp_path):
    settings = load_settings(str(tmp_path), environ={})
    assert (settings["SIGNATURE_WINDOW_SECONDS"], settings["SIGNATURE_CLOCK_SKEW_SECONDS"]) == (300, 30)


def test_environment_sets_them(tmp_path):
    settings = load_settings(str(tmp_path), environ={"GATEWAY_SIGNATURE_WINDOW_SECONDS": "120",
                                                     "GATEWAY_SIGNATURE_CLOCK_SKEW_SECONDS": "0"})
    assert (settings["SIGNATURE_WINDOW_SECONDS"], settings["SIGNATURE_CLOCK_SKEW_SECONDS"]) == (120, 0)


@pytest.mark.parametrize("name, value", [("SIGNATURE_WINDOW_SECONDS", "0"),
                                         ("SIGNATURE_WINDOW_SECONDS", "soon"),
                                         ("SIGNATURE_CLOCK_SKEW_SECONDS", "-1")])
def test_bad_values_are_refused_by_name(tmp_path, name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings(str(tmp_path), environ={f"GATEWAY_{name}": value})
