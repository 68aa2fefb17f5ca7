"""The personal-data log check: no ID or mobile number the tests use appears in a test log.

tests/conftest.py runs it over the logs of the whole run (``pytest_sessionfinish``: "log
check: N known ID/mobile numbers, none in … bytes"); tests/unit/test_log_check.py shows it
catching a seeded leak. It knows every number the tests use: the literals written in any test
module, and every number tests/factories.py generated in any process of the run (each xdist
worker leaves its own in ``<worker>.numbers`` beside its log).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from tests import factories

CITIZEN_ID = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[\dX](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
TESTS_DIR = Path(__file__).resolve().parent


def known_personal_data(log_dir: Path, tests_dir: Path = TESTS_DIR) -> set[str]:
    """Every citizen ID and mobile number the tests use (literals, generated, other workers')."""
    numbers: set[str] = set(factories.GENERATED)
    for path in tests_dir.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        numbers |= set(CITIZEN_ID.findall(text)) | set(MOBILE.findall(text))
    for path in log_dir.glob("*.numbers"):
        numbers |= set(path.read_text(encoding="utf-8").split())
    return numbers


def find_leaks(log_dir: Path, known: Iterable[str]) -> list[str]:
    """``"<log file>: <first 3 digits>…"`` for each known number found in a ``*.log`` there."""
    known = set(known)
    leaks = []
    for path in sorted(log_dir.glob("*.log")):
        text = path.read_text(encoding="utf-8", errors="replace")
        leaks.extend(f"{path.name}: {value[:3]}…" for value in sorted(known) if value in text)
    return leaks


def logged_bytes(log_dir: Path) -> int:
    return sum(p.stat().st_size for p in log_dir.glob("*.log"))
