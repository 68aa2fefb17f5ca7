"""Schema v2 members kept beside the v1 columns, and records read back in v2.

The store's columns hold the v1 properties. A v2 record pushed to the gateway is applied as
its v1 projection (:func:`schemas.versions.v1_projection`, the services' rules as for any
record); what the projection cannot hold — the national field codes only v2 carries, the
"remainder" (:func:`schemas.versions.v2_remainder`) — is kept on the record's row
(migration 0013_national2):

* ``national``: the members in clear (JSON / JSONB);
* ``national_enc``: the personal ones (``x-personal`` in schemas/v2: registration data,
  the person in charge, complainants, contact handles, passwords, and every code whose
  meaning the national front-end does not show), as JSON encrypted with the personal-data
  vault (AES-256-GCM field tokens, like ``id_number_enc``; ``vgw pii rotate`` re-encrypts
  the column with the others).

A v2 upsert of a volunteer merges its remainder with the kept one field by field, under the
conflict policy its v1 fields follow (SOURCE_PRIORITY, then the newer source_updated_at;
each member's stamp in the person's provenance as ``v2:<key>``): a member a winning source
provided stays against a losing sender, a member not kept yet is taken, a member left out is
kept, as for v1 fields. Other entities' v2 upserts replace the kept remainder as a whole (a
member left out is gone), as their policy is per record. A v1 upsert leaves it as it is (it
says nothing about v2's members). A record read in v2
(:func:`as_v2`: the change feed with ``schema_version=2``, the API's ``national`` member)
is its v1 form with the remainder put back.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from gateway.exchange.upserts import (Outcome, Source, Stamp, apply_records, is_stale,
                                      merge_volunteer_v2)
from gateway.privacy import Vault
from gateway.services.context import ServiceContext
from gateway.standard.issues import Issue
from gateway.store.models import (Commendation, Complaint, Enrollment, Evaluation, Project,
                                  ServiceRecord, Team, Training, Volunteer)
from schemas.versions import join_parts, split_personal, to_v2, v1_projection, v2_remainder

__all__ = ["NATIONAL_FIELD", "ROWS", "apply_in_version", "as_v2", "keep", "keep_after",
           "remainder_of", "split_v2", "with_national"]

#: The model and number column of each entity that keeps a remainder.
ROWS: dict[str, tuple[Any, Any]] = {
    "volunteer": (Volunteer, Volunteer.volunteer_no),
    "team": (Team, Team.team_no),
    "project": (Project, Project.project_no),
    "enrollment": (Enrollment, Enrollment.enrollment_no),
    "service_record": (ServiceRecord, ServiceRecord.record_no),
    "training": (Training, Training.training_no),
    "commendation": (Commendation, Commendation.commendation_no),
    "evaluation": (Evaluation, Evaluation.evaluation_no),
    "complaint": (Complaint, Complaint.complaint_no),
}


def remainder_of(vault: Vault, row: Any, personal: bool = True) -> dict[str, Any]:
    """The v2 members kept on ``row`` (without the personal ones unless ``personal``)."""
    sealed = None
    if personal and getattr(row, "national_enc", None):
        sealed = json.loads(vault.decrypt(row.national_enc))
    return join_parts(getattr(row, "national", None), sealed)


def _place(entity: str, row: Any) -> tuple[str | None, str | None]:
    """The change's region and team for the feed's scope (None: decided by the record)."""
    if entity == "volunteer":
        return row.area_code, None
    if entity == "team":
        return row.area_code, row.team_no
    if entity == "project":
        return row.area_code, row.team.team_no
    if entity in ("enrollment", "service_record"):
        return row.project.area_code, (row.team.team_no if entity == "service_record"
                                       else row.project.team.team_no)
    return None, None


def keep(ctx: ServiceContext, entity: str, key: str, remainder: dict[str, Any],
         record_change: bool = False, note: str | None = None) -> bool:
    """Keep ``remainder`` as the v2 members of ``entity`` ``key``; whether it changed.

    With ``record_change`` a change is recorded when it did (the record's v1 form was
    unchanged, so nothing else told the change feed); its history names the v2 keys that
    changed, never their values.
    """
    if entity not in ROWS:
        return False
    model, column = ROWS[entity]
    row = ctx.session.execute(select(model).where(column == key)).scalar_one_or_none()
    if row is None:
        return False
    old = remainder_of(ctx.vault, row)
    if old == remainder:
        return False
    plain, sealed = split_personal(entity, remainder)
    row.national = plain or None
    row.national_enc = (ctx.vault.encrypt(json.dumps(sealed, ensure_ascii=False, sort_keys=True))
                        if sealed else None)
    if record_change:
        changed = sorted(k for k in set(old) | set(remainder) if old.get(k) != remainder.get(k))
        area, team_no = _place(entity, row)
        ctx.record_change(entity, key, "update", {"schema_v2": None}, {"schema_v2": changed},
                          note=note, source_system=ctx.caller.client_id, area=area,
                          team_no=team_no)
    return True


def as_v2(vault: Vault, entity: str, record: dict[str, Any], row: Any,
          personal: bool = True) -> dict[str, Any]:
    """The v1 ``record`` of ``row`` in v2's form, with the kept v2 members put back."""
    return to_v2(entity, record, remainder_of(vault, row, personal))


