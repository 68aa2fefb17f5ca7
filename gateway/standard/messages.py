"""Chinese and English messages for JSON Schema errors.

Messages name the field and the constraint but never repeat the submitted value: a value
in the wrong field may be an ID or mobile number, which must not leave the record.
"""

from __future__ import annotations

from typing import Any

_TYPES_ZH = {"string": "字符串", "integer": "整数", "number": "数字", "boolean": "布尔值",
             "object": "对象", "array": "数组", "null": "空值"}


def _field(schema: dict) -> tuple[str, str]:
    title = schema.get("title")
    return (f"「{title}」" if title else "该字段", "the field")


def required(name: str) -> tuple[str, str]:
    return f"缺少必填字段 {name}", f"required field {name} is missing"


def unknown_field(name: str) -> tuple[str, str]:
    return f"不允许的字段 {name}（数据规范中没有此字段）", f"unknown field {name} is not allowed"


def _types(value: Any) -> tuple[str, str]:
    names = value if isinstance(value, list) else [value]
    return "或".join(_TYPES_ZH.get(n, n) for n in names), " or ".join(names)


def for_keyword(keyword: str, expected: Any, schema: dict) -> tuple[str, str]:
    """The message pair for a failed keyword, with the schema's own Chinese title."""
    zh_field, _ = _field(schema)
    if keyword == "type":
        zh, en = _types(expected)
        return f"{zh_field}应为{zh}", f"must be of type {en}"
    if keyword == "enum":
        table = schema.get("x-code-table")
        if table:
            return (f"{zh_field}的代码不在代码表 {table} 中", f"code is not in code table {table}")
        return f"{zh_field}的取值不在允许的范围内", "value is not one of the allowed values"
    if keyword == "const":
        return f"{zh_field}应为 {expected}", f"must be {expected}"
    if keyword == "maxLength":
        return f"{zh_field}长度不能超过 {expected} 个字符", f"must be at most {expected} characters long"
    if keyword == "minLength":
        return f"{zh_field}长度不能少于 {expected} 个字符", f"must be at least {expected} characters long"
    if keyword == "pattern":
        return f"{zh_field}的格式不正确", "does not have the required format"
    if keyword == "format":
        return f"{zh_field}不是有效的 {expected}", f"is not a valid {expected}"
    if keyword in ("minimum", "exclusiveMinimum"):
        op_zh = "不能小于" if keyword == "minimum" else "必须大于"
        op_en = "must be at least" if keyword == "minimum" else "must be greater than"
        return f"{zh_field}{op_zh} {expected}", f"{op_en} {expected}"
    if keyword in ("maximum", "exclusiveMaximum"):
        op_zh = "不能大于" if keyword == "maximum" else "必须小于"
        op_en = "must be at most" if keyword == "maximum" else "must be less than"
        return f"{zh_field}{op_zh} {expected}", f"{op_en} {expected}"
    if keyword == "multipleOf":
        return f"{zh_field}应为 {expected} 的整数倍", f"must be a multiple of {expected}"
    if keyword == "maxItems":
        return f"{zh_field}最多 {expected} 项", f"must have at most {expected} items"
    if keyword == "minItems":
        return f"{zh_field}至少 {expected} 项", f"must have at least {expected} items"
    if keyword == "uniqueItems":
        return f"{zh_field}中有重复项", "must not contain duplicate items"
    if keyword in ("maxProperties", "minProperties"):
        return f"{zh_field}的字段数不符合要求", f"violates {keyword} {expected}"
    if keyword == "not":
        return f"{zh_field}的取值不被允许", "value is not allowed here"
    return f"{zh_field}不符合数据规范（{keyword}）", f"does not satisfy {keyword}"
