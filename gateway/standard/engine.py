"""The validation engine: one path for every record that enters or leaves the gateway.

Valid records are the common case, so each record first meets a compiled validator
(jsonschema-rs, Rust) that only answers yes or no. Only a record that fails is walked again
to collect every error with its JSON Pointer and keyword. The semantic rules
(``gateway.standard.rules``) likewise run a per-entity fast check first where one is
registered, and every rule only when it fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping
from zoneinfo import ZoneInfo

import jsonschema_rs

import schemas
from gateway.standard import messages
from gateway.standard.issues import Issue, Report, pointer
from gateway.standard.regions import Regions
from gateway.standard.rules import FastCheck, RuleContext, RuleDef, fast_check_for, rules_for

BATCH = "batch"


class UnknownEntity(LookupError):
    """The entity has no schema in this version."""


class UnsupportedVersion(LookupError):
    """The schema version is not one this gateway publishes."""


@dataclass(frozen=True)
class _Compiled:
    schema: dict
    fast: Any                       # jsonschema_rs validator
    rules: tuple[RuleDef, ...]
    rules_pass: FastCheck | None    # cheap "every rule passes" for schema-valid records


class Engine:
    """Validates records of any published entity and schema version.

    Build it once (``Engine.from_config``); it is thread-safe and holds no per-request state.
    """

    def __init__(self, regions: Regions, tz: ZoneInfo, min_volunteer_age: int = 6,
                 adult_age: int = 18, versions: Iterable[str] = schemas.SUPPORTED_VERSIONS,
                 hours_policy: str = "within_duration", same_day: bool = False,
                 national_required: str = "enforce", consent_required: bool = False):
        self.regions = regions
        self.consent_required = consent_required
        self.tz = tz
        self.min_volunteer_age = min_volunteer_age
        self.adult_age = adult_age
        self.hours_policy = hours_policy
        self.same_day = same_day
        self.national_required = national_required
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        # (version, entity) -> the nationally required fields taken out of ``required``
        self._relaxed: dict[tuple[str, str], list[tuple[str, str, bool, str]]] = {}
        # (version, entity) -> the conditional national requirements (``allOf`` if/then
        # marked x-national-required, e.g. by team type) taken out, compiled on their own
        self._relaxed_conditions: dict[tuple[str, str], Any] = {}
        self._lenient_compiled: dict[tuple[str, str], _Compiled] = {}
        for version in versions:
            for name in schemas.schema_names(version):
                schema = schemas.load_schema(version, name)
                if national_required == "warn":
                    schema, relaxed = relax_national_required(schema)
                    if relaxed:
                        self._relaxed[(version, name)] = relaxed
                    schema, conditions = relax_national_conditions(schema)
                    if conditions:
                        self._relaxed_conditions[(version, name)] = jsonschema_rs.validator_for(
                            {"allOf": conditions})
                self._compiled[(version, name)] = self._compile(name, schema)
        self.versions = tuple(versions)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Engine":
        return cls(Regions.load(), ZoneInfo(config["TIMEZONE"]),
                   min_volunteer_age=config["MIN_VOLUNTEER_AGE"], adult_age=config["ADULT_AGE"],
                   hours_policy=config.get("SERVICE_HOURS_POLICY", "within_duration"),
                   same_day=config.get("SERVICE_RECORD_SAME_DAY", False),
                   national_required=config.get("NATIONAL_REQUIRED", "enforce"),
                   consent_required=config.get("VOLUNTEER_CONSENT", "optional") == "require")

    @staticmethod
    def _compile(name: str, schema: dict) -> _Compiled:
        fast = jsonschema_rs.validator_for(schema, validate_formats=True)
        return _Compiled(schema, fast, tuple(rules_for(name)), fast_check_for(name))

    # -- introspection -----------------------------------------------------------------

    def entities(self, version: str = "1") -> list[str]:
        """Record entities of ``version`` (the batch envelope is not one)."""
        self._check_version(version)
        return sorted(n for (v, n) in self._compiled if v == version and n != BATCH)

    def schema(self, entity: str, version: str = "1") -> dict:
        return self._get(entity, version).schema

    def _check_version(self, version: str) -> None:
        if version not in self.versions:
            raise UnsupportedVersion(version)

    def _get(self, entity: str, version: str) -> _Compiled:
        try:
            return self._compiled[(version, entity)]
        except KeyError:
            self._check_version(version)
            raise UnknownEntity(entity) from None

    # -- validation ----------------------------------------------------------------------

    def context(self, now: datetime | None = None) -> RuleContext:
        """A rule context for one run; pass ``now`` to pin the clock (tests, replays)."""
        return RuleContext(now=now.astimezone(self.tz) if now else datetime.now(self.tz),
                           tz=self.tz, regions=self.regions,
                           min_volunteer_age=self.min_volunteer_age, adult_age=self.adult_age,
                           hours_policy=self.hours_policy, same_day=self.same_day,
                           consent_required=self.consent_required)

    def _lenient(self, entity: str, version: str) -> _Compiled:
        """The entity's schema without the national required flags (compiled once, on use)."""
        key = (version, entity)
        found = self._lenient_compiled.get(key)
        if found is None:
            schema, _ = relax_national_required(self._get(entity, version).schema)
            schema, _ = relax_national_conditions(schema)
            found = self._lenient_compiled[key] = self._compile(entity, schema)
        return found

    def lenient_schema(self, entity: str, version: str = "1") -> dict:
        """The schema ``validate(..., lenient=True)`` checks against."""
        return self._lenient(entity, version).schema

    def validate(self, entity: str, record: Any, version: str = "1",
                 ctx: RuleContext | None = None, lenient: bool = False) -> Report:
        """Every schema and rule error of one record (an empty report means valid).

        ``lenient``: what the national forms require (``x-national-required``) is not asked,
        whatever NATIONAL_REQUIRED says, and not warned of either: for records the gateway
        sends, kept before v2 asked for it (the change feed in v2).
        """
        if lenient:
            compiled = self._lenient(entity, version)
            report = Report(entity)
            if not compiled.fast.is_valid(record):
                report.issues.extend(schema_issues(compiled, record))
            if isinstance(record, dict):
                ctx = ctx or self.context()
                for rule in compiled.rules:
                    report.issues.extend(rule.fn(record, ctx))
            return report
        compiled = self._get(entity, version)
        report = Report(entity)
        relaxed = self._relaxed.get((version, entity))
        if relaxed and isinstance(record, dict):
            report.warnings.extend(national_required_warnings(record, relaxed))
        conditions = self._relaxed_conditions.get((version, entity))
        if conditions is not None and isinstance(record, dict):
            report.warnings.extend(national_condition_warnings(conditions, record))
        schema_valid = compiled.fast.is_valid(record)
        if not schema_valid:
            report.issues.extend(schema_issues(compiled, record))
            if not report.issues:  # is_valid and iter_errors disagree: never let a record through
                report.issues.append(Issue("", "schema.invalid", "记录不符合数据规范",
                                           "the record does not match the schema"))
        if isinstance(record, dict) and compiled.rules:
            ctx = ctx or self.context()
            if schema_valid and compiled.rules_pass is not None and compiled.rules_pass(record, ctx):
                return report
            for rule in compiled.rules:
                report.issues.extend(rule.fn(record, ctx))
        return report

    def validate_many(self, entity: str, records: Iterable[Any], version: str = "1",
                      ctx: RuleContext | None = None) -> Iterator[Report]:
        """Reports for ``records`` in order, sharing one clock reading."""
        ctx = ctx or self.context()
        for record in records:
            yield self.validate(entity, record, version, ctx)

    def validate_envelope(self, envelope: Any, version: str | None = None,
                          ctx: RuleContext | None = None) -> tuple[Report, list[Report]]:
        """The envelope's own report and one report per record, each against its entity."""
        if version is None:
            version = envelope.get("schema_version", "1") if isinstance(envelope, dict) else "1"
            version = version if isinstance(version, str) else "1"
        header = self.validate(BATCH, envelope, version, ctx)
        records = envelope.get("records") if isinstance(envelope, dict) else None
        if not isinstance(records, list):
            return header, []
        ctx = ctx or self.context()
        return header, [self.validate_item(item, version, ctx) for item in records]

    def validate_item(self, item: Any, version: str, ctx: RuleContext) -> Report:
        """One ``{entity, op, data}`` item of a batch: its data against its entity's schema."""
        entity = item.get("entity") if isinstance(item, dict) else None
        data = item.get("data") if isinstance(item, dict) else None
        if not isinstance(entity, str) or (version, entity) not in self._compiled or entity == BATCH:
            return Report(str(entity), [Issue("/entity", "batch.unknown_entity",
                                              "未知的数据类别", "unknown entity")])
        if item.get("op") == "delete":
            # A deletion names the record; it need not carry a complete one.
            return Report(entity)
        report = self.validate(entity, data, version, ctx)
        report.issues = [Issue("/data" + i.pointer, i.rule, i.message_zh, i.message_en)
                         for i in report.issues]
        report.warnings = [Issue("/data" + i.pointer, i.rule, i.message_zh, i.message_en)
                           for i in report.warnings]
        return report


