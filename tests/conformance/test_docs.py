"""docs/conformance.md holds the requirement table generated from the registry."""

from __future__ import annotations

from pathlib import Path

from conformance_tests.cli import coverage_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"


def test_the_docs_table_is_the_generated_one():
    text = DOC.read_text("utf-8")
    table = text.split("<!-- coverage:start -->\n", 1)[1].split("<!-- coverage:end -->", 1)[0]
    assert table == coverage_markdown(), (
        "docs/conformance.md is out of date: paste `vgw-conformance coverage --markdown` "
        "between the coverage markers")


def test_the_readme_links_it():
    readme = (DOC.parents[1] / "README.md").read_text("utf-8")
    assert "[docs/conformance.md](docs/conformance.md)" in readme
