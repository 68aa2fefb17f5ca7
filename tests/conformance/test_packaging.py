"""The suite installs on its own: `pip install ./conformance_tests` into a fresh venv gives
`vgw-conformance` without the gateway or its server dependencies (Flask, SQLAlchemy)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "conformance_tests"


def test_the_standalone_distribution_lists_every_package():
    project = tomllib.loads((SUITE / "pyproject.toml").read_text("utf-8"))
    listed = set(project["tool"]["setuptools"]["packages"])
    found = {"conformance_tests" + "".join("." + p for p in d.relative_to(SUITE).parts)
             for d in [SUITE, *SUITE.rglob("*")] if d.is_dir() and (d / "__init__.py").exists()}
    assert listed == found, "conformance_tests/pyproject.toml: update [tool.setuptools] packages"
    assert project["project"]["scripts"]["vgw-conformance"] == "conformance_tests.cli:main"


@pytest.mark.slow
def test_pip_install_of_the_suite_alone(tmp_path):
    source = tmp_path / "src"
    # a copy, so that the in-tree build leaves nothing in the working tree
    shutil.copytree(SUITE, source, ignore=shutil.ignore_patterns("__pycache__", "build",
                                                                 "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(source)],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-2000:]
    exe = venv / "bin" / "vgw-conformance"
    helped = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "usage: vgw-conformance" in helped.stdout
    listed = subprocess.run([str(exe), "requirements"], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert listed.returncode == 0 and "DAT-ID-01" in listed.stdout, listed.stderr
    init = subprocess.run([str(exe), "init", str(tmp_path / "suite.toml")], capture_output=True,
                          text=True, timeout=60)
    assert init.returncode == 0 and (tmp_path / "suite.toml").is_file()
    python = str(venv / "bin" / "python")
    for module in ("flask", "sqlalchemy", "gateway"):
        probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True,
                               text=True, cwd=tmp_path, timeout=60)
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, module
    data = subprocess.run([python, "-c", "from conformance_tests.datagen import DataFactory; "
                           "print(DataFactory('x', '1101', seed=1).citizen_id())"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert data.returncode == 0 and data.stdout.strip().startswith("1101")
