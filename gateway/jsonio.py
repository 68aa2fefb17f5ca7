"""Reading JSON and NDJSON input safely: strict UTF-8, bounded depth, streamed when large.

Used by every way in (HTTP, CLI, exchange) so that all of them refuse the same bad input
with the same words.
"""

from __future__ import annotations

import json
import re
from array import array
from dataclasses import dataclass
from itertools import accumulate
from typing import IO, Any, Iterator

import ijson
import orjson


class InputError(ValueError):
    """Input that cannot be read as JSON at all (as opposed to a record that is invalid)."""

    def __init__(self, slug: str, message_zh: str, message_en: str, line: int | None = None,
                 pointer: str | None = None):
        super().__init__(message_en)
        self.slug = slug
        self.message_zh = message_zh
        self.message_en = message_en
        self.line = line
        self.pointer = pointer  # JSON Pointer (RFC 6901) to the offending member, when known


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


def loads(data: bytes, max_depth: int, line: int | None = None, limits: "Limits | None" = None) -> Any:
    """Parse one JSON document from bytes, refusing bad UTF-8, bad JSON and deep nesting.

    With ``limits`` the document is also held to them (members per object, string length:
    :func:`text_shape_error`). Depth and limits are read from the text with a few C-level
    passes (counts, a translate, and only when a count says it may matter, the strings
    blanked out), not by walking the parsed value in Python; they refuse exactly what
    :func:`shape_error` refuses (tests/unit/test_jsonio_properties.py)."""
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
    problem = None
    if limits is not None:
        problem = text_shape_error(data, limits, line)
        if problem is not None and problem.slug == "too-deep":
            raise problem
    elif text_depth_exceeds(data, max_depth):
        raise _too_deep(max_depth, line)
    if has_duplicate_keys(data, value):
        raise _duplicate_key(_first_duplicate(data), line)
    if problem is not None:
        raise problem
    return value


# -- duplicate keys ------------------------------------------------------------------------------
# orjson (like most parsers) silently keeps the last of two equal keys, so {"a": 1, "a": 2}
# would read as {"a": 2}: a sender and the gateway could disagree on what was sent. A parsed
# document holds fewer keys than the text has members exactly when some object repeats a key;
# counting the text's members is one C-level pass (strings blanked out, then colons counted;
# without \u escapes, the colons of the text against those of the value serialised again),
# and only a document that has duplicates is parsed again, by the stdlib, to name the key.

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def _member_count(data: bytes) -> int:
    """Object members in JSON text (the colons outside strings); the text must be valid JSON."""
    return _without_strings(data).count(b":")


def _without_strings(data: bytes) -> bytes:
    """Valid JSON text with its strings (keys too) removed. Without an escaped quote every
    ``"`` opens or closes a string, so the text outside strings is every other piece between
    quotes (split and join in C, several times faster than the regular expression, which
    handles the rest)."""
    if b'\\"' not in data:
        return b"".join(data.split(b'"')[::2])
    return _JSON_STRING.sub(b"", data)


