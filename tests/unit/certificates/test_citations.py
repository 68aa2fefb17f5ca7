"""The code cites the rules by their real titles (issue 15): no 《志愿服务记录证明出具办法》 — the
2020 text is 《志愿服务记录与证明出具办法（试行）》 — and the certificate's "four groups" are
credited to the 2015 《关于规范志愿服务记录证明工作的指导意见》, not to the 2020 办法."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WRONG = "志愿服务记录证明出具办法"          # the title without 与: no such text
RIGHT = "《志愿服务记录与证明出具办法（试行）》"
GUIDANCE = "《关于规范志愿服务记录证明工作的指导意见》"


def _product_files():
    for root in ("gateway", "schemas", "adapters", "sync_jobs"):
        for path in (ROOT / root).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".json", ".html", ".csv", ".tsv", ".toml"):
                yield path


def test_no_file_of_the_product_cites_a_text_that_does_not_exist():
    wrong = [str(p.relative_to(ROOT)) for p in _product_files() if WRONG in p.read_text("utf-8")]
    assert not wrong, f"cites 《{WRONG}》: {wrong}"


def test_the_certificate_credits_its_layout_to_the_2015_guidance_and_its_content_to_the_2020_text():
    doc = (ROOT / "gateway" / "certificates" / "document.py").read_text("utf-8")
    assert RIGHT in doc and "Art. 15" in doc
    assert re.search(r"four groups of the 2015\s+" + re.escape(GUIDANCE), doc)
