"""Reading JSON and NDJSON input safely: strict UTF-8, bounded depth, streamed when large.

Used by every way in (HTTP, CLI, exchange) so that all of them refuse the same bad input
with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any, Iterator

import ijson
import orjson


class InputError(ValueError):
    """Input that cannot be read as JSON at all (as opposed to a record that is invalid)."""

    def __init__(self, slug: str, message_zh: str, message_en: str, line: int | None = None):
        super().__init__(message_en)
        self.slug = slug
        self.message_zh = message_zh
        self.message_en = message_en
        self.line = line


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays/objects nest deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, (dict, list)))
    return False


def _too_deep(limit: int, line: int | None = None) -> InputError:
    return InputError("too-deep", f"JSON 嵌套超过 {limit} 层", f"JSON nests deeper than {limit} levels",
                      line)


def loads(data: bytes, max_depth: int, line: int | None = None) -> Any:
    """Parse one JSON document from bytes, refusing bad UTF-8, bad JSON and deep nesting."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "utf-8" in text.lower() or "surrogate" in text.lower():
            raise InputError("invalid-encoding", "内容不是有效的 UTF-8 编码", f"input is not valid UTF-8: {text}",
                             line) from None
        if "recursion" in text.lower() or "depth" in text.lower():
            raise _too_deep(max_depth, line) from None
        raise InputError("invalid-json", f"JSON 格式错误：{text}", f"malformed JSON: {text}", line) from None
    # Cheap pre-check: a document with fewer brackets than the limit cannot nest deeper.
    if data.count(b"[") + data.count(b"{") > max_depth and depth_exceeds(value, max_depth):
        raise _too_deep(max_depth, line)
    return value


@dataclass(frozen=True)
class Line:
    """One NDJSON line: its number and either its value or why it could not be read."""

    number: int
    value: Any = None
    error: InputError | None = None


def iter_ndjson(stream: IO[bytes], max_depth: int) -> Iterator[Line]:
    """Lines of an NDJSON stream, one at a time; blank lines are skipped; bad lines reported."""
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            yield Line(number, loads(raw, max_depth, number))
        except InputError as exc:
            yield Line(number, error=exc)


def first_char(stream: IO[bytes]) -> bytes:
    """The first non-blank byte of a seekable stream, leaving the position unchanged."""
    start = stream.tell()
    try:
        while chunk := stream.read(4096):
            stripped = chunk.lstrip(b" \t\r\n\xef\xbb\xbf")
            if stripped:
                return stripped[:1]
        return b""
    finally:
        stream.seek(start)


def iter_json_array(stream: IO[bytes], prefix: str = "item") -> Iterator[Any]:
    """Items of a (possibly huge) JSON array, streamed with ijson; numbers come back as floats."""
    try:
        yield from ijson.items(stream, prefix, use_float=True)
    except ijson.common.IncompleteJSONError as exc:
        raise InputError("invalid-json", f"JSON 格式错误：{exc}", f"malformed JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError("invalid-encoding", "内容不是有效的 UTF-8 编码",
                         f"input is not valid UTF-8: {exc}") from None


def envelope_header(stream: IO[bytes]) -> dict[str, Any]:
    """The top-level scalar members of a JSON object, streamed (the records are skipped)."""
    header: dict[str, Any] = {}
    try:
        for prefix, event, value in ijson.parse(stream, use_float=True):
            if "." not in prefix and prefix and event in ("string", "number", "boolean", "null"):
                header[prefix] = value
    except ijson.common.IncompleteJSONError as exc:
        raise InputError("invalid-json", f"JSON 格式错误：{exc}", f"malformed JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError("invalid-encoding", "内容不是有效的 UTF-8 编码",
                         f"input is not valid UTF-8: {exc}") from None
    return header
