"""Fixtures for the standard's rules: a fixed clock and the shipped region tables."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.standard.regions import Regions
from gateway.standard.rules import RuleContext

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 29, 10, 0, 0, tzinfo=TZ)


@pytest.fixture(scope="session")
def regions() -> Regions:
    return Regions.load()


@pytest.fixture(scope="session")
def ctx(regions: Regions) -> RuleContext:
    """Rules' context: now is 2026-11-29T10:00:00+08:00, minimum age 6, adult at 18."""
    return RuleContext(now=NOW, tz=TZ, regions=regions, min_volunteer_age=6, adult_age=18)