def relax_national_required(schema: dict) -> tuple[dict, list[tuple[str, str, bool, str]]]:
    """``schema`` without the national required flags in its ``required`` lists, and what was
    taken out: ``(parent key or "", key, parent is an array, title)``."""
    import copy
    schema = copy.deepcopy(schema)
    taken: list[tuple[str, str, bool, str]] = []

    def strip(node: dict, parent: str, is_array: bool) -> None:
        props = node.get("properties", {})
        keep = []
        for key in node.get("required", []):
            if props.get(key, {}).get("x-national-required") or (
                    not parent and _has_national_required(props.get(key, {}))):
                taken.append((parent, key, is_array, props.get(key, {}).get("title", key)))
            else:
                keep.append(key)
        if "required" in node:
            node["required"] = keep
        if parent:
            return
        for key, prop in props.items():
            if prop.get("type") == "object":
                strip(prop, key, False)
            elif prop.get("type") == "array" and isinstance(prop.get("items"), dict):
                strip(prop["items"], key, True)

    strip(schema, "", False)
    return schema, taken


def relax_national_conditions(schema: dict) -> tuple[dict, list[dict]]:
    """``schema`` without its conditional national requirements (the members of ``allOf``
    marked ``x-national-required``: what the national forms require by team type), and them."""
    taken = [c for c in schema.get("allOf", []) if c.get("x-national-required")]
    if not taken:
        return schema, []
    schema = dict(schema)
    kept = [c for c in schema["allOf"] if not c.get("x-national-required")]
    if kept:
        schema["allOf"] = kept
    else:
        del schema["allOf"]
    return schema, taken


