"""Generated, realistic records for benchmarks (deterministic for a given seed)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Iterator

from stdnum.cn import ric

import schemas

_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"


class VolunteerFactory:
    """Valid volunteer records with real checksums, current regions and table codes."""

    def __init__(self, seed: int = 1):
        self.rng = random.Random(seed)
        self.counties = [row["code"] for row in schemas.read_table("regions", "areas")]
        self.codes = {t: list(schemas.code_table(t)) for t in
                      ("ethnicity", "political_status", "education", "employment_status",
                       "service_category", "skill", "language")}

    def citizen_id(self, region: str, born: date, male: bool) -> str:
        seq = self.rng.randrange(0, 100) * 10 + self.rng.randrange(0, 5) * 2 + (1 if male else 0)
        body = f"{region}{born:%Y%m%d}{seq:03d}"
        # stdnum drops the last character before computing, so pass a placeholder check char.
        return body + ric.calc_check_digit(body + "0")

    def volunteer(self, i: int) -> dict:
        rng = self.rng
        region = rng.choice(self.counties)
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
        male = rng.random() < 0.5
        return {
            "name": rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.randint(1, 2))),
            "id_type": "01",
            "id_number": self.citizen_id(region, born, male),
            "gender": "1" if male else "2",
            "birth_date": born.isoformat(),
            "nationality": "156",
            "ethnicity": rng.choice(self.codes["ethnicity"]),
            "political_status": rng.choice(self.codes["political_status"]),
            "education": rng.choice(self.codes["education"]),
            "employment_status": rng.choice(self.codes["employment_status"]),
            "mobile": f"1{rng.choice('3456789')}{rng.randrange(0, 10**9):09d}",
            "email": f"v{i}@example.org",
            "address": "某某路" + str(rng.randint(1, 999)) + "号",
            "residence_area": region,
            "service_area": region,
            "service_categories": rng.sample(self.codes["service_category"], k=rng.randint(1, 3)),
            "skills": rng.sample(self.codes["skill"], k=rng.randint(0, 2)),
            "languages": ["1"] if "1" in self.codes["language"] else self.codes["language"][:1],
            "registered_at": "2023-05-01",
            "source_id": f"src-{i}",
        }


# Ways to break a record that JSON Schema sees (the benchmark compares against plain jsonschema).
SCHEMA_BREAKERS = (
    lambda r: r.pop("mobile"),
    lambda r: r.update(mobile="12345"),
    lambda r: r.update(gender="3"),
    lambda r: r.update(name="名" * 40),
    lambda r: r.update(unknown_field=1),
    lambda r: r.update(service_categories=["0001", "0002", "0003", "0004", "0005"]),
    lambda r: r.update(id_type=1),
    lambda r: (r.update(ethnicity="99"), r.pop("name")),
)


def volunteers(count: int, invalid_share: float = 0.05, seed: int = 1) -> Iterator[tuple[dict, bool]]:
    """``count`` records and whether each was broken (``invalid_share`` of them are)."""
    factory = VolunteerFactory(seed)
    rng = random.Random(seed + 1)
    for i in range(count):
        record = factory.volunteer(i)
        broken = rng.random() < invalid_share
        if broken:
            rng.choice(SCHEMA_BREAKERS)(record)
        yield record, broken
