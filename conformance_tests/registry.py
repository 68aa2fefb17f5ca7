"""Requirements (id, text, source) and the tests that check them.

Requirements are data: every ``requirements/*.toml`` file holds ``[[requirement]]`` tables
with ``id``, ``text`` and ``source`` (a section of docs/protocol.md, an RFC clause, or a
rule id / data element of the standard). Tests are functions registered with
``@conformance_test``; each names the requirement(s) it checks. The registry is built
explicitly (``load_registry()``), never at import time.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Callable

ROLES = ("server", "client", "data")
REQUIREMENT_ID = re.compile(r"^[A-Z]{3}-[A-Z0-9]+(?:-[A-Z0-9]+)*-\d{2}$")   # e.g. EXC-SIG-07
TEST_ID = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$")          # e.g. server.signatures.expired


@dataclass(frozen=True)
class Requirement:
    """One thing a conforming system must do, and where that is written."""

    id: str
    text: str
    source: str


@dataclass(frozen=True)
class TestCase:
    """One registered test: what it checks, where it belongs, and the function to run."""

    id: str                       # "<role>.<group>.<name>", stable, used to run one test
    title: str
    role: str                     # "server" | "client" | "data"
    group: str                    # "<role>.<group>", e.g. "server.signatures"
    requirements: tuple[str, ...]
    features: tuple[str, ...]     # all must not be declared false, else the test is omitted
    func: Callable[..., None] = field(compare=False, repr=False)
    depends_on: tuple[str, ...] = ()   # test ids that must pass first, else this one is skipped


_TESTS: dict[str, TestCase] = {}


def conformance_test(test_id: str, *, title: str, requirements: str | tuple[str, ...],
                     features: tuple[str, ...] = (), depends_on: tuple[str, ...] = ()):
    """Register ``func(ctx)`` as the conformance test ``test_id`` ("role.group.name").

    The role and group are read off the id. ``requirements`` names one or more requirement
    ids that must exist in ``requirements/*.toml`` (checked by ``load_registry``).
    """
    if not TEST_ID.match(test_id) or test_id.split(".")[0] not in ROLES:
        raise ValueError(f"bad test id {test_id!r}: want '<role>.<group>.<name>'")
    reqs = (requirements,) if isinstance(requirements, str) else tuple(requirements)

    def register(func: Callable[..., None]) -> Callable[..., None]:
        if test_id in _TESTS and _TESTS[test_id].func is not func:
            raise ValueError(f"test id {test_id!r} registered twice")
        role, group = test_id.split(".")[:2]
        _TESTS[test_id] = TestCase(test_id, title, role, f"{role}.{group}", reqs, tuple(features),
                                   func, tuple(depends_on))
        return func

    return register


@dataclass(frozen=True)
class Registry:
    """Every requirement and every test, checked against each other."""

    requirements: dict[str, Requirement]
    tests: dict[str, TestCase]

    def tests_for(self, requirement_id: str) -> list[TestCase]:
        return [t for t in self.tests.values() if requirement_id in t.requirements]

    def untested(self) -> list[Requirement]:
        return [r for r in self.requirements.values() if not self.tests_for(r.id)]


def _load_requirements() -> dict[str, Requirement]:
    found: dict[str, Requirement] = {}
    folder = resources.files(__package__).joinpath("requirements")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        for item in tomllib.loads(entry.read_text(encoding="utf-8")).get("requirement", []):
            req = Requirement(item["id"], item["text"].strip(), item["source"].strip())
            if not REQUIREMENT_ID.match(req.id):
                raise ValueError(f"{entry.name}: bad requirement id {req.id!r}")
            if req.id in found:
                raise ValueError(f"{entry.name}: requirement {req.id} declared twice")
            found[req.id] = req
    return found


def _import_test_modules() -> None:
    """Import every module under ``conformance_tests.roles`` so their tests register."""
    roles = importlib.import_module(f"{__package__}.roles")
    for info in pkgutil.walk_packages(roles.__path__, prefix=f"{roles.__name__}."):
        importlib.import_module(info.name)


def load_registry() -> Registry:
    """Load requirements and tests; refuse a test naming an unknown requirement or test."""
    requirements = _load_requirements()
    _import_test_modules()
    for test in _TESTS.values():
        unknown = [r for r in test.requirements if r not in requirements]
        if unknown:
            raise ValueError(f"test {test.id} names unknown requirement(s) {unknown}")
        missing = [d for d in test.depends_on if d not in _TESTS]
        if missing:
            raise ValueError(f"test {test.id} depends on unknown test(s) {missing}")
    return Registry(requirements, dict(sorted(_TESTS.items())))
