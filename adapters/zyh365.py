"""A zyh365-style (志愿汇) provincial platform: incremental pulls and pushes over its own API.

The platform (../shared/spec/README.md, "Systems that exchange this data today"; simulated
in tests/simulators/zyh365.py) speaks:

Transport
    ``POST {base_url}/api/syn/{department|volunteer|duration|hisduration}`` with form
    parameters ``time=yyyymmdd`` (records changed on or after that day), ``maxid`` (records
    with a larger ``id``) and ``rows`` (80 at most); reply ``{"errCode": "000", "errMsg": "",
    "data": [...], "maxid": ...}`` in ``id`` order. Writes: ``POST {base_url}/api/push/
    {volunteer|duration}`` with a JSON body ``{"data": [...]}`` (80 records at most), reply
    ``{"errCode": "000", "results": [{"index", "code", "msg", ...}]}``. Errors come as HTTP
    200 with an ``errCode`` other than ``"000"`` (``001`` signature, ``002`` timestamp,
    ``003`` nonce, ``004`` AccessKeyId, ``005`` parameter, ``500`` internal).

Signatures, both ways
    Every request is signed Aliyun-style (RPC, signature version 1.0, HMAC-SHA1): see
    :func:`sign`. The platform does **not** sign its replies, so there is nothing to verify
    cryptographically on the way in; what arrives is verified strictly instead: ``errCode``
    must be exactly the string ``"000"``, ``data`` a list of objects with integer ids above
    the requested ``maxid`` in ascending order, no more rows than asked for, ``maxid`` equal
    to the last id; push replies must answer every record once. Anything else is an
    :class:`AdapterError` naming the code (``500`` and transport failures:
    :class:`~gateway.adapter.AdapterUnavailable`, worth a retry).

Entities and cursors
    ``team`` ← department, ``volunteer`` ← volunteer, ``service_record`` ← hisduration then
    duration (historical service time first, when ``history`` is on). The cursor is the
    largest ``id`` read per kind, as text: ``"volunteer:12345"``,
    ``"service_record:hisduration=17,duration=4096"``. The platform's ``id`` grows with every
    change, so the cursor alone finds every later insert and update; ``time`` stays the
    configured ``since``. An empty page answers ``"maxid": 0`` (a quirk): the cursor never
    moves backwards. ``has_more`` is "the page was full" (the platform does not say).

Mapping (the platform's quirks; ``""`` counts as absent)
    volunteer: vcode ↔ volunteer_no, idcardtype (1 身份证 → 01, 2 护照 → 05, 3 港澳通行证 →
    02 / 03 by the permit's H / M prefix, 4 台胞证 → 04, 5 → 06, 6 → 07, 9 → 99), idcard ↔
    id_number, mphone ↔ mobile, sex text 男 / 女 ↔ gender 1 / 2, birthday ``1990/1/5`` ↔
    ``1990-01-05``, education / job / political by the platform's code lists, area (12
    digits) ↔ service_area (6 / 9 digits, or 12 below town level), updatetime ↔
    source_updated_at. team: depname, deptype (01/02/03 → 1/2/3), uscc, area, linkman,
    linkphone, status (-1/0/1/2/3 → 0/2/1/3/4). service_record: vcode, activity.id ↔
    project_no, signInTime / signOutTime ``yyyy-MM-dd HH:mm:ss`` ↔ started_at / ended_at,
    value (hours as text, checked against the times) ↔ hours, status 2 (the platform holds
    effective service time only). Personal data the standard keeps on the volunteer (the
    duration's name and idcard) are not copied into service records. ``source_id`` is not a
    record field here: it travels in :class:`~gateway.adapter.NativeItem` (vcode, depid, or
    ``vcode|signInTime`` for service time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import urllib.parse
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable
from zoneinfo import ZoneInfo

import orjson
import requests

from gateway.adapter import (Adapter, AdapterError, AdapterUnavailable, CheckResult, Issue,
                             MappingError, NativeItem, Page, WriteResult, pointer)

__all__ = ["Zyh365Adapter", "Zyh365Error", "Zyh365Unavailable", "sign", "string_to_sign",
           "percent_encode"]

MAX_ROWS = 80
TZ = ZoneInfo("Asia/Shanghai")   # the platform's local time
NATIVE_DATETIME = "%Y-%m-%d %H:%M:%S"
OK = "000"
# errCodes worth retrying: the platform's internal error (the rest are permanent as sent)
RETRYABLE = frozenset({"500"})
ERROR_NAMES = {"001": "bad signature", "002": "timestamp outside the 15-minute window",
               "003": "nonce already used", "004": "unknown AccessKeyId", "005": "bad parameter",
               "404": "unknown kind", "500": "internal error"}

ENTITY_KINDS = {"team": ("department",), "volunteer": ("volunteer",),
                "service_record": ("hisduration", "duration")}
PUSH_KIND = {"volunteer": "volunteer", "service_record": "duration"}

# -- code lists: the platform's code → the standard's ---------------------------------------

ID_TYPE = {"1": "01", "2": "05", "4": "04", "5": "06", "6": "07", "9": "99"}   # "3": by prefix
ID_TYPE_BACK = {"01": "1", "05": "2", "02": "3", "03": "3", "04": "4", "06": "5", "6": "5",
                "07": "6", "7": "6", "99": "9", "9": "9"}
EDUCATION = {"1": "11", "2": "14", "3": "20", "4": "30", "5": "40", "6": "50", "7": "60",
             "8": "70", "9": "80", "10": "00", "11": "99"}
JOB = {"1": "11", "2": "13", "3": "17", "4": "21", "5": "24", "6": "27", "7": "31", "8": "37",
       "9": "51", "10": "54", "11": "70", "12": "80", "13": "90"}
POLITICAL = {**{str(n): f"{n:02d}" for n in range(1, 14)}, "99": "20"}
SEX = {"男": "1", "女": "2"}
TEAM_TYPE = {"01": "1", "02": "2", "03": "3"}
TEAM_STATUS = {"-1": "0", "0": "2", "1": "1", "2": "3", "3": "4"}


def _inverse(table: dict[str, str]) -> dict[str, str]:
    return {standard: native for native, standard in table.items()}


# -- signatures -------------------------------------------------------------------------------

def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding (space → %20, ``*`` → %2A, ``~`` kept), UTF-8."""
    return urllib.parse.quote(value, safe="~")


