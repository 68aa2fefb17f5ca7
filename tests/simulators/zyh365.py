"""A simulated 志愿汇-style (zyh365) provincial volunteer platform, quirks included.

What it does, as the real platform does (../shared/spec/README.md, "Systems that exchange
this data today"):

- **Incremental pull, one endpoint per kind**: ``POST /api/syn/{department|volunteer|duration|
  hisduration}`` with form or query parameters ``time=yyyymmdd`` (records changed on or after
  that local day), ``maxid`` (records whose ``id`` is greater) and ``rows`` (page size, 80 at
  most: a larger value is silently capped). Records come in ``id`` order. The reply is
  ``{"errCode": "000", "errMsg": "", "data": [...], "maxid": <largest id in data>}``.
- **Errors are not HTTP errors** (quirk): every reply is HTTP 200 and carries ``errCode``, a
  string: ``001`` bad signature, ``002`` timestamp outside the 15-minute window, ``003``
  nonce already used, ``004`` unknown AccessKeyId, ``005`` bad parameter, ``404`` unknown
  kind, ``500`` internal error.
- **Aliyun-style request signatures** (RPC style, signature version 1.0): the parameters
  AccessKeyId, SignatureMethod=HMAC-SHA1, SignatureVersion=1.0, SignatureNonce, Timestamp
  (ISO 8601 UTC, ``yyyy-MM-ddTHH:mm:ssZ``), Format=JSON and the business parameters, sorted
  by name, percent-encoded per RFC 3986, joined with ``&``; string to sign
  ``POST&%2F&`` + percentEncode(canonical); ``Signature`` = base64(HMAC-SHA1(secret + "&")).
  The signature is checked first, then the timestamp, then the nonce (so a forged request
  cannot use up a nonce). **Replies are not signed** — the real platform does not sign them.
- **Push**: ``POST /api/push/{volunteer|duration}``, signed the same way (the signature
  parameters in the query string), JSON body ``{"data": [...]}`` of at most 80 records;
  reply ``{"errCode": "000", "results": [{"index": 0, "code": "000" | "E10" | ..., "msg":
  ..., "id": ..., ...}]}``. Idempotent by natural key: the ID card number for volunteers,
  vcode + signInTime for durations; pushing an unchanged record changes nothing. A pushed
  record may carry ``updatetime`` (the sender's change time), which is kept; without one
  the platform stamps the time of the push. Only the query parameters are signed: the
  scheme does not cover a JSON body (a weakness of the real scheme, kept as it is).
- **``id`` is a change sequence**: every insert or update stamps the record with a new,
  larger ``id`` (the platform's sync tables behave as change logs), so ``maxid`` alone is a
  complete incremental cursor and an updated record comes round again.
- **Field quirks**: sex as text (``男`` / ``女``), birthday as ``1990/1/5``, date-times as
  ``yyyy-MM-dd HH:mm:ss`` local time (space separator), hours as a string (``"3.5"``),
  12-digit area codes, the platform's own code lists (ID type, education, job, political
  status, team type and status), and missing values sent as ``""`` rather than left out.
  An empty page answers ``"maxid": 0`` (not the requested maxid): a client that takes the
  reply's maxid as its cursor without thinking would start again from the beginning.

Data live in memory. ``Zyh365Platform.seed`` adds N generated records per kind that are
*computed from their id on demand* (a deterministic function), so a platform serving
1,000,000 volunteers holds no more than a few counters; pushed and updated records are kept
as dicts. The generated records are valid against the standard once mapped (checksummed ID
numbers and credit codes, current region codes, hours that match the times).

Run it in a test with ``running(platform)`` (werkzeug on 127.0.0.1, port 0, in a thread), or
as a process: ``python -m tests.simulators.zyh365 --volunteers 1000000`` prints
``listening on http://127.0.0.1:<port>`` and serves until killed.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import hashlib
import hmac
import importlib
import re
import sys
import threading
import time as _time
import urllib.parse
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

import orjson
from flask import Flask, Response, request
from stdnum.cn import ric
from stdnum.iso7064 import mod_37_36
from werkzeug.serving import WSGIRequestHandler, make_server

# -- the platform's protocol constants -------------------------------------------------------

OK = "000"
ERR_SIGNATURE = "001"
ERR_EXPIRED = "002"
ERR_REPLAYED = "003"
ERR_ACCESS_KEY = "004"
ERR_PARAMETER = "005"
ERR_UNKNOWN_KIND = "404"
ERR_INTERNAL = "500"
# per-record push results
REC_INVALID = "E10"         # a field is missing or malformed
REC_UNKNOWN_VOLUNTEER = "E11"
REC_CONFLICT = "E12"        # the vcode belongs to another person

KINDS = ("department", "volunteer", "duration", "hisduration")
PUSH_KINDS = ("volunteer", "duration")
MAX_ROWS = 80
WINDOW_SECONDS = 15 * 60
TZ = ZoneInfo("Asia/Shanghai")          # the platform's local time
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

DEFAULT_ACCESS_KEY_ID = "zyh-gateway"
DEFAULT_ACCESS_KEY_SECRET = "zyh-simulator-secret"

# -- the platform's own code lists -------------------------------------------------------------

ID_CARD_TYPES = {"1": "身份证", "2": "护照", "3": "港澳通行证", "4": "台胞证",
                 "5": "军官证", "6": "士兵证", "9": "其他"}
EDUCATION = {"1": "博士", "2": "硕士", "3": "本科", "4": "大专", "5": "中专/中技", "6": "技校",
             "7": "高中", "8": "初中", "9": "小学", "10": "文盲或半文盲", "11": "其他"}
JOBS = {"1": "公务员", "2": "专业技术人员", "3": "职员", "4": "企业管理人员", "5": "工人",
        "6": "农民", "7": "学生", "8": "现役军人", "9": "自由职业者", "10": "个体经营者",
        "11": "无业人员", "12": "离退休人员", "13": "其他"}
POLITICAL = {"1": "中共党员", "2": "中共预备党员", "3": "共青团员", "4": "民革党员",
             "5": "民盟盟员", "6": "民建会员", "7": "民进会员", "8": "农工党党员",
             "9": "致公党党员", "10": "九三学社社员", "11": "台盟盟员", "12": "无党派人士",
             "13": "群众", "99": "其他"}
DEPARTMENT_TYPES = {"01": "志愿服务团体", "02": "志愿服务组织", "03": "其他法人组织"}
DEPARTMENT_STATUS = {"-1": "审核不通过", "0": "待审核", "1": "正常", "2": "停用", "3": "已注销"}

# -- deterministic generation ------------------------------------------------------------------

# Current towns / streets of Hangzhou (schemas/regions/streets.csv) and current counties.
_STREETS = ("330102001", "330102003", "330105001", "330105002", "330105003", "330106002",
            "330108001", "330108002", "330108003", "330109001", "330109002", "330109003")
_COUNTIES = ("330102", "330105", "330106", "330108", "330109", "330110")
# ID numbers keep the code of the county where they were issued, abolished ones included
# (330103 下城区 and 330104 江干区 were merged away in 2021).
_ID_REGIONS = ("330102", "330103", "330104", "330105", "330106", "330108", "330109", "330110")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红文斌辉玲晨浩宇欣怡"
_LATIN = ("Anna Smith", "John Brown", "Maria Garcia", "Ken Sato", "Lena Muller", "Omar Haddad")
_ACTIVITIES = ("社区助老陪伴", "西湖景区文明引导", "垃圾分类宣传", "图书馆阅读推广", "马拉松赛事保障",
               "献血站服务", "防汛应急值守", "社区义诊协助")
_BIRTH_BASE = date(1950, 1, 1)
_BIRTH_SPAN = 20_000                     # days: births 1950-01-01 .. 2004-10-04 (adults)
_UPDATED_BASE = {"department": datetime(2023, 6, 1), "volunteer": datetime(2024, 1, 1),
                 "duration": datetime(2024, 10, 1), "hisduration": datetime(2019, 1, 1)}
_SERVICE_BASE = {"duration": date(2022, 1, 1), "hisduration": date(2016, 1, 1)}


def _name(i: int) -> str:
    given = _GIVEN[(i // 7) % len(_GIVEN)] + (_GIVEN[(i // 11) % len(_GIVEN)] if i % 3 else "")
    return _SURNAMES[i % len(_SURNAMES)] + given


def _mobile(i: int) -> str:
    return f"1{3 + i % 7}{(i * 7919 + 12345) % 10**9:09d}"


def _area12(i: int) -> str:
    """A 12-digit area code: mostly a street, some a whole county, a few a community."""
    street = _STREETS[i % len(_STREETS)]
    if i % 10 == 4:
        return street[:6] + "000000"
    if i % 10 == 7:
        return street + f"{i % 200 + 1:03d}"          # a community below the street
    return street + "000"


def _id_document(i: int) -> tuple[str, str, bool, date]:
    """(idcardtype, idcard, male, birthday) of generated volunteer ``i``."""
    birth = _BIRTH_BASE + timedelta(days=i % _BIRTH_SPAN)
    seq = (i // _BIRTH_SPAN) % 1000
    slot = i % 100
    if slot == 7:
        return "2", f"E{i:08d}", i % 2 == 1, birth            # passport
    if slot == 17:
        prefix = "H" if i % 2 else "M"                         # Hong Kong / Macau permit
        return "3", f"{prefix}{i:08d}", i % 2 == 1, birth
    if slot == 27:
        return "4", f"{i:08d}", i % 2 == 1, birth              # Taiwan permit (8 digits)
    body = f"{_ID_REGIONS[i % len(_ID_REGIONS)]}{birth:%Y%m%d}{seq:03d}"
    return "1", body + ric.calc_check_digit(body + "0"), seq % 2 == 1, birth  # (takes 18 chars)


def make_vcode(county: str, yymm: str, seq: int) -> str:
    """A unified volunteer number: V + 6-digit area + YYMM + 6-digit sequence + check character."""
    body = f"V{county}{yymm}{seq:06d}"
    return body + mod_37_36.calc_check_digit(body[1:])


def _vcode(i: int) -> str:
    month = i // 1_000_000
    yymm = f"{24 + month // 12:02d}{month % 12 + 1:02d}"
    return make_vcode(_area12(i)[:6], yymm, i % 1_000_000)


def _updated(kind: str, i: int, step: int) -> str:
    return (_UPDATED_BASE[kind] + timedelta(seconds=i * step)).strftime(DATETIME_FORMAT)


def _hours_text(minutes: int) -> str:
    """Hours as the platform writes them: "1", "0.5", "2.25" (no trailing zeros)."""
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


def gen_volunteer(i: int, step: int) -> dict[str, Any]:
    kind, idcard, male, birth = _id_document(i)
    return {
        "id": i,
        "vcode": _vcode(i),
        "name": _LATIN[i % len(_LATIN)] if kind == "2" else _name(i),
        "idcardtype": kind,
        "idcard": idcard,
        "mphone": _mobile(i),
        "email": "" if i % 4 == 0 else f"v{i}@example.com",
        "education": str(i % 11 + 1),
        "job": "" if i % 9 == 0 else str(i % 13 + 1),
        "political": str(i % 13 + 1),
        "address": f"杭州市{('文三路', '莫干山路', '江南大道', '市心路')[i % 4]}{i % 999 + 1}号",
        "sex": "男" if male else "女",
        "birthday": f"{birth.year}/{birth.month}/{birth.day}",
        "area": _area12(i),
        "updatetime": _updated("volunteer", i, step),
    }


def _org_code(i: int) -> str:
    """A GB 11714 organisation code (8 characters + check) for generated team ``i``."""
    body = f"MA{i % 10**6:06d}"
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in body]
    check = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2))) % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def _uscc(prefix: str, county: str, i: int) -> str:
    from stdnum.cn import uscc
    body = prefix + county + _org_code(i)
    return body + uscc.calc_check_digit(body)


def gen_department(i: int, step: int) -> dict[str, Any]:
    area = _area12(i)
    deptype = "03" if i % 5 == 0 else "02"
    return {
        "id": i,
        "depid": str(100000 + i),
        "depname": f"杭州{('上城', '拱墅', '西湖', '滨江', '萧山', '余杭')[i % 6]}志愿服务队{i}",
        "deptype": deptype,
        "uscc": _uscc("12" if deptype == "03" else "52", area[:6], i),
        "area": area,
        "linkman": _name(i + 7),
        "linkphone": _mobile(i + 7),
        "status": "0" if i % 50 == 0 else "1",
        "updatetime": _updated("department", i, step),
    }


def _service_window(kind: str, i: int, volunteers: int) -> tuple[int, datetime, datetime]:
    """(volunteer id, sign-in, sign-out) of generated duration ``i``: same day, 0.5-3.25 h."""
    v = (i - 1) % volunteers + 1
    k = (i - 1) // volunteers
    day = _SERVICE_BASE[kind] + timedelta(days=k % 1000)
    start = datetime(day.year, day.month, day.day, 8 + (k // 1000) % 10, 15 * (i % 4))
    return v, start, start + timedelta(minutes=30 + 15 * (i % 12))


def gen_duration(kind: str, i: int, step: int, volunteers: int) -> dict[str, Any]:
    v, start, end = _service_window(kind, i, volunteers)
    volunteer = gen_volunteer(v, step)
    activity = i % 300 + 1
    return {
        "id": i,
        "vcode": volunteer["vcode"],
        "name": volunteer["name"],
        "idcard": volunteer["idcard"],
        "activity": {"id": f"A{activity:06d}", "name": _ACTIVITIES[activity % len(_ACTIVITIES)]},
        "address": f"杭州市{('西湖区', '上城区', '滨江区')[i % 3]}服务点{activity}",
        "value": _hours_text(30 + 15 * (i % 12)),
        "signInTime": start.strftime(DATETIME_FORMAT),
        "signOutTime": end.strftime(DATETIME_FORMAT),
        "updatetime": _updated(kind, i, step),
    }


# -- decoding natural keys of generated records (so pushes can find them) -------------------------

def _generated_volunteer_id_by_idcard(idcard: str) -> int | None:
    if len(idcard) == 18 and idcard[:17].isdigit():
        try:
            birth = date(int(idcard[6:10]), int(idcard[10:12]), int(idcard[12:14]))
        except ValueError:
            return None
        return int(idcard[14:17]) * _BIRTH_SPAN + (birth - _BIRTH_BASE).days
    if re.fullmatch(r"[EHM][0-9]{8}", idcard):
        return int(idcard[1:])
    if re.fullmatch(r"[0-9]{8}", idcard):
        return int(idcard)
    return None


def _generated_volunteer_id_by_vcode(vcode: str) -> int | None:
    if not re.fullmatch(r"V[0-9]{16}[0-9A-Z]", vcode):
        return None
    yy, mm = int(vcode[7:9]), int(vcode[9:11])
    return ((yy - 24) * 12 + mm - 1) * 1_000_000 + int(vcode[11:17])


# -- signatures (the server side, written independently of the adapter's client side) -----------

def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as the Aliyun SDKs do it: quote_plus, then '+' → %20, '*' → %2A, %7E → '~'."""
    return (urllib.parse.quote_plus(value, encoding="utf-8")
            .replace("+", "%20").replace("*", "%2A").replace("%7E", "~"))


