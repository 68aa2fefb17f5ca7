"""Which national field codes the schemas carry: the coverage table of docs/data-elements.md.

Read from the schemas' ``x-national-code`` annotations against the product's own copy of the
national front-end's field list (``schemas/national/national_fields.tsv``); codes of groups
outside the ten entities are listed with the reason of ``schemas/national/not_carried.tsv``.
``python -m schemas.coverage`` prints the table; tests/unit/schemas/test_schemas_v2.py keeps
the copy in docs/data-elements.md (between the ``national-coverage`` markers) equal to it.
"""

from __future__ import annotations

import csv
from functools import lru_cache

import schemas

# The front-end's groups (first column of national_fields.tsv) → the entity that carries them.
GROUPS = {
    "volunteer": "volunteer", "team": "team", "project": "project", "post": "project",
    "checkin-point": "project", "enrollment": "enrollment", "hours": "service_record",
    "training": "training", "training-participant": "training",
    "commendation(+complaint reuse)": "commendation", "complaint": "complaint",
    "evaluation(vol)": "evaluation", "evaluation(project)": "evaluation",
}
# Codes of the commendation form that the complaint form reuses with another meaning.
ALSO = {("commendation(+complaint reuse)", "albx0355"): "complaint",
        ("commendation(+complaint reuse)", "albx0356"): "complaint"}


#: The first column of a comment row of national_fields.tsv that keeps the shared list's
#: label of the code above it, which the product's copy corrects: ``# corrected``, the code,
#: the shared list's label, why (docs/data-elements.md, "Coverage of the national field codes").
CORRECTED = "# corrected"


def _read(name: str) -> list[dict[str, str]]:
    with (schemas.ROOT / "national" / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _rows(name: str) -> list[dict[str, str]]:
    """The rows of a table of schemas/national, without its comment rows (``#`` first)."""
    return [r for r in _read(name) if not r[next(iter(r))].startswith("#")]


def corrections() -> dict[str, tuple[str, str]]:
    """``{code: (the shared list's label, why)}``: the labels the product's copy of the
    front-end's field list corrects (its ``# corrected`` comment rows)."""
    out: dict[str, tuple[str, str]] = {}
    for r in _read("national_fields.tsv"):
        if r["entity"] == CORRECTED:
            out[r["national_code"]] = (r["label_zh"], r["mapped_to_in_product_2026_12"])
    return out


@lru_cache(maxsize=None)
def codes_of(version: str, entity: str) -> dict[str, str]:
    """``{national code: dotted key}`` of one schema (``a.b`` member, ``a[].b`` array item),
    as the national adapter reads them (v1 with its corrections)."""
    found: dict[str, str] = {}
    fixes: dict[str, str | None] = {}
    if version == "1":
        from adapters.national import _V1_CODES     # the v1 corrections live with the adapter
        fixes = {path[0]: code for path, code in _V1_CODES.get(entity, {}).items()}

    def walk(props: dict, prefix: str) -> None:
        for key, prop in props.items():
            code = fixes[key] if (not prefix and key in fixes) else prop.get("x-national-code")
            if code:
                found[code] = prefix + key
            if prop.get("type") == "object":
                walk(prop.get("properties", {}), f"{prefix}{key}.")
            elif prop.get("type") == "array" and isinstance(prop.get("items"), dict):
                walk(prop["items"].get("properties", {}), f"{prefix}{key}[].")

    walk(schemas.load_schema(version, entity)["properties"], "")
    return found


def rows() -> list[dict[str, str]]:
    """One row per code of the front-end: group, code, label, v1 key, v2 key, reason."""
    # not_carried.tsv: a front-end group, or a single code, and why it is not carried
    reasons = {r["scope"]: r["reason"] for r in _rows("not_carried.tsv")}
    out = []
    for r in _rows("national_fields.tsv"):
        group, code = r["entity"], r["national_code"]
        label = r["label_zh"] if r["label_zh"] not in ("是", "否") else r["mapped_to_in_product_2026_12"]
        entity = ALSO.get((group, code), GROUPS.get(group))
        row = {"group": group, "code": code, "label": label, "entity": entity or "",
               "v1": "", "v2": "", "reason": ""}
        if entity:
            row["v1"] = codes_of("1", entity).get(code, "")
            row["v2"] = codes_of("2", entity).get(code, "")
            if entity != GROUPS.get(group):
                main = GROUPS[group]
                row["v2"] = (f"{main}.{codes_of('2', main)[code]} / " if code in codes_of("2", main)
                             else "") + f"{entity}.{row['v2']}"
                row["v1"] = codes_of("1", main).get(code, "")
        else:
            row["reason"] = reasons[group]
        if entity and not row["v2"] and code in reasons:      # a code left out on purpose
            row["reason"] = reasons[code]
        out.append(row)
    return out


def summary() -> list[tuple[str, str, int, int, int, int]]:
    """(group, entity, codes, mapped in v1, mapped in v2, not carried) per group."""
    by: dict[str, list[dict[str, str]]] = {}
    for row in rows():
        by.setdefault(row["group"], []).append(row)
    return [(g, rs[0]["entity"] or "—", len(rs), sum(bool(r["v1"]) for r in rs),
             sum(bool(r["v2"]) for r in rs), sum(bool(r["reason"]) for r in rs))
            for g, rs in by.items()]


def coverage_markdown() -> str:
    lines = ["| front-end group | carried by | codes | mapped v1 | mapped v2 | not carried |",
             "|---|---|---|---|---|---|"]
    total = [0, 0, 0, 0]
    for group, entity, n, v1, v2, nc in summary():
        lines.append(f"| {group} | {entity} | {n} | {v1} | {v2} | {nc} |")
        for i, x in enumerate((n, v1, v2, nc)):
            total[i] += x
    lines.append(f"| **all** | | {total[0]} | {total[1]} | {total[2]} | {total[3]} |")
    lines += ["", "| group | code | 前端标签 | schema v1 | schema v2 / why not carried |",
              "|---|---|---|---|---|"]
    fixed = corrections()
    for r in rows():
        where = f"`{r['entity']}.{r['v2']}`" if r["v2"] and "/" not in r["v2"] else (
            f"`{r['v2']}`" if r["v2"] else f"not carried: {r['reason']}")
        in_v1 = f"`{r['v1']}`" if r["v1"] else ""
        label = r["label"]
        if r["code"] in fixed:
            label += f" (corrected; shared list: {fixed[r['code']][0]})"
        label = label.replace("|", "\\|")
        lines.append(f"| {r['group']} | {r['code']} | {label} | {in_v1} | {where} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(coverage_markdown(), end="")