def string_to_sign(params: dict[str, str], method: str = "POST") -> str:
    """``METHOD&%2F&`` + the percent-encoded canonical query (sorted, encoded, ``&``-joined)."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(params[k])}"
                         for k in sorted(params) if k != "Signature")
    return f"{method}&%2F&{percent_encode(canonical)}"


def sign(params: dict[str, str], secret: str, method: str = "POST") -> str:
    """The Aliyun RPC signature (version 1.0): base64(HMAC-SHA1(secret + "&", string to sign)).

    Written out here on purpose: it is the whole algorithm (a few lines), and no maintained
    library implements this exact variant on its own — Aliyun's SDKs embed it in their
    clients and their current signature version (V3, ACS3-HMAC-SHA256) is a different scheme.
    """
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(params, method).encode(), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()


# -- errors -------------------------------------------------------------------------------------

class Zyh365Error(AdapterError):
    """The platform refused a request (``code`` is its errCode) or answered something malformed."""

    def __init__(self, code: str | None, message: str):
        self.code = code
        super().__init__(message)


class Zyh365Unavailable(Zyh365Error, AdapterUnavailable):
    """Transport failure or the platform's internal error (errCode 500): retry later."""


# -- the adapter ----------------------------------------------------------------------------------

class Zyh365Adapter(Adapter):
    """Pulls and pushes through a zyh365-style platform's signed per-kind endpoints."""

    name = "zyh365"
    entities = ("team", "volunteer", "service_record")
    cannot_delete_reason = ("the platform's API has no delete: its push endpoints only add or "
                            "update records")
    verification = ("requests signed Aliyun-style (HMAC-SHA1, signature version 1.0); the platform "
                    "does not sign its replies, so they are checked strictly (errCode, ids "
                    "ascending above maxid, row count, maxid)")
    settings_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "zyh365-style provincial platform",
        "type": "object",
        "additionalProperties": False,
        "required": ["base_url", "access_key_id", "access_key_secret"],
        "properties": {
            "base_url": {"type": "string", "pattern": "^https?://[^\\s/]+(/\\S*)?$",
                         "description": "The platform's address, e.g. https://api.example.cn "
                                        "(…/api/syn/… and …/api/push/… are below it)."},
            "access_key_id": {"type": "string", "minLength": 1,
                              "description": "AccessKeyId the platform issued to the gateway."},
            "access_key_secret": {"type": "string", "minLength": 1,
                                  "description": "AccessKeySecret (signs every request; keep secret)."},
            "since": {"type": "string", "pattern": "^[0-9]{8}$", "default": "20000101",
                      "description": "The 'time' parameter, yyyymmdd: records changed on or "
                                     "after this day."},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600, "default": 30,
                        "description": "Seconds to wait for each reply."},
            "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_ROWS, "default": MAX_ROWS,
                          "description": "Rows per request (the platform serves 80 at most)."},
            "history": {"type": "boolean", "default": True,
                        "description": "Also read historical service time (/api/syn/hisduration)."},
        },
    }

    #: the clock used for the signature's Timestamp (tests shift it)
    clock: Callable[[], float] = staticmethod(time.time)

    def __init__(self, settings, *, http: requests.Session | None = None):
        super().__init__(settings, http=http)
        self._base = self.settings["base_url"].rstrip("/")
        self._since = self.settings.get("since", "20000101")
        self._timeout = self.settings.get("timeout", 30)
        self._rows = min(self.settings.get("page_size", MAX_ROWS), MAX_ROWS)
        self._kinds = dict(ENTITY_KINDS)
        if not self.settings.get("history", True):
            self._kinds["service_record"] = ("duration",)

    # -- transport --------------------------------------------------------------------------

    def _signed(self, params: dict[str, str]) -> dict[str, str]:
        out = dict(params)
        out.update(AccessKeyId=self.settings["access_key_id"], SignatureMethod="HMAC-SHA1",
                   SignatureVersion="1.0", SignatureNonce=uuid.uuid4().hex, Format="JSON",
                   Timestamp=datetime.fromtimestamp(self.clock(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        out["Signature"] = sign(out, self.settings["access_key_secret"])
        return out

    def _call(self, path: str, params: dict[str, str], body: dict | None = None) -> dict:
        """One signed POST; the reply's JSON object once its errCode is "000"."""
        url = f"{self._base}{path}"
        try:
            if body is None:
                response = self.http.post(url, data=self._signed(params), timeout=self._timeout)
            else:
                response = self.http.post(url, params=self._signed(params), data=orjson.dumps(body),
                                          headers={"Content-Type": "application/json"},
                                          timeout=self._timeout)
        except requests.RequestException as exc:
            raise Zyh365Unavailable(None, f"zyh365 {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            kind = Zyh365Unavailable if response.status_code >= 500 or response.status_code == 429 else Zyh365Error
            raise kind(None, f"zyh365 {path}: HTTP {response.status_code}")
        try:
            reply = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise Zyh365Unavailable(None, f"zyh365 {path}: the reply is not JSON") from None
        if not isinstance(reply, dict):
            raise Zyh365Error(None, f"zyh365 {path}: the reply is not a JSON object")
        code = reply.get("errCode")
        if code != OK:
            if not isinstance(code, str):
                raise Zyh365Error(None, f"zyh365 {path}: the reply has no errCode string")
            kind = Zyh365Unavailable if code in RETRYABLE else Zyh365Error
            detail = ERROR_NAMES.get(code, "error")
            message = reply.get("errMsg")
            raise kind(code, f"zyh365 {path}: errCode {code} ({detail})"
                             + (f": {message}" if isinstance(message, str) and message else ""))
        return reply

    def _pull(self, kind: str, maxid: int, rows: int, since: str | None = None) -> list[dict]:
        path = f"/api/syn/{kind}"
        reply = self._call(path, {"time": since or self._since, "maxid": str(maxid), "rows": str(rows)})
        data = reply.get("data")
        if not isinstance(data, list):
            raise Zyh365Error(None, f"zyh365 {path}: 'data' is not a list")
        if len(data) > rows:
            raise Zyh365Error(None, f"zyh365 {path}: {len(data)} rows for rows={rows}")
        last = maxid
        for n, record in enumerate(data):
            record_id = record.get("id") if isinstance(record, dict) else None
            if type(record_id) is not int or record_id <= last:
                raise Zyh365Error(None, f"zyh365 {path}: row {n} has no id above {last} "
                                        "(ids must be integers in ascending order)")
            last = record_id
        if data and reply.get("maxid") != last:
            raise Zyh365Error(None, f"zyh365 {path}: maxid does not match the last row's id")
        return data

    # -- R4 ----------------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """A signed pull that returns nothing (time in the far future): reachable and accepted."""
        try:
            self._pull("volunteer", 0, 1, since="29991231")
        except AdapterError as exc:
            return CheckResult(False, str(exc))
        return CheckResult(True, f"{self._base}: signed request accepted")

    # -- R5, R6: reading -------------------------------------------------------------------

    def _parse_cursor(self, entity: str, cursor: str | None) -> dict[str, int]:
        kinds = ENTITY_KINDS[entity]
        state = {kind: 0 for kind in kinds}
        if cursor is None:
            return state
        if len(kinds) == 1:
            match = re.fullmatch(rf"{kinds[0]}:([0-9]+)", cursor)
            if match:
                state[kinds[0]] = int(match.group(1))
                return state
        else:
            prefix = f"{entity}:"
            if cursor.startswith(prefix):
                try:
                    for part in cursor[len(prefix):].split(","):
                        kind, _, value = part.partition("=")
                        if kind not in state or not value.isdigit():
                            raise ValueError(part)
                        state[kind] = int(value)
                    return state
                except ValueError:
                    pass
        raise AdapterError(f"zyh365: {cursor!r} is not a {entity} cursor of this adapter")

    @staticmethod
    def _format_cursor(entity: str, state: dict[str, int]) -> str:
        if len(state) == 1:
            (kind, value), = state.items()
            return f"{kind}:{value}"
        return f"{entity}:" + ",".join(f"{kind}={value}" for kind, value in state.items())

    def read(self, entity: str, cursor: str | None, page_size: int) -> Page:
        self.require_entity(entity)
        state = self._parse_cursor(entity, cursor)
        wanted = max(1, min(page_size, self._rows))
        items: list[NativeItem] = []
        has_more = False
        for kind in self._kinds[entity]:
            room = wanted - len(items)
            if room <= 0:
                has_more = True
                break
            data = self._pull(kind, state[kind], room)
            for record in data:
                items.append(NativeItem(record, _source_id(kind, record), "upsert",
                                        f"{kind} id={record['id']}"))
            if data:
                state[kind] = data[-1]["id"]
            has_more = len(data) == room
            if has_more:
                break
        if not items:
            return Page([], cursor, False)
        return Page(items, self._format_cursor(entity, state), has_more)

    # -- R7, R8: mapping -------------------------------------------------------------------

    def to_standard(self, entity: str, native: dict[str, Any]) -> dict[str, Any]:
        self.require_entity(entity)
        if not isinstance(native, dict):
            raise MappingError([Issue("", "mapping.invalid", "记录必须是对象", "the record must be an object")])
        mapper = _Native(native)
        record = {"team": _team_to_standard, "volunteer": _volunteer_to_standard,
                  "service_record": _duration_to_standard}[entity](mapper)
        mapper.raise_issues()
        return record

    def from_standard(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        self.require_entity(entity)
        if not isinstance(record, dict):
            raise MappingError([Issue("", "mapping.invalid", "记录必须是对象", "the record must be an object")])
        mapper = _Standard(record)
        native = {"team": _team_from_standard, "volunteer": _volunteer_from_standard,
                  "service_record": _duration_from_standard}[entity](mapper)
        mapper.raise_issues()
        return native

    # -- R9, R10: writing --------------------------------------------------------------------

    def write(self, entity: str, records: list[dict[str, Any]]) -> list[WriteResult]:
        self.require_entity(entity)
        kind = PUSH_KIND.get(entity)
        if kind is None:
            raise AdapterError(f"zyh365: the platform accepts no {entity} records "
                               f"(it takes pushes of {', '.join(PUSH_KIND)} only)")
        results: list[WriteResult | None] = [None] * len(records)
        pending: list[tuple[int, dict]] = []
        for index, record in enumerate(records):
            try:
                pending.append((index, self.from_standard(entity, record)))
            except MappingError as exc:
                results[index] = WriteResult(False, None, exc.issues)
        for start in range(0, len(pending), MAX_ROWS):
            chunk = pending[start:start + MAX_ROWS]
            for (index, native), answer in zip(chunk, self._push(kind, [n for _, n in chunk])):
                results[index] = _write_result(entity, native, answer)
        return [r if r is not None else WriteResult(False) for r in results]

    def _push(self, kind: str, natives: list[dict]) -> list[dict]:
        path = f"/api/push/{kind}"
        reply = self._call(path, {}, {"data": natives})
        answers = reply.get("results")
        if not isinstance(answers, list) or len(answers) != len(natives):
            raise Zyh365Error(None, f"zyh365 {path}: expected {len(natives)} results")
        by_index: dict[int, dict] = {}
        for answer in answers:
            index = answer.get("index") if isinstance(answer, dict) else None
            if type(index) is not int or not 0 <= index < len(natives) or index in by_index \
                    or not isinstance(answer.get("code"), str):
                raise Zyh365Error(None, f"zyh365 {path}: malformed per-record results")
            by_index[index] = answer
        return [by_index[i] for i in range(len(natives))]


def _source_id(kind: str, record: dict) -> str:
    """The record's stable identity on the platform (not its ``id``, which changes on update)."""
    if kind == "volunteer":
        key = record.get("vcode")
    elif kind == "department":
        key = record.get("depid")
    else:
        vcode, sign_in = record.get("vcode"), record.get("signInTime")
        key = f"{vcode}|{sign_in}" if isinstance(vcode, str) and vcode and isinstance(sign_in, str) else None
    # A record without its key still gets an identity (its change id) so that it can be
    # reported; the mapping then refuses it.
    return key if isinstance(key, str) and key else f"{kind}#{record['id']}"


# The platform names the field it refuses ("字段格式错误：sex"): point into the standard record.
_NATIVE_TO_STANDARD_KEY = {
    "volunteer": {"vcode": "volunteer_no", "name": "name", "idcardtype": "id_type", "idcard": "id_number",
                  "mphone": "mobile", "email": "email", "education": "education",
                  "job": "employment_status", "political": "political_status", "address": "address",
                  "sex": "gender", "birthday": "birth_date", "area": "service_area"},
    "service_record": {"vcode": "volunteer_no", "activity": "project_no", "value": "hours",
                       "signInTime": "started_at", "signOutTime": "ended_at"},
}


def _write_result(entity: str, native: dict, answer: dict) -> WriteResult:
    code = answer["code"]
    if code == OK:
        if entity == "volunteer":
            native_id = answer.get("vcode") or native.get("vcode")
        else:
            native_id = f"{native['vcode']}|{native['signInTime']}"
        if not isinstance(native_id, str) or not native_id:
            raise Zyh365Error(None, "zyh365: a push result without the record's key")
        return WriteResult(True, native_id)
    message = answer.get("msg") if isinstance(answer.get("msg"), str) else ""
    field = re.search(r"[：:]\s*([A-Za-z]+)", message)
    key = _NATIVE_TO_STANDARD_KEY[entity].get(field.group(1)) if field else None
    if code == "E11":           # the duration's volunteer is not on the platform
        key = "volunteer_no"
    return WriteResult(False, None, [Issue(pointer(key) if key else "", f"zyh365.{code}",
                                           f"平台拒收（{code}）：{message}",
                                           f"the platform refused the record (code {code}): {message}")])


# -- mapping helpers --------------------------------------------------------------------------------

class _Issues:
    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, key: str, rule: str, zh: str, en: str) -> None:
        self.issues.append(Issue(pointer(key), rule, zh, en))

    def raise_issues(self) -> None:
        if self.issues:
            raise MappingError(self.issues)


class _Native(_Issues):
    """Reads fields of a native record; problems are collected with pointers into it."""

    def __init__(self, record: dict[str, Any]):
        super().__init__()
        self.record = record

    def text(self, key: str) -> str | None:
        value = self.record.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            self.add(key, "mapping.invalid", f"{key} 应为文本", f"{key} must be text")
            return None
        return value

    def required(self, key: str) -> str | None:
        value = self.text(key)
        if value is None and key not in {i.pointer[1:] for i in self.issues}:
            self.add(key, "mapping.missing", f"缺少 {key}", f"{key} is missing")
        return value

    def code(self, key: str, table: dict[str, str]) -> str | None:
        value = self.text(key)
        if value is None:
            return None
        if value not in table:
            self.add(key, "mapping.unknown_code", f"{key} 的代码在平台代码表中没有对应的标准代码",
                     f"{key}: the platform's code has no counterpart in the standard's code table")
            return None
        return table[value]

    def area(self, key: str) -> str | None:
        value = self.text(key)
        if value is None:
            return None
        if _AREA12(value) is None:
            self.add(key, "mapping.invalid", f"{key} 应为 12 位区划代码", f"{key} must be a 12-digit area code")
            return None
        if value[9:] != "000":
            return value                       # a community: keep all 12 digits
        return value[:6] if value[6:9] == "000" else value[:9]

    def datetime(self, key: str, required: bool = False) -> str | None:
        value = self.required(key) if required else self.text(key)
        if value is None:
            return None
        moment = _native_datetime(value)
        if moment is None:
            self.add(key, "mapping.invalid", f"{key} 应为 yyyy-MM-dd HH:mm:ss 格式的时间",
                     f"{key} must be a date-time as yyyy-MM-dd HH:mm:ss")
            return None
        return moment.isoformat()


_NATIVE_DATETIME_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}").fullmatch
_AREA12 = re.compile(r"[0-9]{12}").fullmatch
_BIRTHDAY = re.compile(r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})").fullmatch


def _native_datetime(value: str) -> datetime | None:
    """``yyyy-MM-dd HH:mm:ss`` exactly, and a real moment (strptime is ten times slower)."""
    if _NATIVE_DATETIME_SHAPE(value) is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class _Standard(_Issues):
    """Reads fields of a standard record for the platform; pointers into the standard record."""

    def __init__(self, record: dict[str, Any]):
        super().__init__()
        self.record = record

    def get(self, key: str) -> Any:
        return self.record.get(key)

    def text(self, key: str) -> str:
        value = self.record.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.add(key, "mapping.invalid", f"{key} 应为文本", f"{key} must be text")
            return ""
        return value

    def code(self, key: str, table: dict[str, str]) -> str:
        value = self.text(key)
        if value and value not in table:
            self.add(key, "mapping.unknown_code", f"{key} 的代码在平台代码表中没有对应值",
                     f"{key}: the platform's code list has no counterpart for this code")
            return ""
        return table.get(value, "")

    def area(self, key: str) -> str:
        value = self.text(key)
        if not value:
            return ""
        if re.fullmatch(r"[0-9]{6}", value):
            return value + "000000"
        if re.fullmatch(r"[0-9]{9}", value):
            return value + "000"
        if re.fullmatch(r"[0-9]{12}", value):
            return value
        if re.fullmatch(r"[0-9]{12}0{6}", value):
            return value[:12]
        self.add(key, "mapping.invalid", f"{key} 无法表示为平台的 12 位区划代码",
                 f"{key} cannot be written as the platform's 12-digit area code")
        return ""

    def datetime(self, key: str) -> str:
        value = self.text(key)
        if not value:
            return ""
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.add(key, "mapping.invalid", f"{key} 不是有效的日期时间", f"{key} is not a valid date-time")
            return ""
        if moment.tzinfo is not None:
            moment = moment.astimezone(TZ).replace(tzinfo=None)   # the platform keeps local time
        return moment.strftime(NATIVE_DATETIME)


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _volunteer_to_standard(n: _Native) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "volunteer_no", n.text("vcode"))
    _put(out, "name", n.required("name"))
    number = n.required("idcard")
    kind = n.required("idcardtype")
    if kind == "3":   # 港澳通行证: Hong Kong or Macau by the permit's prefix (H / M)
        out["id_type"] = "03" if number and number.startswith("M") else "02"
    elif kind is not None:
        _put(out, "id_type", n.code("idcardtype", ID_TYPE))
    _put(out, "id_number", number)
    _put(out, "gender", n.code("sex", SEX))
    birthday = n.text("birthday")
    if birthday is not None:
        match = _BIRTHDAY(birthday)
        try:
            out["birth_date"] = date(*map(int, match.groups())).isoformat() if match else None
        except ValueError:
            out["birth_date"] = None
        if out["birth_date"] is None:
            del out["birth_date"]
            n.add("birthday", "mapping.invalid", "birthday 应为 yyyy/M/d 格式的有效日期",
                  "birthday must be a real date written yyyy/M/d")
    _put(out, "political_status", n.code("political", POLITICAL))
    _put(out, "education", n.code("education", EDUCATION))
    _put(out, "employment_status", n.code("job", JOB))
    _put(out, "mobile", n.text("mphone"))
    _put(out, "email", n.text("email"))
    _put(out, "address", n.text("address"))
    _put(out, "service_area", n.area("area"))
    _put(out, "source_updated_at", n.datetime("updatetime"))
    return out


def _volunteer_from_standard(s: _Standard) -> dict[str, Any]:
    id_type, number = s.text("id_type"), s.text("id_number")
    kind = s.code("id_type", ID_TYPE_BACK)
    # The platform holds Hong Kong / Macau residents by their Home Return Permit (H… / M…)
    # and Taiwan residents by their travel permit (8 or 10 digits): other documents of those
    # types would come back as something they are not.
    if id_type in ("02", "03") and not re.fullmatch(("H" if id_type == "02" else "M") + r"[0-9]{8}([0-9]{2})?", number):
        s.add("id_number", "mapping.invalid",
              "平台只登记港澳居民来往内地通行证（香港 H、澳门 M 开头加 8 或 10 位数字）",
              "the platform holds Hong Kong / Macau residents only by their Home Return Permit "
              "(H for Hong Kong, M for Macau, then 8 or 10 digits)")
    if id_type == "04" and not re.fullmatch(r"[0-9]{8}([0-9]{2})?", number):
        s.add("id_number", "mapping.invalid", "平台只登记台湾居民来往大陆通行证（8 或 10 位数字）",
              "the platform holds Taiwan residents only by their travel permit (8 or 10 digits)")
    birth = s.text("birth_date")
    birthday = ""
    if birth:
        try:
            day = date.fromisoformat(birth)
            birthday = f"{day.year}/{day.month}/{day.day}"
        except ValueError:
            s.add("birth_date", "mapping.invalid", "birth_date 不是有效日期", "birth_date is not a valid date")
    return {
        "vcode": s.text("volunteer_no"),
        "name": s.text("name"),
        "idcardtype": kind,
        "idcard": number,
        "mphone": s.text("mobile"),
        "email": s.text("email"),
        "education": s.code("education", _inverse(EDUCATION)),
        "job": s.code("employment_status", _inverse(JOB)),
        "political": s.code("political_status", _inverse(POLITICAL)),
        "address": s.text("address"),
        "sex": s.code("gender", _inverse(SEX)),
        "birthday": birthday,
        "area": s.area("service_area"),
        "updatetime": s.datetime("source_updated_at"),
    }


def _team_to_standard(n: _Native) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "name", n.required("depname"))
    _put(out, "team_type", n.code("deptype", TEAM_TYPE))
    _put(out, "uscc", n.text("uscc"))
    _put(out, "contact_name", n.text("linkman"))
    _put(out, "contact_mobile", n.text("linkphone"))
    _put(out, "area", n.area("area"))
    _put(out, "status", n.code("status", TEAM_STATUS))
    _put(out, "source_updated_at", n.datetime("updatetime"))
    return out


