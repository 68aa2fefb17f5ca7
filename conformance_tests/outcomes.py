"""How a conformance test ends: returning passes; these exceptions say anything else.

Any other exception raised by a test is recorded as an ``error`` (the suite or the system
misbehaved in a way the test did not foresee), never as a pass.
"""

from __future__ import annotations

import enum
from typing import Any


class Outcome(str, enum.Enum):
    """The five results a test can have, in the order reports list them."""

    FAIL = "fail"      # the system does not meet the requirement
    ERROR = "error"    # the test could not be carried out (unexpected exception, unreachable)
    PASS = "pass"
    SKIP = "skip"      # not run, with a reason (e.g. a prerequisite failed, a role not configured)
    OMIT = "omit"      # the requirement's feature is declared not implemented (false)


class Fail(AssertionError):
    """The system does not meet the requirement: what was expected and what was seen."""

    def __init__(self, message: str, *, expected: Any = None, observed: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.observed = observed


class Skip(Exception):
    """The test was not run; ``reason`` says why (always required)."""

    def __init__(self, reason: str) -> None:
        if not reason:
            raise ValueError("a skip must give its reason")
        super().__init__(reason)
        self.reason = reason


class Omit(Exception):
    """The test's feature is declared not implemented (``false``) by the system under test."""

    def __init__(self, feature: str) -> None:
        super().__init__(f"feature {feature!r} declared not implemented")
        self.feature = feature
