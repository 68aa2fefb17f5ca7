"""POPULATION_FILE: the shipped example loads; a bad file stops start-up naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings, read_population_file

EXAMPLE = Path(__file__).parents[3] / "config" / "population.example.csv"


def test_the_shipped_example_is_marked_and_loads(tmp_path):
    assert "EXAMPLE FIGURES ONLY" in EXAMPLE.read_text(encoding="utf-8")
    figures = read_population_file(EXAMPLE)
    assert figures["44"] > 100_000_000 and "4401" in figures
    settings = load_settings(str(tmp_path), environ={"GATEWAY_POPULATION_FILE": str(EXAMPLE)})
    assert settings["POPULATION_FILE"] == str(EXAMPLE)


@pytest.mark.parametrize("content, message", [
    ("region,people\n44,1\n", "header"),
    ("code,population\n4,100\n", "line 2: region code"),
    ("code,population\n44,-5\n", "line 2: population"),
    ("code,population\n# comment\n44,10\n44,20\n", "line 4: region 44 is listed twice"),
])
def test_a_bad_file_is_refused_at_start_up(tmp_path, content, message):
    path = tmp_path / "population.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match=f"POPULATION_FILE.*{message}"):
        load_settings(str(tmp_path), environ={"GATEWAY_POPULATION_FILE": str(path)})


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="POPULATION_FILE: cannot read"):
        load_settings(str(tmp_path), environ={"GATEWAY_POPULATION_FILE": str(tmp_path / "none.csv")})