def _team_from_standard(s: _Standard) -> dict[str, Any]:
    return {
        "depname": s.text("name"),
        "deptype": s.code("team_type", _inverse(TEAM_TYPE)),
        "uscc": s.text("uscc"),
        "area": s.area("area"),
        "linkman": s.text("contact_name"),
        "linkphone": s.text("contact_mobile"),
        "status": s.code("status", _inverse(TEAM_STATUS)),
        "updatetime": s.datetime("source_updated_at"),
    }


def _hours(value: str) -> int | float | None:
    """"3.5" → 3.5, "2" → 2, "2.0" → 2.0 (the number keeps the text's form, so it writes back the same)."""
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        return None
    return float(value) if "." in value else int(value)


def _duration_to_standard(n: _Native) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "volunteer_no", n.required("vcode"))
    activity = n.record.get("activity")
    if not isinstance(activity, dict) or not isinstance(activity.get("id"), str) or not activity["id"]:
        n.add("activity", "mapping.missing", "缺少活动编号 activity.id", "activity.id is missing")
    else:
        out["project_no"] = activity["id"]
    started = n.datetime("signInTime", required=True)
    ended = n.datetime("signOutTime", required=True)
    value = n.required("value")
    if value is not None:
        hours = _hours(value)
        if hours is None:
            n.add("value", "mapping.invalid", "value 应为小时数（如 3.5）", "value must be a number of hours (e.g. 3.5)")
        else:
            out["hours"] = hours
            # Recompute from the times: the platform's figure must be the signed-in period
            # (2 decimals), or the record is not what it claims.
            if started and ended:
                seconds = (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
                if seconds > 0 and abs(float(hours) - seconds / 3600) > 0.005:
                    expected = (Decimal(round(seconds)) / 3600).quantize(Decimal("0.01"))
                    n.add("value", "mapping.invalid",
                          f"value 与签到、签退时间不符：应为 {expected} 小时",
                          f"value does not match signInTime and signOutTime: expected {expected} hours")
    _put(out, "started_at", started)
    _put(out, "ended_at", ended)
    out["status"] = "2"      # the platform holds effective service time only
    _put(out, "source_updated_at", n.datetime("updatetime"))
    return out


def _duration_from_standard(s: _Standard) -> dict[str, Any]:
    status = s.text("status")
    if status and status != "2":
        s.add("status", "mapping.unknown_code", "平台只接收已生效（2）的服务时长",
              "the platform accepts effective service time (status 2) only")
    hours = s.get("hours")
    value = ""
    if isinstance(hours, bool) or not isinstance(hours, (int, float)):
        s.add("hours", "mapping.invalid", "hours 应为数字", "hours must be a number")
    else:
        value = repr(hours) if isinstance(hours, float) else str(hours)
        try:
            exponent = Decimal(value).as_tuple().exponent
        except InvalidOperation:
            exponent = -99
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value) or (isinstance(exponent, int) and exponent < -2):
            s.add("hours", "mapping.invalid", "平台的时长最多保留 2 位小数",
                  "the platform keeps hours with at most 2 decimals")
            value = ""
    return {
        "vcode": s.text("volunteer_no"),
        "activity": {"id": s.text("project_no"), "name": ""},
        "value": value,
        "signInTime": s.datetime("started_at"),
        "signOutTime": s.datetime("ended_at"),
        "updatetime": s.datetime("source_updated_at"),
    }