def _key_count(value: Any) -> int:
    """Keys of every object in a parsed JSON value: the members of its serialisation (orjson,
    in C), so that no Python walk of the value is needed. orjson writes at most 255 levels
    (it reads 1024): a deeper value, which a depth limit refuses anyway, is walked."""
    try:
        return _member_count(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return _key_count_walk(value)


def _key_count_walk(value: Any) -> int:
    """Keys of every object in a parsed JSON value (iterative: no recursion on hostile input)."""
    count, stack = 0, [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += len(node)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return count


def _pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


class _Repeated(dict):
    """An object read by the stdlib whose key ``repeated`` occurs more than once."""

    repeated: str


def _first_duplicate(data: bytes) -> str:
    """The JSON Pointer of the first repeated key of valid, depth-checked JSON text."""
    def pairs(items: list[tuple[str, Any]]) -> dict:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                obj = _Repeated(items)
                obj.repeated = key
                return obj
            seen.add(key)
        return dict(items)

    stack: list[tuple[Any, str]] = [(json.loads(data, object_pairs_hook=pairs), "")]
    while stack:
        node, here = stack.pop(0)
        if isinstance(node, _Repeated):
            return f"{here}/{_pointer_token(node.repeated)}"
        if isinstance(node, dict):
            stack.extend((v, f"{here}/{_pointer_token(k)}") for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{here}/{i}") for i, v in enumerate(node))
    return ""


def _duplicate_key(pointer: str, line: int | None = None) -> InputError:
    name = pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
    return InputError("duplicate-key", f"JSON 对象的键 {name!r} 重复出现（{pointer}）",
                      f"the key {name!r} occurs more than once in one object ({pointer})",
                      line, pointer)


def has_duplicate_keys(data: bytes, value: Any) -> bool:
    """Whether valid JSON text ``data``, parsed as ``value``, repeats a key in some object."""
    if b":" not in data:
        return False
    if b"\\u" not in data:
        # Without \u escapes a colon inside a string is a colon in the text, and orjson
        # writes it back as one: the text and the serialised value then hold the same
        # colons, string or not, unless members were dropped (each takes at least its own
        # colon with it). Two counts in C, no strings blanked out.
        try:
            return data.count(b":") != orjson.dumps(value).count(b":")
        except orjson.JSONEncodeError:  # deeper than orjson writes: counted below
            pass
    return _member_count(data) != _key_count(value)


def check_unique_keys(events: Iterator[tuple[str, str, Any]]) -> Iterator[tuple[str, str, Any]]:
    """ijson ``parse`` events passed through, raising InputError at the first repeated key.

    The streaming readers use this so that a huge document is held to the same rule as a
    small one (ijson, too, would otherwise keep every repeated member or the last one).
    """
    # One entry per open container: ["map", keys seen, current key] or ["array", index].
    stack: list[list[Any]] = []
    for prefix, event, value in events:
        if event == "map_key":
            top = stack[-1]
            if value in top[1]:
                raise _duplicate_key(_path(stack[:-1]) + f"/{_pointer_token(value)}")
            top[1].add(value)
            top[2] = value
        elif event in ("end_map", "end_array"):
            stack.pop()
        else:
            if stack and stack[-1][0] == "array":
                stack[-1][1] += 1
            if event == "start_map":
                stack.append(["map", set(), None])
            elif event == "start_array":
                stack.append(["array", -1])
        yield prefix, event, value


def _path(stack: list[list[Any]]) -> str:
    return "".join(f"/{_pointer_token(entry[2])}" if entry[0] == "map" else f"/{entry[1]}"
                   for entry in stack)


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
        for prefix, event, value in check_unique_keys(ijson.parse(stream, use_float=True)):
            if "." not in prefix and prefix and event in ("string", "number", "boolean", "null"):
                header[prefix] = value
    except ijson.common.IncompleteJSONError as exc:
        raise InputError("invalid-json", f"JSON 格式错误：{exc}", f"malformed JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError("invalid-encoding", "内容不是有效的 UTF-8 编码",
                         f"input is not valid UTF-8: {exc}") from None
    return header


# -- limits on one value, one line and one object (finding: one huge string in a push) ----------

#: ijson's read size. Its C backend (yajl) grows a token that spans reads by copying it,
#: so with small reads a long string costs time quadratic in its length (64 KiB reads: 20 MB
#: in 1.2 s, 50 MB in 25 s); 1 MiB reads keep it linear.
IJSON_BUF_SIZE = 1 << 20
_SCAN_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one document may hold: nesting, one value's bytes, one line's bytes, one object's
    members. From the settings MAX_JSON_DEPTH, MAX_VALUE_BYTES, MAX_LINE_BYTES, MAX_OBJECT_KEYS."""

    max_depth: int = 32
    max_value_bytes: int = 64 * 1024
    max_line_bytes: int = 1024 * 1024
    max_keys: int = 1000

    @classmethod
    def from_config(cls, config: Any) -> "Limits":
        return cls(config["MAX_JSON_DEPTH"], config["MAX_VALUE_BYTES"], config["MAX_LINE_BYTES"],
                   config["MAX_OBJECT_KEYS"])


def value_too_long(limit: int, line: int | None = None) -> InputError:
    return InputError("value-too-long", f"有一个值（或两个引号之间的内容）超过 {limit} 字节",
                      f"a value (or a run of the body between two quotes) is longer than "
                      f"{limit} bytes", line)


def line_too_long(limit: int, line: int | None = None) -> InputError:
    return InputError("line-too-long", f"第 {line} 行超过 {limit} 字节" if line else
                      f"有一行超过 {limit} 字节", f"a line is longer than {limit} bytes", line)


def too_many_keys(limit: int, line: int | None = None) -> InputError:
    return InputError("too-many-keys", f"一个对象的成员超过 {limit} 个",
                      f"an object has more than {limit} members", line)


class _RunCheck:
    """Whether a run of bytes without ``byte`` grows longer than ``limit``, fed chunk by chunk.

    Linear in the chunk: ``bytes.split`` (in C) cuts it at every ``byte`` and the pieces'
    lengths are compared. (A regular expression ``[^"]{limit+1}`` searched from every start
    position instead was quadratic in the length of the runs: a 5 MB body of 50 KB strings
    took a worker over a minute.)
    """

    def __init__(self, byte: bytes, limit: int) -> None:
        self.byte, self.limit = byte, limit
        self.carry = 0          # bytes since the last ``byte`` in earlier chunks

    def feed(self, chunk: bytes) -> bool:
        pieces = chunk.split(self.byte)
        if len(pieces) == 1:
            self.carry += len(chunk)
            return self.carry > self.limit
        if self.carry + len(pieces[0]) > self.limit:
            return True
        if len(pieces) > 2 and max(map(len, pieces[1:-1])) > self.limit:
            return True
        self.carry = len(pieces[-1])
        return False

    def done(self) -> bool:
        return self.carry > self.limit


def check_runs(stream: IO[bytes], limits: Limits, lines: bool) -> None:
    """Refuse a body holding a value longer than ``max_value_bytes`` (or, with ``lines``, a
    line longer than ``max_line_bytes``) before any parser sees it: :class:`InputError`.

    One linear pass in C (``bytes.find`` and a regular expression per 1 MiB read), reading
    the stream from where it is to its end and leaving it there. A JSON string cannot hold a
    bare ``"``, so a string longer than the limit is a run of more bytes than that without a
    quote; so is anything else that long between two quotes (a giant number or run of white
    space), which the limit refuses as well. A string of escaped quotes (``\\"``) is not a
    run, but its parsed value is checked against the same limit afterwards (:func:`shape_error`).
    """
    quotes = _RunCheck(b'"', limits.max_value_bytes)
    newlines = _RunCheck(b"\n", limits.max_line_bytes) if lines else None
    while chunk := stream.read(_SCAN_BYTES):
        if quotes.feed(chunk):
            raise value_too_long(limits.max_value_bytes)
        if newlines is not None and newlines.feed(chunk):
            raise line_too_long(limits.max_line_bytes)
    if quotes.done():
        raise value_too_long(limits.max_value_bytes)
    if newlines is not None and newlines.done():
        raise line_too_long(limits.max_line_bytes)


def shape_error(value: Any, limits: Limits, line: int | None = None, *,
                strings: bool = True) -> InputError | None:
    """Why a parsed value breaks ``limits`` (too deep, an object with too many members, a
    string too long), or None. Iterative: no recursion on hostile input.

    ``strings=False``: its strings are known to be within the limit on one value (read from
    the text they came from): only its arrays and objects are visited."""
    visited = (dict, list, str) if strings else (dict, list)
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            # a character is at most 4 bytes in UTF-8: count only when it may matter
            if strings and len(node) * 4 > limits.max_value_bytes and \
                    len(node.encode("utf-8", "surrogatepass")) > limits.max_value_bytes:
                return value_too_long(limits.max_value_bytes, line)
            continue
        if isinstance(node, dict):
            if len(node) > limits.max_keys:
                return too_many_keys(limits.max_keys, line)
            children: Any = node.values()
            if strings:
                stack.extend((key, depth) for key in node)
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limits.max_depth:
            return _too_deep(limits.max_depth, line)
        stack.extend([(child, depth + 1) for child in children if isinstance(child, visited)])
    return None


# -- the same limits read from the text (one document, before or after it is parsed) -------------
# orjson has no configurable depth (only its own recursion limit, 1024), and a search of the
# package docs found no well-kept Python parser taking a depth, member or string-length
# limit. The text of a valid document tells all three: brackets
# outside strings give the depth, colons outside strings the members, string literals their
# lengths (a decoded string is never longer in UTF-8 than its literal). Small documents —
# every ordinary record — are settled by counts alone.

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"[]{}:")
#: [ and { one level down, ] and } one up, as signed bytes.
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


_blanked = _without_strings


def _depth_of(blanked: bytes) -> int:
    """How deep the arrays/objects of string-free JSON text nest (the outermost is 1)."""
    steps = blanked.translate(_DEPTH_STEPS, _NOT_BRACKETS)
    return max(accumulate(array("b", steps))) if steps else 0


def text_depth_exceeds(data: bytes, limit: int) -> bool:
    """:func:`depth_exceeds` of valid JSON text, read from the text."""
    if data.count(b"[") + data.count(b"{") <= limit:  # fewer brackets than the limit
        return False
    return _depth_of(_blanked(data)) > limit


def _most_members(blanked: bytes) -> int:
    """The most members of one object in string-free JSON text."""
    most, stack = 0, [0]
    for byte in blanked.translate(None, _NOT_STRUCTURE):
        if byte == 58:            # ':' one more member of the innermost object
            stack[-1] += 1
        elif byte in (91, 123):   # '[' '{'
            stack.append(0)
        else:                     # ']' '}'
            most = max(most, stack.pop())
    return max(most, *stack)


def _longest_string_exceeds(data: bytes, limit: int) -> bool:
    for literal in _JSON_STRING.findall(data):
        if len(literal) - 2 > limit and len(
                orjson.loads(literal).encode("utf-8", "surrogatepass")) > limit:
            return True
    return False


def text_shape_error(data: bytes, limits: Limits, line: int | None = None) -> InputError | None:
    """:func:`shape_error` of valid JSON text, read from the text instead of the parsed value.

    When a document breaks several limits this names one by a fixed order — depth, then
    members, then string length — where the walk named the first it met."""
    deep = data.count(b"[") + data.count(b"{") > limits.max_depth
    many = data.count(b":") > limits.max_keys
    long = len(data) - 2 > limits.max_value_bytes
    if not (deep or many or long):
        return None
    blanked = _blanked(data) if deep or many else b""
    if deep and _depth_of(blanked) > limits.max_depth:
        return _too_deep(limits.max_depth, line)
    if many and _most_members(blanked) > limits.max_keys:
        return too_many_keys(limits.max_keys, line)
    if long and _longest_string_exceeds(data, limits.max_value_bytes):
        return value_too_long(limits.max_value_bytes, line)
    return None