def national_condition_warnings(validator: Any, record: dict) -> list[Issue]:
    """A warning per conditionally required field that ``record`` lacks (NATIONAL_REQUIRED = warn)."""
    found = []
    for error in validator.iter_errors(record):
        if error.kind.name != "required":
            continue
        key = error.kind.property
        found.append(Issue(pointer(*error.instance_path, key), "national.required",
                           f"国家系统要求填写「{key}」（按队伍类型；本网关按设置仅作提示）",
                           f"the national system requires {key} for this team type; accepted "
                           "with a warning (NATIONAL_REQUIRED = warn)"))
    return sorted(found, key=lambda i: i.pointer)


def _has_national_required(prop: dict) -> bool:
    inner = prop.get("items") if prop.get("type") == "array" else prop
    return isinstance(inner, dict) and any(
        p.get("x-national-required") for p in inner.get("properties", {}).values())


def national_required_warnings(record: dict, relaxed: list[tuple[str, str, bool, str]]) -> list[Issue]:
    """A warning per nationally required field that ``record`` lacks (NATIONAL_REQUIRED = warn)."""
    found: list[Issue] = []
    for parent, key, is_array, title in relaxed:
        holders: list[tuple[tuple, dict]]
        if not parent:
            holders = [((), record)]
        elif is_array:
            items = record.get(parent)
            holders = [((parent, i), item) for i, item in enumerate(items)
                       if isinstance(item, dict)] if isinstance(items, list) else []
        else:
            holders = [((parent,), record[parent])] if isinstance(record.get(parent), dict) else []
        for path, holder in holders:
            if key not in holder:
                found.append(Issue(pointer(*path, key), "national.required",
                                   f"国家系统要求填写「{title}」（本网关按设置仅作提示）",
                                   f"the national system requires {key} ({title}); accepted "
                                   "with a warning (NATIONAL_REQUIRED = warn)"))
    return found


def schema_issues(compiled: "_Compiled", record: Any) -> list[Issue]:
    """Every JSON Schema error of ``record`` as Issues, sorted by pointer.

    jsonschema-rs collects the errors too (it is ~30x faster than python-jsonschema, which
    stays the reference the tests and the benchmark compare against).
    """
    issues: list[Issue] = []
    for error in compiled.fast.iter_errors(record):
        issues.extend(_issues_from_error(compiled.schema, error))
    issues.sort(key=lambda i: i.pointer)
    return issues


def _subschema(root: dict, schema_path: list) -> dict:
    """The schema object holding the failed keyword (the path minus its last step)."""
    node: Any = root
    for step in schema_path[:-1]:
        if isinstance(node, dict) and step == "$ref" and isinstance(node.get("$ref"), str):
            ref, node = node["$ref"], root
            for part in _ref_parts(ref):
                node = node.get(part, {}) if isinstance(node, dict) else {}
            continue
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return {}
    return node if isinstance(node, dict) else {}


def _ref_parts(ref: str) -> list[str]:
    """The steps of a local ``#/...`` reference."""
    return [p.replace("~1", "/").replace("~0", "~") for p in ref.lstrip("#/").split("/") if p]


def _issues_from_error(root: dict, error) -> Iterator[Issue]:
    path = list(error.instance_path)
    kind = error.kind
    keyword = kind.name
    if keyword == "required":
        yield Issue(pointer(*path, kind.property), "schema.required", *messages.required(kind.property))
        return
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        for name in kind.unexpected:
            yield Issue(pointer(*path, name), f"schema.{keyword}", *messages.unknown_field(name))
        return
    schema = _subschema(root, list(error.schema_path))
    expected = schema.get(keyword)
    rule = "code.unknown" if keyword == "enum" and "x-code-table" in schema else f"schema.{keyword}"
    yield Issue(pointer(*path), rule, *messages.for_keyword(keyword, expected, schema))