#: How the API's item views describe the ``national`` member (:func:`with_national`).
NATIONAL_FIELD = ("The record's schema v2 members beyond what the v1 fields hold, with v2's keys "
                  "and whole v2 values (a project's posts as v2 has them), as last pushed in v2; "
                  "absent when none. The record in v2 is the v1 fields with these put over them "
                  "(docs/protocol.md). Personal ones (x-personal) only for a caller with full "
                  "personal-data access.")


def with_national(ctx: ServiceContext, entity: str, key: str, view: dict[str, Any]) -> dict[str, Any]:
    """An API item ``view`` of ``entity`` ``key`` with its ``national`` member, if any is kept."""
    model, column = ROWS[entity]
    row = ctx.session.execute(select(model).where(column == key)).scalar_one_or_none()
    kept = remainder_of(ctx.vault, row, personal=ctx.caller.pii_full) if row is not None else {}
    if not kept:
        return view
    from gateway.exchange.feed import conform  # the feed builds on this module

    whole = to_v2(entity, conform(view, ctx.engine.schema(entity)), kept)
    return {**view, "national": {k: whole[k] for k in kept if k in whole}}


def split_v2(entity: str, record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A valid v2 ``record`` as (its v1 projection, to apply; the remainder, to keep)."""
    return v1_projection(entity, record)[0], v2_remainder(entity, record)


def keep_after(ctx: ServiceContext, source: Source, entity: str, outcome: Outcome,
               remainder: dict[str, Any], stamp: Stamp | None = None) -> Outcome:
    """Keep a v2 record's members beyond v1 with the record it was applied to (``outcome``);
    a record whose v1 form was unchanged but whose v2 members changed is ``updated``. A
    rejected record, or one that lost to the stored record, keeps nothing.

    A volunteer's members are merged field by field with the kept ones, under the policy
    its v1 fields follow (:func:`gateway.exchange.upserts.merge_volunteer_v2`, ``stamp``:
    this write's); other entities' are replaced as a whole (their policy is per record)."""
    if outcome.status not in ("created", "updated", "unchanged") or not outcome.key or (
            outcome.status == "unchanged" and is_stale(outcome)):
        return outcome
    key = outcome.key
    if entity == "volunteer":
        row = ctx.session.execute(select(Volunteer).where(Volunteer.volunteer_no == key)
                                  ).scalar_one_or_none()
        if row is not None:
            stamp = stamp or Stamp(source.client_id, None)
            remainder, merge = merge_volunteer_v2(source, stamp, remainder,
                                                  remainder_of(ctx.vault, row), row.provenance)
            provenance = merge.provenance(row.provenance, stamp)
            if provenance != row.provenance:
                row.provenance = provenance
            if merge.note:
                outcome = outcome._replace(
                    note=f"{outcome.note}; {merge.note}" if outcome.note else merge.note)
    changed = keep(ctx, entity, key, remainder,
                   record_change=outcome.status == "unchanged", note=source.note)
    return outcome._replace(status="updated") if changed and outcome.status == "unchanged" else outcome


def apply_in_version(ctx: ServiceContext, source: Source, version: str,
                     items: list[tuple[Any, Any, Any]]) -> list[Outcome]:
    """:func:`apply_records` for ``(entity, op, data)`` items of schema ``version``: a v2
    upsert is validated against v2 (rejected with the pointers under ``/data``), applied as
    its v1 projection and its remainder kept (:func:`keep_after`); deletes and v1 as they are.
    Sync runs of an adapter whose ``schema_version`` is 2 go through here."""
    if version == "1":
        return apply_records(ctx, source, items)
    rule_ctx = ctx.rule_context()
    done: dict[int, Outcome] = {}
    remainders: dict[int, dict[str, Any]] = {}
    todo: list[tuple[int, tuple[Any, Any, Any]]] = []
    for i, (entity, op, data) in enumerate(items):
        if op == "upsert" and isinstance(data, dict) and entity in ROWS:
            report = ctx.engine.validate(entity, data, version, rule_ctx)
            if not report.valid:
                done[i] = Outcome("rejected", None, [
                    Issue("/data" + x.pointer, x.rule, x.message_zh, x.message_en)
                    for x in report.issues])
                continue
            data, remainders[i] = split_v2(entity, data)
        todo.append((i, (entity, op, data)))
    applied = apply_records(ctx, source, [item for _i, item in todo])
    for (i, (entity, _op, data)), outcome in zip(todo, applied):
        done[i] = (keep_after(ctx, source, entity, outcome, remainders[i], source.stamp(ctx, data))
                   if i in remainders else outcome)
    return [done[i] for i in range(len(items))]
