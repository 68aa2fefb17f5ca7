"""Every text the console's templates show has its Chinese in the catalogue (Chinese first)."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.console.i18n import ZH

TEMPLATES = Path(__file__).resolve().parents[2] / "gateway" / "console" / "templates"
KEY = re.compile(r"""_\(\s*(["'])(.+?)\1\s*\)""")
#: run / alert states and other values passed through _() from data, not literals
DYNAMIC = {"succeeded", "partial", "failed", "interrupted", "running", "pending", "replayed",
           "discarded", "any", "in", "out", "active", "revoked", "full", "masked", "firing",
           "acknowledged", "resolved", "lag", "failure_streak", "stale", "rejection_rate", "key_unused",
           "pull", "push", "manual", "schedule", "replay"}


def test_every_template_text_has_chinese():
    used = {m.group(2) for path in TEMPLATES.glob("*.html") for m in KEY.finditer(path.read_text("utf-8"))}
    assert used, "the check found no texts"
    missing = sorted(k for k in used if k not in ZH)
    assert missing == []
    assert all(k in ZH for k in DYNAMIC)
