"""Fast all-rules-pass checks for the entities that arrive in bulk (volunteers, service time).

Each function sees only *schema-valid* records, so types and shapes are already right, and
answers in one pass whether every rule of its entity would report nothing, under the
context's policies (hours, same day). Anything unusual (a minor, a Hong Kong/Macau/Taiwan
document) answers False and the engine runs every rule for the full report. The contract
— True implies the rules report nothing — is tested on generated and mutated records, under
each policy (tests/unit/standard/test_fast_checks.py).
"""

from __future__ import annotations

from stdnum.cn import ric

from gateway.standard.regions import COUNTY
from gateway.standard.rules import RuleContext, fast_check
from gateway.standard.rules.common import age_on, parse_date, parse_local_datetime
from gateway.standard.rules.service_record import hours_pass, spans_midnight
from gateway.standard.rules.volunteer import (MAINLAND_ID, RESIDENCE_PERMIT_PREFIXES, _RIC_MATCH,
                                              id_birth_date)

_HK_MO_TW = frozenset({"02", "03", "04"})


@fast_check("volunteer")
def volunteer_passes(record: dict, ctx: RuleContext) -> bool:
    regions = ctx.regions
    get = record.get
    for key in ("residence_area", "registration_area"):
        code = get(key)
        if code is not None and regions.lookup(code) is None:
            return False
    code = get("service_area")
    if code is not None:
        region = regions.lookup(code)
        if region is None or region.level < COUNTY:
            return False
    stamp = get("source_updated_at")
    if stamp is not None and parse_local_datetime(stamp, ctx.tz) is None:
        return False
    if "guardian" in record:
        return False  # minors: let every rule speak
    if ctx.consent_required and "consent" not in record:
        return False  # volunteer.consent_required speaks
    id_type = record["id_type"]
    birth_text = get("birth_date")
    if id_type == MAINLAND_ID:
        number = record["id_number"]
        if len(number) != 18 or _RIC_MATCH(number) is None or ric.calc_check_digit(number) != number[17]:
            return False
        if number[:6] not in RESIDENCE_PERMIT_PREFIXES and not regions.existed(number[:6]):
            return False
        if (int(number[16]) % 2 == 1) != (record["gender"] == "1"):
            return False
        if birth_text is not None and birth_text.replace("-", "") != number[6:14]:
            return False
        birth = id_birth_date(number)
    elif id_type in _HK_MO_TW:
        return False
    else:
        birth = parse_date(birth_text)
    if birth is None or birth > ctx.today:
        return False
    # adult_age >= min_volunteer_age (checked at start-up), so this covers both age rules.
    return birth <= ctx.adult_birthday_limit or age_on(birth, ctx.today) >= ctx.adult_age


@fast_check("service_record")
def service_record_passes(record: dict, ctx: RuleContext) -> bool:
    tz = ctx.tz
    for key in ("applied_at", "source_updated_at"):
        value = record.get(key)
        if value is not None and parse_local_datetime(value, tz) is None:
            return False
    started = parse_local_datetime(record["started_at"], tz)
    ended = parse_local_datetime(record["ended_at"], tz)
    if started is None or ended is None or ended <= started or ended > ctx.now:
        return False
    # The policies decide in service_record.py; the same predicates answer here.
    if ctx.same_day and spans_midnight(started, ended):
        return False
    return hours_pass(ctx, float(record["hours"]), (ended - started).total_seconds())
