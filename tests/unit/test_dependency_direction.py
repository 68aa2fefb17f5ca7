"""docs/architecture.md: gateway never imports adapters, sync_jobs or conformance_tests by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
OUTSIDE = ("adapters", "sync_jobs", "conformance_tests")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted(GATEWAY.rglob("*.py")), ids=lambda p: str(p.relative_to(GATEWAY)))
def test_gateway_module_imports_nothing_outside_by_name(path):
    bad = [n for n in _imports(path) if n.split(".")[0] in OUTSIDE]
    assert bad == [], f"{path} imports {bad}: use the entry-point groups instead"


def test_the_check_sees_imports():
    sample = GATEWAY.parent / "sync_jobs" / "cli.py"
    assert any(n.startswith("sync_jobs") for n in _imports(sample))
