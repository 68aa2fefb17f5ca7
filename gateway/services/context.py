"""What every service call needs: the session, the caller, the engine, the vault, the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from stdnum.iso7064 import mod_37_36

from gateway.access import Caller
from gateway.privacy import Vault, mask_id_number, mask_mobile
from gateway.services.errors import Invalid
from gateway.standard.engine import Engine
from gateway.standard.issues import Report
from gateway.store.models import Change, NumberSequence


def _mask_guardian(guardian: Any) -> Any:
    """A volunteer's guardian block with the guardian's mobile masked."""
    if not isinstance(guardian, Mapping):
        return guardian
    return {k: mask_mobile(v) if k == "mobile" and v is not None else v for k, v in guardian.items()}


# Fields whose values are personal data: history keeps them masked.
PERSONAL_FIELDS = {"id_number": mask_id_number, "mobile": mask_mobile,
                   "contact_mobile": mask_mobile, "guardian": _mask_guardian}


@dataclass
class ServiceContext:
    session: Session
    caller: Caller
    engine: Engine
    vault: Vault
    config: Mapping[str, Any]
    now: datetime = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.now is None:
            self.now = datetime.now(self.tz)

    @property
    def tz(self) -> ZoneInfo:
        return self.engine.tz

    @property
    def regions(self):
        return self.engine.regions

    # -- validation -------------------------------------------------------------------------

    def validate(self, entity: str, record: Any) -> Report:
        """Validate with the engine at this context's clock; raise Invalid with every issue."""
        report = self.engine.validate(entity, record, ctx=self.engine.context(self.now))
        if not report.valid:
            raise Invalid(f"the {entity} record breaks {len(report.issues)} rule(s) of the standard",
                          report.issues)
        return report

    # -- numbering ----------------------------------------------------------------------------

    def next_value(self, name: str) -> int:
        """The next value of counter ``name``, atomically (row-locked on PostgreSQL)."""
        session = self.session
        stmt = (update(NumberSequence).where(NumberSequence.name == name)
                .values(next_value=NumberSequence.next_value + 1)
                .returning(NumberSequence.next_value))
        value = session.execute(stmt).scalar_one_or_none()
        if value is None:
            # First use of this counter: create it; a concurrent creator makes us retry once.
            from sqlalchemy.exc import IntegrityError

            try:
                with session.begin_nested():
                    session.add(NumberSequence(name=name, next_value=2))
                return 1
            except IntegrityError:
                value = session.execute(stmt).scalar_one()
        return value - 1

    def volunteer_no(self, area: str | None) -> str:
        """V + 6-digit area + YYMM + 6-digit sequence + ISO 7064 MOD 37-36 check character."""
        area6 = (area or "000000")[:6]
        yymm = self.now.strftime("%y%m")
        seq = self.next_value(f"volunteer:{area6}:{yymm}")
        body = f"V{area6}{yymm}{seq:06d}"
        return body + mod_37_36.calc_check_digit(body[1:])

    def number(self, prefix: str, area: str | None = None) -> str:
        """A store-assigned number such as T110105000123 (prefix + area + sequence)."""
        area6 = (area or "")[:6]
        return f"{prefix}{area6}{self.next_value(f'{prefix}:{area6}'):06d}"

    # -- history ------------------------------------------------------------------------------

    def record_change(self, entity: str, entity_no: str, action: str,
                      before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None,
                      note: str | None = None, source_system: str | None = None,
                      area: str | None = None, team_no: str | None = None) -> Change:
        """Keep who changed what and when; personal fields are masked in the history.

        ``area`` is the changed record's region and ``team_no`` its team (where it has one):
        the change feed shows the change only to clients whose scope covers them.
        """
        changes = diff(before or {}, after or {})
        change = Change(entity=entity, entity_no=entity_no, action=action, actor=self.caller.client_id,
                        source_system=source_system, at=self.now, changes=changes, note=note,
                        area_code=area, team_no=team_no)
        self.session.add(change)
        return change


def _masked(key: str, value: Any) -> Any:
    masker = PERSONAL_FIELDS.get(key)
    return masker(value) if masker and value is not None else value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Changed fields as ``{field: {"old": …, "new": …}}`` with personal data masked."""
    out = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            out[key] = {"old": _masked(key, old), "new": _masked(key, new)}
    return out
