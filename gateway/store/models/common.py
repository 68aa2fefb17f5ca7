"""Column types and mixins shared by the store's models."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, Text, TypeDecorator
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gateway.standard.regions import COUNTY, Regions

# 64-bit keys on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
Json = JSON().with_variant(JSONB(), "postgresql")
# A list of short strings: text[] on PostgreSQL (GIN-indexable containment), JSON text
# elsewhere (projects.name_grams, gateway/store/grams.py).
Grams = JSON().with_variant(ARRAY(Text()), "postgresql")


class UTCDateTime(TypeDecorator):
    """Aware datetimes stored as UTC; read back aware (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def pack_provenance(provenance: Any) -> Any:
    """``provenance`` in its stored form (:class:`FieldProvenance`)."""
    if not isinstance(provenance, dict) or not provenance:
        return provenance
    names = list(provenance)
    joined = " ".join(names)
    if joined.count(" ") != len(names) - 1:
        return provenance  # a field name with a space: the joined form cannot hold it
    first = provenance[names[0]]
    if all(stamp is first for stamp in provenance.values()):
        return [[first, joined]]  # the usual case: one source sent every field
    groups: list[tuple[Any, list[str]]] = []
    for name in names:
        stamp = provenance[name]
        for held, group in groups:
            if held is stamp or held == stamp:
                group.append(name)
                break
        else:
            groups.append((stamp, [name]))
    return [[stamp, " ".join(group)] for stamp, group in groups]


def unpack_provenance(stored: Any) -> Any:
    """The mapping ``stored`` (:func:`pack_provenance`'s form, or a mapping as before) holds."""
    if not isinstance(stored, list):
        return stored
    return {name: stamp for stamp, names in stored for name in names.split(" ")}


def pack_changes(changes: Any) -> Any:
    """``changes`` in its stored form (:class:`FieldChanges`)."""
    if not isinstance(changes, dict) or not changes:
        return changes
    new = {}
    for name, change in changes.items():
        if type(change) is not dict or len(change) != 2 or change.get("old", 0) is not None \
                or "new" not in change:
            return changes  # not a creation's: stored as it is
        new[name] = change["new"]
    return [new]


def unpack_changes(stored: Any) -> Any:
    """The mapping ``stored`` (:func:`pack_changes`'s form, or a mapping) holds."""
    if not isinstance(stored, list) or len(stored) != 1 or not isinstance(stored[0], dict):
        return stored
    return {name: {"old": None, "new": new} for name, new in stored[0].items()}


class _PackedJson(TypeDecorator):
    """A JSON document (:data:`Json`) held in memory in one form and stored in a smaller one:
    ``pack`` on the way in, ``unpack`` on the way out (each leaves a value it does not know
    as it is, so what was stored before still reads). A subclass names the two functions."""

    impl = Json
    cache_ok = True
    pack: Callable[[Any], Any]
    unpack: Callable[[Any], Any]

    def process_bind_param(self, value: Any, dialect) -> Any:
        return self.pack(value)

    def process_result_value(self, value: Any, dialect) -> Any:
        return self.unpack(value)


class FieldProvenance(_PackedJson):
    """A person's provenance (field → the stamp of the source that provided it), stored with
    each stamp once and the names of its fields beside it.

    In memory it is the plain mapping the merge policy reads and writes
    (gateway/exchange/upserts.py). Stored as that mapping, the usual provenance — every
    field from the one source that sent the person — repeated one stamp object per field:
    over half of a volunteer row, and parsing that jsonb was a fifth of the server's cost of
    inserting the row (issue 14). Stored here as ``[[stamp, "field field …"], …]``, one
    entry per distinct stamp (about a quarter of the size and a few JSON tokens instead of
    a hundred). A mapping stored before (or one with a field name the joined form cannot
    hold: one with a space) is kept and read as it is.
    """

    cache_ok = True  # (SQLAlchemy reads it from each class's own attributes)
    pack = staticmethod(pack_provenance)
    unpack = staticmethod(unpack_provenance)


class FieldChanges(_PackedJson):
    """A history row's changes (field → ``{"old": …, "new": …}``, gateway/services/context.py
    ``diff``). A creation's — every old value None, most history rows of a load — is stored as
    ``[{field: new, …}]`` (half the size, a third of the JSON tokens); any other is stored
    as it is. Read back, both are the mapping."""

    cache_ok = True
    pack = staticmethod(pack_changes)
    unpack = staticmethod(unpack_changes)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NationalColumns:
    """A v2 record's members that the v1 columns cannot hold (migration 0013_national2).

    ``national``: those in clear (JSON); ``national_enc``: the personal ones (the v2 schema's
    ``x-personal``), as JSON encrypted with the personal-data vault like every ``*_enc``
    column (``vgw pii rotate`` re-encrypts it). Written and read by
    gateway/exchange/national.py; both None for a record never pushed in v2.
    """

    national: Mapped[dict[str, Any] | None] = mapped_column(Json)
    national_enc: Mapped[str | None] = mapped_column(Text)


class SourceRef:
    """Where a record came from: the sending system and its own id for the record."""

    source_system: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(64))
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RegionColumns:
    """A region code as given plus its province / city / county prefixes, each indexed.

    A search by any level is then an equality on one indexed column (a province code finds
    every county in it) instead of a LIKE scan.
    """

    area_code: Mapped[str | None] = mapped_column(String(18))
    province: Mapped[str | None] = mapped_column(String(2), index=True)
    city: Mapped[str | None] = mapped_column(String(4), index=True)
    county: Mapped[str | None] = mapped_column(String(6), index=True)

    def set_area(self, code: str | None, regions: "Regions") -> None:
        self.area_code = code
        self.province, self.city, self.county = split_region(code, regions)


def split_region(code: str | None, regions: "Regions") -> tuple[str | None, str | None, str | None]:
    """Province (2), city (4) and county (6) codes of a region code; None above its level.

    Counties come from the region table, so county-level cities without districts
    (东莞 441900, 中山 442000) count as counties.
    """
    if not code or len(code) < 6:
        code = (code or "").ljust(6, "0")
    six = code[:6]
    region = regions.lookup(six)
    province = six[:2] if six[:2] != "00" else None
    if region is not None and region.level >= COUNTY:
        return province, six[:4], six
    city = six[:4] if six[2:4] != "00" else None
    return province, city, None


def json_safe(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` without keys whose value is None (kept out of JSON columns)."""
    return {k: v for k, v in data.items() if v is not None}
