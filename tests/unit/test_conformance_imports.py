"""docs/architecture.md: conformance_tests talks to a system over HTTP only, never importing
the gateway (nor adapters, sync_jobs or the schemas package: it ships its own copies of the
data it needs), so that it installs and runs on its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[2] / "conformance_tests"
FORBIDDEN = ("gateway", "adapters", "sync_jobs", "schemas", "flask", "sqlalchemy")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
              in ("import_module", "__import__", "files") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.append(node.args[0].value)          # importlib / importlib.resources by name
    return names


@pytest.mark.parametrize("path", sorted(SUITE.rglob("*.py")), ids=lambda p: str(p.relative_to(SUITE)))
def test_conformance_module_imports_no_gateway(path):
    bad = [n for n in _imports(path) if n.split(".")[0] in FORBIDDEN]
    assert bad == [], f"{path} imports {bad}: the suite talks to systems over HTTP only"


def test_the_check_sees_imports(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import gateway.app\nfrom schemas import load_schema\n"
                      "import importlib\nimportlib.import_module('adapters.national')\n"
                      "from importlib import resources\nresources.files('schemas')\n")
    assert [n for n in _imports(sample) if n.split(".")[0] in FORBIDDEN] == [
        "gateway.app", "schemas", "adapters.national", "schemas"]
