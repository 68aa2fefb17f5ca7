"""The README's own examples say what the contract says (issue 12, items 3 and 6)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_batch_envelope_example_names_every_required_member():
    example = re.search(r'`(\{"schema_version":"1".*?"records":\[.*?\]\})`', README).group(1)
    named = set(re.findall(r'"([a-z_]+)":', example))
    required = json.loads((ROOT / "schemas" / "v1" / "batch.schema.json").read_text("utf-8"))["required"]
    assert set(required) <= named, sorted(set(required) - named)


def test_the_tour_saves_a_certificate_only_from_a_successful_answer():
    """`curl -o` without -f saves a problem+json answer as certificate.pdf."""
    downloads = [line for line in README.splitlines() if "curl" in line and "-o certificate.pdf" in line]
    assert downloads and all(re.search(r"curl -\w*f\w* ", line) for line in downloads), downloads


def test_the_font_prerequisite_is_stated_before_the_set_up_commands():
    set_up = README.index("make run     #")
    assert README.index("CERTIFICATE_FONT") < set_up and "refuses to start" in README[:set_up]
