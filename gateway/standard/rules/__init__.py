"""Semantic rules: what JSON Schema cannot say, each a named function with a stable rule id.

A rule is registered for one or more entities with :func:`rule` and receives the record
(already parsed JSON, *not necessarily schema-valid*) and a :class:`RuleContext`. It yields
:class:`~gateway.standard.issues.Issue` objects and must never raise on any JSON input:
a value of the wrong type is the schema's to report, so the rule skips it.

Rule ids are part of the published contract (docs/rules.md); never reuse or rename one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from gateway.standard.issues import Issue
from gateway.standard.regions import Regions

RuleFn = Callable[[dict, "RuleContext"], Iterable[Issue]]

# Modules that hold rules; imported once by load_rules(), never at package import time.
RULE_MODULES = (
    "gateway.standard.rules.common",
    "gateway.standard.rules.volunteer",
    "gateway.standard.rules.team",
    "gateway.standard.rules.project",
    "gateway.standard.rules.service_record",
    "gateway.standard.rules.fast",
)


@dataclass(frozen=True)
class RuleDef:
    rule_id: str
    entities: tuple[str, ...]
    fn: RuleFn
    summary: str


_REGISTRY: dict[str, RuleDef] = {}
FastCheck = Callable[[dict, "RuleContext"], bool]
_FAST_CHECKS: dict[str, FastCheck] = {}


def rule(rule_id: str, *entities: str) -> Callable[[RuleFn], RuleFn]:
    """Register ``fn`` as a rule for ``entities``; the docstring's first line is its summary."""

    def register(fn: RuleFn) -> RuleFn:
        if rule_id in _REGISTRY and _REGISTRY[rule_id].fn is not fn:
            raise RuntimeError(f"rule id {rule_id} registered twice")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        _REGISTRY[rule_id] = RuleDef(rule_id, entities, fn, summary)
        return fn

    return register


def fast_check(entity: str) -> Callable[[FastCheck], FastCheck]:
    """Register a cheap all-rules-pass check for a *schema-valid* record of ``entity``.

    It must return True only when every rule of the entity would report nothing; it may
    return False whenever it is unsure (the engine then runs every rule). Valid records are
    the common case, so one pass over the record replaces a dozen rule calls. The contract
    (True implies no issues) is tested on generated and mutated records.
    """

    def register(fn: FastCheck) -> FastCheck:
        _FAST_CHECKS[entity] = fn
        return fn

    return register


def fast_check_for(entity: str) -> FastCheck | None:
    """The entity's fast check, if one is registered (after :func:`load_rules`)."""
    load_rules()
    return _FAST_CHECKS.get(entity)


def load_rules() -> dict[str, RuleDef]:
    """Import every rule module and return all rules by id."""
    for module in RULE_MODULES:
        importlib.import_module(module)
    return dict(_REGISTRY)


def rules_for(entity: str) -> list[RuleDef]:
    """The rules that apply to ``entity``, in registration order."""
    return [r for r in load_rules().values() if entity in r.entities]


@dataclass(frozen=True)
class RuleContext:
    """What rules may depend on besides the record: the clock, settings and tables."""

    now: datetime                 # aware, in ``tz``
    tz: ZoneInfo
    regions: Regions
    min_volunteer_age: int = 6
    adult_age: int = 18
    # Policies (gateway.settings SERVICE_HOURS_POLICY, SERVICE_RECORD_SAME_DAY; docs/rules.md):
    # the rule that judges hours against the duration, and whether a record may span midnight.
    hours_policy: str = "within_duration"
    same_day: bool = False
    # VOLUNTEER_CONSENT = require: a volunteer record carries the volunteer's consent (办法 Art. 6).
    consent_required: bool = False
    today: date = field(init=False)  # now's date, computed once (rules read it per record)
    # Anyone born on or before this day is certainly an adult today (a cheap test first).
    adult_birthday_limit: date = field(init=False)

    def __post_init__(self) -> None:
        today = self.now.date()
        object.__setattr__(self, "today", today)
        object.__setattr__(self, "adult_birthday_limit",
                           date(today.year - self.adult_age - 1, 12, 31))
