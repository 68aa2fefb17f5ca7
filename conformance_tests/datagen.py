"""Test data: valid citizen IDs, USCCs and schema-v1 records inside the declared scope.

Check characters come from python-stdnum (GB 11643 ``stdnum.cn.ric``, GB 32100
``stdnum.cn.uscc``, ISO 7064 MOD 37-36 for volunteer numbers), the same algorithms the
standard names (docs/rules.md). Regions are drawn from ``data/counties.csv``, a copy of the
current county-level divisions shipped inside this package (the suite never reads the
gateway's files). Every record carries the run tag in a free field (``source_id``, and the
name, address or description where free text is allowed) so a run's records can be told
apart, and a seeded factory gives the same records again.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from functools import lru_cache
from importlib import resources
from typing import Any

from stdnum.cn import ric, uscc as _uscc
from stdnum.iso7064 import mod_37_36

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# GB 11714 organisation code: weights of the 8 body characters, check = 11 - sum mod 11
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


@lru_cache(maxsize=1)
def counties() -> dict[str, str]:
    """Code → name of every current county-level division in the bundled table."""
    text = resources.files(__package__).joinpath("data/counties.csv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {row["code"]: row["name"] for row in csv.DictReader(io.StringIO("\n".join(lines)))}


def _org_code(rng: random.Random) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(8))
    total = sum(int(c) * w for c, w in zip(body, _ORG_WEIGHTS))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


class DataFactory:
    """Generates what tests send; ``run_id`` tags the records, ``seed`` makes them repeatable."""

    def __init__(self, run_id: str, region_prefix: str = "", seed: int | None = None) -> None:
        self.run_id = run_id
        self.region_prefix = region_prefix
        self.rng = random.Random(seed)
        self._serial = 0
        self._inside = sorted(c for c in counties() if c.startswith(region_prefix))
        if not self._inside:
            raise ValueError(f"no county in the bundled table starts with {region_prefix!r}")
        self._outside = sorted(c for c in counties() if not c.startswith(region_prefix[:2] or "#"))

    # -- identifiers -------------------------------------------------------------------

    def tag(self, kind: str) -> str:
        """A source id unique in this run: ``conf-<run>-<kind>-<n>``."""
        self._serial += 1
        return f"conf-{self.run_id}-{kind}-{self._serial:04d}"

    def region(self) -> str:
        return self.rng.choice(self._inside)

    def out_of_scope_region(self) -> str:
        if not self._outside:
            raise ValueError("every bundled county is inside the scope")
        return self.rng.choice(self._outside)

    def birth_date(self, min_age: int = 20, max_age: int = 60) -> dt.date:
        today = dt.date.today()
        return today - dt.timedelta(days=self.rng.randint(min_age * 366, max_age * 365))

    def citizen_id(self, region: str | None = None, gender: str | None = None,
                   birth: dt.date | None = None) -> str:
        """An 18-character mainland ID (GB 11643) with a right check character.

        ``gender`` "1" gives an odd 17th digit (male), "2" an even one (female).
        """
        region = region or self.region()
        birth = birth or self.birth_date()
        seq = self.rng.randint(0, 99)
        last = self.rng.choice("13579" if gender == "1" else "02468" if gender == "2" else "0123456789")
        body = f"{region[:6]}{birth:%Y%m%d}{seq:02d}{last}"
        # stdnum's calc_check_digit takes the whole number and ignores its last character
        return body + ric.calc_check_digit(body + "0")

    def uscc(self, region: str | None = None) -> str:
        """A unified social credit code (GB 32100) with a right check character.

        Registration department 5 (civil affairs), type 1 (social group), the region, a
        GB 11714 organisation code.
        """
        region = region or self.region()
        body = f"51{region[:6]}{_org_code(self.rng)}"
        return body + _uscc.calc_check_digit(body)

    def mobile(self) -> str:
        return "1" + self.rng.choice("3456789") + "".join(self.rng.choice("0123456789")
                                                          for _ in range(9))

    def volunteer_no(self, region: str | None = None) -> str:
        """V + area + YYMM + sequence + ISO 7064 MOD 37-36 check, as a central store assigns."""
        body = f"{(region or self.region())[:6]}{dt.date.today():%y%m}{self.rng.randint(0, 999999):06d}"
        return "V" + body + mod_37_36.calc_check_digit(body)

    # -- records -----------------------------------------------------------------------

    def volunteer(self, **overrides: Any) -> dict[str, Any]:
        region = overrides.pop("region", None) or self.region()
        gender = overrides.get("gender") or self.rng.choice("12")
        birth = self.birth_date()
        record = {
            "name": "Conformance " + self.rng.choice(["Alpha", "Bravo", "Delta", "Echo", "Kilo"]),
            "id_type": "01",
            "id_number": self.citizen_id(region, gender, birth),
            "gender": gender,
            "birth_date": birth.isoformat(),
            "mobile": self.mobile(),
            "nationality": "156",
            "residence_area": region,
            "service_area": region,
            "registration_area": region,
            "address": f"测试地址 {self.run_id}"[:50],
            "service_categories": ["0001"],
            "source_id": self.tag("volunteer"),
            "source_updated_at": self._now(),
        }
        record.update(overrides)
        return record

    def team(self, **overrides: Any) -> dict[str, Any]:
        region = overrides.pop("region", None) or self.region()
        record = {
            "name": f"一致性测试队伍 {self.run_id}"[:100],
            "team_type": "2",
            "unit_type": "13",
            "uscc": self.uscc(region),
            "contact_name": "测试联系人",
            "contact_mobile": self.mobile(),
            "area": region,
            "address": f"测试地址 {self.run_id}"[:100],
            "established_on": "2020-01-01",
            "source_id": self.tag("team"),
            "source_updated_at": self._now(),
        }
        record.update(overrides)
        return record

    def project(self, team_no: str, **overrides: Any) -> dict[str, Any]:
        region = overrides.pop("region", None) or self.region()
        today = dt.date.today()
        record = {
            "name": f"一致性测试项目 {self.run_id}"[:100],
            "team_no": team_no,
            "starts_on": (today - dt.timedelta(days=30)).isoformat(),
            "ends_on": (today + dt.timedelta(days=30)).isoformat(),
            "service_category": "0001",
            "area": region,
            "address": f"测试地址 {self.run_id}"[:100],
            "description": f"conformance run {self.run_id}",
            "source_id": self.tag("project"),
            "source_updated_at": self._now(),
        }
        record.update(overrides)
        return record

    def service_record(self, volunteer_no: str, project_no: str, **overrides: Any) -> dict[str, Any]:
        day = dt.date.today() - dt.timedelta(days=self.rng.randint(1, 20))
        start_hour = self.rng.randint(8, 14)
        minutes = self.rng.choice([60, 90, 120, 150, 180, 210, 240])
        start = dt.datetime.combine(day, dt.time(start_hour, 0))
        end = start + dt.timedelta(minutes=minutes)
        record = {
            "volunteer_no": volunteer_no,
            "project_no": project_no,
            "started_at": start.strftime("%Y-%m-%dT%H:%M:%S"),
            "ended_at": end.strftime("%Y-%m-%dT%H:%M:%S"),
            "hours": round(minutes / 60, 2),
            "status": "2",
            "source": "1",
            "kind": "1",
            "description": f"conformance run {self.run_id}",
            "source_id": self.tag("service"),
            "source_updated_at": self._now(),
        }
        record.update(overrides)
        return record

    @staticmethod
    def record(entity: str, data: dict[str, Any], op: str = "upsert") -> dict[str, Any]:
        return {"entity": entity, "op": op, "data": data}

    def batch(self, records: list[dict[str, Any]], sender: str,
              batch_id: str | None = None, schema_version: str = "1") -> dict[str, Any]:
        return {"schema_version": schema_version, "sender": sender,
                "batch_id": batch_id or self.tag("batch"),
                "generated_at": self._now(), "records": records}

    @staticmethod
    def _now() -> str:
        return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M:%S+08:00")
