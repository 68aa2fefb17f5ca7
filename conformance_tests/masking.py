"""Mask personal data in any text the reports show: 18-character ID numbers, 11-digit mobiles.

An ID number (GB 11643: 17 digits and a digit or X) keeps its first 6 characters (the
region) and its last one; a mainland mobile number keeps its first 3 and last 4 digits, as
Chinese services usually print them. Only whole tokens are masked: a run of digits that is
part of a longer run (a timestamp, a longer code) is left alone. An 18-digit padded region
code looks like an ID number and is masked too (docs/rules.md says the same of messages).
"""

from __future__ import annotations

import re
from typing import Any

_ID = re.compile(r"(?<![0-9A-Za-z])([0-9]{6})[0-9]{11}([0-9Xx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])")


def mask(text: str) -> str:
    """``text`` with every ID number and mobile number masked."""
    if not text:
        return text
    text = _ID.sub(lambda m: m.group(1) + "*" * 11 + m.group(2), text)
    return _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(2), text)


def mask_value(value: Any) -> Any:
    """``mask`` applied to every string inside a JSON-like value (keys included)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask_value(k): mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(v) for v in value]
    return value
