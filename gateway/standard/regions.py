"""Administrative division tables: current divisions and every GB/T 2260 code that ever existed."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import schemas

# Levels, from the top: province (2 digits), city (4), county (6), town/street (9).
PROVINCE, CITY, COUNTY, TOWN = 1, 2, 3, 4
LEVEL_NAMES = {PROVINCE: "province", CITY: "city", COUNTY: "county", TOWN: "town"}


@dataclass(frozen=True, slots=True)
class Region:
    code: str        # the canonical form: 2, 4, 6 or 9 digits
    name: str
    level: int


class Regions:
    """Look-ups over the shipped region tables; build once per app (``Regions.load()``)."""

    def __init__(self, current: dict[str, Region], historical: dict[str, int]):
        self._current = current
        self._historical = historical
        # Every 6-digit form resolved once: counties as themselves, cities as <4 digits>00 and
        # provinces as <2 digits>0000. A county-level entry wins over a city of the same code:
        # cities without counties (东莞 441900, 中山 442000, 儋州 460400) are county-level units.
        self._six: dict[str, Region] = {}
        for code, region in current.items():
            if region.level == PROVINCE:
                self._six[code + "0000"] = region
        for code, region in current.items():
            if region.level == CITY:
                self._six[code + "00"] = region
        for code, region in current.items():
            if region.level == COUNTY:
                self._six[code] = region

    @classmethod
    def load(cls) -> "Regions":
        """The shipped tables, read once per process (they are immutable data, shared by apps)."""
        return _load_shipped()

    @classmethod
    def _read(cls) -> "Regions":
        current: dict[str, Region] = {}
        for table, level in (("provinces", PROVINCE), ("cities", CITY),
                             ("areas", COUNTY), ("streets", TOWN)):
            for row in schemas.read_table("regions", table):
                current[row["code"]] = Region(row["code"], row["name"], level)
        historical = {row["code"]: int(row["since_year"])
                      for row in schemas.read_table("regions", "gbt2260_history")}
        return cls(current, historical)

    def lookup(self, code: str) -> Region | None:
        """The current region a code names, or None.

        Accepts the canonical 2/4/6/9-digit forms, 6-digit GB/T 2260 codes padded with zeros
        (``110000`` province, ``110100`` city), and the national system's 12- or 18-digit ids
        padded with zeros (``110101000000000000``), whose 9-digit prefix names a town or, when
        zero, whose 6-digit prefix names the county.
        """
        found = self._six.get(code)
        if found is not None:
            return found
        if not code.isdigit() or len(code) not in (2, 4, 6, 9, 12, 18):
            return None
        if len(code) in (2, 4, 9):
            return self._current.get(code)
        if len(code) > 9:
            if code[9:].strip("0"):
                # Below town level (village/community): the town prefix must be current.
                return self._current.get(code[:9])
            if code[6:9] != "000":
                return self._current.get(code[:9])
            code = code[:6]
        return self._six.get(code)

    def existed(self, code6: str) -> bool:
        """Whether a 6-digit code ever existed in GB/T 2260 (as ID-number prefixes require)."""
        return code6 in self._historical or code6 in self._current

    def name(self, code: str) -> str | None:
        region = self.lookup(code)
        return region.name if region else None


@lru_cache(maxsize=1)
def _load_shipped() -> Regions:
    return Regions._read()