def string_to_sign(params: dict[str, str], method: str = "POST") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(params[k])}"
                         for k in sorted(params) if k != "Signature")
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    digest = hmac.new((secret + "&").encode(), string_to_sign(params, method).encode(), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()


def signed_params(params: dict[str, str], access_key_id: str, secret: str, *,
                  nonce: str, timestamp: datetime) -> dict[str, str]:
    """``params`` plus every signature parameter, signed (for tests that talk to the platform raw)."""
    out = dict(params, AccessKeyId=access_key_id, SignatureMethod="HMAC-SHA1", SignatureVersion="1.0",
               SignatureNonce=nonce, Timestamp=timestamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               Format="JSON")
    out["Signature"] = signature(out, secret)
    return out


class PlatformError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# -- storage ---------------------------------------------------------------------------------------

@dataclass
class _Table:
    """One kind's records: ids 1..generated computed on demand, the rest stored."""

    kind: str
    generated: int = 0
    superseded: set[int] = field(default_factory=set)     # generated ids replaced by an update
    stored: dict[int, dict] = field(default_factory=dict)  # id → record (pushed / updated)
    stored_ids: list[int] = field(default_factory=list)    # ascending; may hold removed ids
    by_key: dict[Any, int] = field(default_factory=dict)   # natural key → id, stored records only
    next_id: int = 1


class Zyh365Platform:
    """The platform's state and behaviour, independent of HTTP (the Flask app wraps it)."""

    def __init__(self, access_key_id: str = DEFAULT_ACCESS_KEY_ID,
                 access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET, *,
                 clock: Callable[[], float] = _time.time, step_seconds: int = 10,
                 delay_seconds: float = 0.0):
        self.keys = {access_key_id: access_key_secret}
        self.delay = delay_seconds        # a slow platform: each request waits this long first
        self.clock = clock
        self.step = step_seconds          # generated records: updatetime advances by this per id
        self.tables = {kind: _Table(kind) for kind in KINDS}
        self._lock = threading.RLock()
        self._nonces: set[tuple[str, str]] = set()
        self._nonce_expiry: deque[tuple[float, tuple[str, str]]] = deque()   # in expiry order
        self._faults: deque[str] = deque()
        self._broken: dict[str, tuple[int, str]] = {}    # kind → (from maxid, errCode)
        self.requests: deque[tuple[str, dict[str, str]]] = deque(maxlen=2000)  # (path, unsigned params)
        self.rejected: deque[str] = deque(maxlen=2000)                          # errCodes answered
        #: seed(volunteer_records=…): the served volunteers, and (next id, its iterator)
        self._volunteer_records: Callable[[int], Iterable[dict]] | None = None
        self._served: tuple[int, Iterator[dict]] | None = None

    # -- seeding and faults -------------------------------------------------------------------

    def seed(self, *, volunteers: int = 0, departments: int = 0, durations: int = 0,
             hisdurations: int = 0,
             volunteer_records: Callable[[int], Iterable[dict]] | None = None) -> "Zyh365Platform":
        """Add generated records (computed from their id on demand; call once, before any push).

        ``volunteer_records``: instead of the platform's own volunteers, serve these —
        ``volunteer_records(volunteers)`` yields the records of ids 1, 2, … in order, in the
        platform's form; the platform stamps each with its ``id`` and ``updatetime``
        (benchmarks/sync_pull.py serves benchmarks/push.py's volunteers this way, so a pull
        loads the same people as the other paths). They are made as pages ask for them (a
        page asked for out of order starts them again from the first), so memory stays flat.
        Such a platform serves pulls of volunteers only: no durations (they would name the
        platform's own volunteers), and pushes do not look these up."""
        if (durations or hisdurations) and not (volunteers or self.tables["volunteer"].generated):
            raise ValueError("durations need generated volunteers to refer to")
        if volunteer_records is not None:
            if durations or hisdurations or self.tables["volunteer"].generated:
                raise ValueError("volunteer_records: volunteers only, seeded once")
            self._volunteer_records = volunteer_records
        with self._lock:
            for kind, count in (("volunteer", volunteers), ("department", departments),
                                ("duration", durations), ("hisduration", hisdurations)):
                table = self.tables[kind]
                if table.stored:
                    raise ValueError("seed before pushing records")
                table.generated += count
                table.next_id = table.generated + 1
        return self

    def fail_next(self, code: str = ERR_INTERNAL, times: int = 1) -> None:
        """Answer the next ``times`` correctly signed requests with errCode ``code``."""
        with self._lock:
            self._faults.extend([code] * times)

    def fail_pulls_from(self, kind: str, maxid: int, code: str = ERR_INTERNAL) -> None:
        """Answer every pull of ``kind`` asking for records after ``maxid`` or later with
        errCode ``code``: a platform that breaks at one point of its data, whichever order
        and however many requests come before (``fail_next`` counts requests)."""
        with self._lock:
            self._broken[kind] = (maxid, code)

    def pull_fault(self, kind: str, maxid: int) -> str | None:
        with self._lock:
            broken = self._broken.get(kind)
        return broken[1] if broken is not None and maxid >= broken[0] else None

    def add_key(self, access_key_id: str, secret: str) -> None:
        self.keys[access_key_id] = secret

    # -- records --------------------------------------------------------------------------------

    def _generate(self, kind: str, i: int) -> dict:
        if kind == "volunteer":
            if self._volunteer_records is not None:
                return self._given_volunteer(i)
            return gen_volunteer(i, self.step)
        if kind == "department":
            return gen_department(i, self.step)
        return gen_duration(kind, i, self.step, self.tables["volunteer"].generated)

    def _given_volunteer(self, i: int) -> dict:
        """Record ``i`` of ``seed(volunteer_records=…)``, stamped with its id and updatetime."""
        assert self._volunteer_records is not None
        if self._served is None or self._served[0] > i:
            self._served = (1, iter(self._volunteer_records(self.tables["volunteer"].generated)))
        at, records = self._served
        while at < i:
            next(records)
            at += 1
        record = next(records)
        self._served = (i + 1, records)
        return {**record, "id": i, "updatetime": _updated("volunteer", i, self.step)}

    def record(self, kind: str, record_id: int) -> dict | None:
        """The current record with this id (None when there is none or it was superseded)."""
        table = self.tables[kind]
        if 1 <= record_id <= table.generated and record_id not in table.superseded:
            return self._generate(kind, record_id)
        stored = table.stored.get(record_id)
        return dict(stored) if stored is not None else None

    def count(self, kind: str) -> int:
        table = self.tables[kind]
        return table.generated - len(table.superseded) + len(table.stored)

    def _find(self, kind: str, key: Any) -> int | None:
        """The id of the current record with this natural key."""
        target = "volunteer" if kind == "vcode" else kind
        table = self.tables[target]
        stored_key = ("vcode", key) if kind == "vcode" else key
        if stored_key in table.by_key:
            return table.by_key[stored_key]
        candidate = None
        if kind == "volunteer":
            candidate = _generated_volunteer_id_by_idcard(key)
        elif kind == "vcode":
            candidate = _generated_volunteer_id_by_vcode(key)
        elif kind in ("duration", "hisduration"):
            candidate = self._generated_duration_id(kind, *key)
        elif kind == "department":
            candidate = int(key) - 100000 if key.isdigit() else None
        if candidate is None or not 1 <= candidate <= table.generated or candidate in table.superseded:
            return None
        record = self._generate(target, candidate)
        if kind == "volunteer" and record["idcard"] != key:
            return None
        if kind == "vcode" and record["vcode"] != key:
            return None
        if kind in ("duration", "hisduration") and (record["vcode"], record["signInTime"]) != key:
            return None
        return candidate

    def _generated_duration_id(self, kind: str, vcode: str, sign_in: str) -> int | None:
        volunteers = self.tables["volunteer"].generated
        v = _generated_volunteer_id_by_vcode(vcode)
        try:
            start = datetime.strptime(sign_in, DATETIME_FORMAT)
        except ValueError:
            return None
        if v is None or not 1 <= v <= volunteers:
            return None
        k = (start.hour - 8) * 1000 + (start.date() - _SERVICE_BASE[kind]).days
        return k * volunteers + v if k >= 0 else None

    def insert(self, kind: str, native: dict) -> int:
        """Store a native record as it is, unchecked (tests: the platform's own odd data)."""
        with self._lock:
            record = {k: v for k, v in native.items() if k != "id"}
            keys: list[Any] = []
            if kind == "volunteer":
                keys = [record.get("idcard"), ("vcode", record.get("vcode"))]
            elif kind in ("duration", "hisduration"):
                keys = [(record.get("vcode"), record.get("signInTime"))]
            return self._put(kind, record, None, keys)

    def find_volunteer(self, *, idcard: str | None = None, vcode: str | None = None) -> dict | None:
        """The current volunteer record with this ID card number or vcode."""
        with self._lock:
            if idcard is not None:
                record_id = self._find("volunteer", idcard)
            else:
                record_id = self._find("vcode", vcode)
            return self.record("volunteer", record_id) if record_id is not None else None

    def find_duration(self, vcode: str, sign_in: str, kind: str = "duration") -> dict | None:
        with self._lock:
            record_id = self._find(kind, (vcode, sign_in))
            return self.record(kind, record_id) if record_id is not None else None

    def _put(self, kind: str, record: dict, old_id: int | None, keys: list[Any]) -> int:
        """Store ``record`` under a new id (a change), retiring ``old_id``.

        ``updatetime`` is the sender's change time when the push carried one, else now.
        """
        table = self.tables[kind]
        if old_id is not None:
            if old_id <= table.generated:
                table.superseded.add(old_id)
            table.stored.pop(old_id, None)
        record_id = table.next_id
        table.next_id += 1
        record["id"] = record_id
        if not record.get("updatetime"):
            record["updatetime"] = datetime.fromtimestamp(self.clock(), TZ).strftime(DATETIME_FORMAT)
        table.stored[record_id] = record
        table.stored_ids.append(record_id)
        for key in keys:
            table.by_key[key] = record_id
        return record_id

    # -- pull -----------------------------------------------------------------------------------

    def pull(self, kind: str, since: date | None, maxid: int, rows: int) -> list[dict]:
        """Records of ``kind`` with id > maxid changed on/after ``since``, in id order."""
        rows = max(1, min(rows, MAX_ROWS))
        table = self.tables[kind]
        out: list[dict] = []
        with self._lock:
            start = maxid + 1
            if since is not None and self.step > 0:
                # generated updatetimes grow with the id: jump to the first one on/after `since`
                offset = (datetime(since.year, since.month, since.day) - _UPDATED_BASE[kind]).total_seconds()
                start = max(start, -(-int(offset) // self.step))
            record_id = max(start, 1)
            while record_id <= table.generated and len(out) < rows:
                if record_id not in table.superseded:
                    out.append(self._generate(kind, record_id))
                record_id += 1
            if len(out) < rows:
                since_text = since.isoformat() if since else ""
                pos = bisect.bisect_right(table.stored_ids, maxid)
                for record_id in table.stored_ids[pos:]:
                    record = table.stored.get(record_id)
                    if record is None or record["updatetime"][:10] < since_text:
                        continue
                    out.append(dict(record))
                    if len(out) >= rows:
                        break
        return out

    # -- push -----------------------------------------------------------------------------------

    def push(self, kind: str, data: list[Any]) -> list[dict]:
        results = []
        with self._lock:
            for index, item in enumerate(data):
                try:
                    if not isinstance(item, dict):
                        raise PlatformError(REC_INVALID, "记录必须是对象")
                    if kind == "volunteer":
                        result = self._push_volunteer(item)
                    else:
                        result = self._push_duration(item)
                    results.append({"index": index, "code": OK, "msg": "", **result})
                except PlatformError as exc:
                    results.append({"index": index, "code": exc.code, "msg": exc.message})
        return results

    def _push_volunteer(self, item: dict) -> dict:
        record = {key: _text(item.get(key)) for key in
                  ("vcode", "name", "idcardtype", "idcard", "mphone", "email", "education", "job",
                   "political", "address", "sex", "birthday", "area", "updatetime")}
        for key in ("name", "idcardtype", "idcard", "mphone", "sex"):
            if not record[key]:
                raise PlatformError(REC_INVALID, f"缺少必填字段：{key}")
        _check(record["idcardtype"] in ID_CARD_TYPES, "idcardtype")
        _check(record["sex"] in ("男", "女"), "sex")
        _check(re.fullmatch(r"1[0-9]{10}", record["mphone"]), "mphone")
        _check(not record["birthday"] or re.fullmatch(r"[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}", record["birthday"]),
               "birthday")
        _check(not record["area"] or re.fullmatch(r"[0-9]{12}", record["area"]), "area")
        _check(not record["education"] or record["education"] in EDUCATION, "education")
        _check(not record["job"] or record["job"] in JOBS, "job")
        _check(not record["political"] or record["political"] in POLITICAL, "political")
        _check(not record["vcode"] or re.fullmatch(r"V[0-9]{16}[0-9A-Z]", record["vcode"]), "vcode")
        _check_updatetime(record["updatetime"])
        old_id = self._find("volunteer", record["idcard"])
        old = self.record("volunteer", old_id) if old_id is not None else None
        if record["vcode"]:
            holder = self._find("vcode", record["vcode"])
            if holder is not None and holder != old_id:
                raise PlatformError(REC_CONFLICT, "志愿者编号已被他人使用")
            if old is not None and old["vcode"] != record["vcode"]:
                raise PlatformError(REC_CONFLICT, "志愿者编号与已登记的不一致")
        else:
            record["vcode"] = old["vcode"] if old is not None else self._new_vcode(record["area"])
        if old is not None and _same(old, record):
            return {"id": old["id"], "vcode": old["vcode"]}
        record_id = self._put("volunteer", record, old_id, [record["idcard"], ("vcode", record["vcode"])])
        return {"id": record_id, "vcode": record["vcode"]}

    def _new_vcode(self, area: str) -> str:
        yymm = datetime.fromtimestamp(self.clock(), TZ).strftime("%y%m")
        table = self.tables["volunteer"]
        seq = 900_000 + len(table.stored_ids)
        while True:
            vcode = make_vcode((area or "330000")[:6], yymm, seq % 1_000_000)
            if ("vcode", vcode) not in table.by_key and self._find("vcode", vcode) is None:
                return vcode
            seq += 1

    def _push_duration(self, item: dict) -> dict:
        record = {key: _text(item.get(key))
                  for key in ("vcode", "address", "value", "signInTime", "signOutTime", "updatetime")}
        activity = item.get("activity")
        for key in ("vcode", "value", "signInTime", "signOutTime"):
            if not record[key]:
                raise PlatformError(REC_INVALID, f"缺少必填字段：{key}")
        _check(isinstance(activity, dict) and _text(activity.get("id")), "activity")
        record["activity"] = {"id": _text(activity["id"]), "name": _text(activity.get("name"))}
        try:
            start = datetime.strptime(record["signInTime"], DATETIME_FORMAT)
            end = datetime.strptime(record["signOutTime"], DATETIME_FORMAT)
        except ValueError:
            raise PlatformError(REC_INVALID, "字段格式错误：signInTime/signOutTime") from None
        _check(end > start, "signOutTime")
        _check(re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", record["value"]), "value")
        _check_updatetime(record["updatetime"])
        volunteer = self.find_volunteer(vcode=record["vcode"])
        if volunteer is None:
            raise PlatformError(REC_UNKNOWN_VOLUNTEER, "志愿者不存在")
        record = {"vcode": record["vcode"], "name": volunteer["name"], "idcard": volunteer["idcard"],
                  "activity": record["activity"], "address": record["address"], "value": record["value"],
                  "signInTime": record["signInTime"], "signOutTime": record["signOutTime"],
                  "updatetime": record["updatetime"]}
        key = (record["vcode"], record["signInTime"])
        old_id = self._find("duration", key)
        old = self.record("duration", old_id) if old_id is not None else None
        if old is not None and _same(old, record):
            return {"id": old["id"]}
        return {"id": self._put("duration", record, old_id, [key])}

    # -- signatures -------------------------------------------------------------------------------

    def verify(self, params: dict[str, str]) -> None:
        """Check a request's signature, timestamp and nonce, in that order (raises PlatformError)."""
        for name in ("AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce",
                     "Timestamp", "Signature", "Format"):
            if not params.get(name):
                raise PlatformError(ERR_SIGNATURE, f"缺少签名参数 {name}")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            raise PlatformError(ERR_SIGNATURE, "不支持的签名方法或版本")
        if params["Format"] != "JSON":
            raise PlatformError(ERR_PARAMETER, "Format 只支持 JSON")
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            raise PlatformError(ERR_ACCESS_KEY, "AccessKeyId 不存在")
        if not hmac.compare_digest(signature(params, secret).encode(), params["Signature"].encode()):
            raise PlatformError(ERR_SIGNATURE, "签名错误")
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise PlatformError(ERR_EXPIRED, "时间戳格式错误") from None
        now = self.clock()
        if abs(now - stamp.timestamp()) > WINDOW_SECONDS:
            raise PlatformError(ERR_EXPIRED, "时间戳已过期")
        key = (params["AccessKeyId"], params["SignatureNonce"])
        with self._lock:
            # A nonce need only be remembered while its timestamp could still be accepted.
            while self._nonce_expiry and self._nonce_expiry[0][0] < now:
                self._nonces.discard(self._nonce_expiry.popleft()[1])
            if key in self._nonces:
                raise PlatformError(ERR_REPLAYED, "SignatureNonce 已使用")
            self._nonces.add(key)
            self._nonce_expiry.append((now + 2 * WINDOW_SECONDS, key))

    def take_fault(self) -> str | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _check(ok: Any, key: str) -> None:
    if not ok:
        raise PlatformError(REC_INVALID, f"字段格式错误：{key}")


def _check_updatetime(value: str) -> None:
    if value:
        try:
            datetime.strptime(value, DATETIME_FORMAT)
        except ValueError:
            raise PlatformError(REC_INVALID, "字段格式错误：updatetime") from None


def _same(old: dict, new: dict) -> bool:
    """Nothing would change (an absent updatetime means "now": compare the rest)."""
    return all(old.get(k) == v for k, v in new.items() if k != "updatetime" or v)


# -- HTTP ------------------------------------------------------------------------------------------

def _reply(payload: dict) -> Response:
    # Always HTTP 200, errors included: the platform reports errors in errCode only.
    return Response(orjson.dumps(payload), status=200, mimetype="application/json")


def _error(code: str, message: str) -> Response:
    return _reply({"errCode": code, "errMsg": message, "data": []})


def _request_params() -> dict[str, str]:
    params: dict[str, str] = {}
    for source in (request.args, request.form if request.mimetype != "application/json" else {}):
        for key in source:
            values = source.getlist(key)
            if len(values) != 1 or key in params:
                raise PlatformError(ERR_PARAMETER, f"参数重复：{key}")
            params[key] = values[0]
    return params


def create_app(platform: Zyh365Platform) -> Flask:
    app = Flask("zyh365-simulator")

    def guarded(handler: Callable[[str, dict[str, str]], Response], kind: str) -> Response:
        if platform.delay:
            _time.sleep(platform.delay)
        try:
            params = _request_params()
            platform.verify(params)
            unsigned = {k: v for k, v in params.items() if k not in _SIGNATURE_PARAMS}
            platform.requests.append((request.path, unsigned))
            fault = platform.take_fault()
            if fault is not None:
                raise PlatformError(fault, "系统繁忙，请稍后再试")
            return handler(kind, unsigned)
        except PlatformError as exc:
            platform.rejected.append(exc.code)
            return _error(exc.code, exc.message)
        except Exception:  # the platform's own bugs surface as errCode 500, still HTTP 200
            platform.rejected.append(ERR_INTERNAL)
            return _error(ERR_INTERNAL, "系统内部错误")

    def syn(kind: str, params: dict[str, str]) -> Response:
        if kind not in KINDS:
            raise PlatformError(ERR_UNKNOWN_KIND, "未知的同步类型")
        since = None
        if params.get("time"):
            try:
                since = datetime.strptime(params["time"], "%Y%m%d").date()
            except ValueError:
                raise PlatformError(ERR_PARAMETER, "time 格式应为 yyyymmdd") from None
        try:
            maxid = int(params.get("maxid") or 0)
            rows = int(params.get("rows") or MAX_ROWS)
        except ValueError:
            raise PlatformError(ERR_PARAMETER, "maxid / rows 应为整数") from None
        if (fault := platform.pull_fault(kind, maxid)) is not None:
            raise PlatformError(fault, "系统繁忙，请稍后再试")
        data = platform.pull(kind, since, maxid, rows)
        return _reply({"errCode": OK, "errMsg": "", "data": data,
                       "maxid": data[-1]["id"] if data else 0})

    def push(kind: str, params: dict[str, str]) -> Response:
        if kind not in PUSH_KINDS:
            raise PlatformError(ERR_UNKNOWN_KIND, "不支持推送此类型")
        try:
            body = orjson.loads(request.get_data())
        except orjson.JSONDecodeError:
            raise PlatformError(ERR_PARAMETER, "请求体不是合法的 JSON") from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            raise PlatformError(ERR_PARAMETER, "data 应为非空数组")
        if len(data) > MAX_ROWS:
            raise PlatformError(ERR_PARAMETER, f"单次最多推送 {MAX_ROWS} 条")
        return _reply({"errCode": OK, "errMsg": "", "results": platform.push(kind, data)})

    @app.post("/api/syn/<kind>")
    def syn_view(kind: str) -> Response:
        return guarded(syn, kind)

    @app.post("/api/push/<kind>")
    def push_view(kind: str) -> Response:
        return guarded(push, kind)

    return app


_SIGNATURE_PARAMS = frozenset({"AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce",
                               "Timestamp", "Signature", "Format"})


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per request is noise here
        pass


@contextmanager
def running(platform: Zyh365Platform, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``platform`` on ``host`` (a free port) in a thread; yields its base URL."""
    server = make_server(host, 0, create_app(platform), threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="zyh365-simulator", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def wsgi_app(volunteers: int = 1000, departments: int = 0, durations: int = 0, hisdurations: int = 0,
             access_key_id: str = DEFAULT_ACCESS_KEY_ID,
             access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET, volunteer_records: str = "") -> Flask:
    """A seeded platform's app, for a WSGI server run as its own process (one worker: the
    nonces live in memory)::

        gunicorn -w 1 -k gthread --threads 4 'tests.simulators.zyh365:wsgi_app(volunteers=1000000)'

    ``volunteer_records``: ``"module:function"``, the ``volunteer_records`` of
    :meth:`Zyh365Platform.seed` (e.g. ``benchmarks.sync_pull:platform_volunteers``).
    """
    platform = Zyh365Platform(access_key_id, access_key_secret).seed(
        volunteers=volunteers, departments=departments, durations=durations, hisdurations=hisdurations,
        volunteer_records=_named(volunteer_records) if volunteer_records else None)
    return create_app(platform)


def _named(dotted: str) -> Callable[[int], Iterable[dict]]:
    """The function ``"module:function"`` names."""
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a simulated zyh365-style platform.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--volunteers", type=int, default=1000)
    parser.add_argument("--departments", type=int, default=0)
    parser.add_argument("--durations", type=int, default=0)
    parser.add_argument("--hisdurations", type=int, default=0)
    parser.add_argument("--access-key-id", default=DEFAULT_ACCESS_KEY_ID)
    parser.add_argument("--access-key-secret", default=DEFAULT_ACCESS_KEY_SECRET)
    parser.add_argument("--volunteer-records", default="", metavar="MODULE:FUNCTION",
                        help="serve these volunteers instead of the platform's own (Zyh365Platform.seed)")
    args = parser.parse_args(argv)
    platform = Zyh365Platform(args.access_key_id, args.access_key_secret).seed(
        volunteers=args.volunteers, departments=args.departments, durations=args.durations,
        hisdurations=args.hisdurations,
        volunteer_records=_named(args.volunteer_records) if args.volunteer_records else None)
    server = make_server(args.host, args.port, create_app(platform), threaded=True,
                         request_handler=_QuietHandler)
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
