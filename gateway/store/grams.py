"""Keyword grams of a project's name: every substring of one and of two characters.

Chinese searches are mostly two characters (助老, 环保, 支教), and pg_trgm extracts no
trigram from a pattern shorter than three characters, so ``name ILIKE '%助老%'`` scans the
table whatever index exists. The store keeps, beside the name, the sorted set of its
lower-cased 1- and 2-character substrings (``projects.name_grams``: ``text[]`` under a GIN
index on PostgreSQL, migration 0009_verbs2); a keyword of one or two characters is then one
containment test on the index (``name_grams @> ARRAY['助老']``), exactly as selective as the
substring match it replaces. Longer keywords keep the trigram index (``ILIKE``).

The column is kept by the model itself (``Project`` sets it whenever ``name`` is assigned),
so every ORM write keeps it in step; bulk loaders (benchmarks) call :func:`name_grams`.
"""

from __future__ import annotations

__all__ = ["GRAM_MAX", "name_grams", "keyword_gram"]

#: The longest keyword served by the grams (longer ones: the trigram index).
GRAM_MAX = 2


def name_grams(name: str | None) -> list[str] | None:
    """The sorted distinct 1- and 2-character substrings of ``name`` lower-cased (None for
    no name). A 12-character name has at most 23."""
    if not name:
        return None
    text = name.lower()
    return sorted({text[i:i + n] for n in range(1, GRAM_MAX + 1) for i in range(len(text) - n + 1)})


def keyword_gram(keyword: str) -> str | None:
    """The gram a keyword is searched by, or None when it is longer than :data:`GRAM_MAX`."""
    text = keyword.lower()
    return text if 0 < len(text) <= GRAM_MAX else None
