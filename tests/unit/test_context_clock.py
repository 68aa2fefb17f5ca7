"""What a ServiceContext makes once per clock reading (gateway/services/context.py,
``_per_clock``): the rule context and the month of the volunteer numbers are made once for
a chunk, and made again when the clock moves (a context's ``now`` may be set)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.services.context import ServiceContext
from gateway.standard.engine import Engine
from gateway.standard.regions import Regions

TZ = ZoneInfo("Asia/Shanghai")


def test_made_once_per_clock_reading_and_again_when_the_clock_moves():
    ctx = ServiceContext(session=None, caller=None, engine=Engine(Regions.load(), TZ),  # type: ignore[arg-type]
                         vault=None, config={}, now=datetime(2026, 1, 31, 23, 0, tzinfo=TZ))  # type: ignore[arg-type]
    first = ctx.rule_context()
    assert ctx.rule_context() is first
    assert ctx.volunteer_counter("110105") == "volunteer:110105:2601"
    assert ctx.volunteer_no("110105", 7).startswith("V1101052601000007")

    ctx.now = datetime(2026, 2, 1, 0, 0, tzinfo=TZ)
    assert ctx.rule_context() is not first
    assert ctx.volunteer_counter("110105") == "volunteer:110105:2602"
    assert ctx.volunteer_no("110105", 7).startswith("V1101052602000007")
