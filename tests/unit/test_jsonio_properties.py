"""Properties of the JSON / NDJSON readers (gateway/jsonio.py): any bytes in, values or a
clean :class:`InputError` out, never another exception; what was written is read back; a
repeated key is found wherever it is, by the whole-document and the streaming reader alike."""

from __future__ import annotations

import io
import json

import ijson
import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway import jsonio

SETTINGS = settings(max_examples=300, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
DEPTH = 8

KEYS = st.text(alphabet=st.characters(codec="utf-8"), max_size=6) | st.sampled_from(
    ["records", "a", "a:b", '"', "\\", "~/", "名"])
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(alphabet=st.characters(codec="utf-8"), max_size=10))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(KEYS, inner, max_size=4), max_leaves=25)
# Bytes that are often nearly JSON: fragments of JSON text glued to arbitrary bytes.
NEARLY = st.lists(st.sampled_from([b"{", b"}", b"[", b"]", b'"a"', b":", b",", b"1", b"\\u00",
                                   b'"', b"\n", b" ", b"\xff", b"\xc3", b"null", b"-"])
                  | st.binary(max_size=4), max_size=30).map(b"".join)
BYTES = st.binary(max_size=200) | NEARLY | JSON.map(orjson.dumps)


@SETTINGS
@given(data=BYTES)
def test_loads_answers_a_value_or_an_input_error(data):
    try:
        jsonio.loads(data, DEPTH)
    except jsonio.InputError as exc:
        assert exc.slug in {"invalid-json", "invalid-encoding", "too-deep", "duplicate-key"}
        assert exc.message_zh and exc.message_en


@SETTINGS
@given(data=BYTES)
def test_ndjson_lines_are_values_or_errors(data):
    for line in jsonio.iter_ndjson(io.BytesIO(data), DEPTH):
        assert line.number >= 1
        assert (line.error is None) or isinstance(line.error, jsonio.InputError)


@SETTINGS
@given(data=BYTES)
def test_the_streaming_readers_answer_values_or_an_input_error(data):
    for read in (lambda s: list(jsonio.iter_json_array(s)), jsonio.envelope_header,
                 lambda s: list(jsonio.check_unique_keys(ijson.parse(s)))):
        try:
            read(io.BytesIO(data))
        except jsonio.InputError:
            pass
        except ijson.common.JSONError:
            # check_unique_keys passes ijson's own errors through: the callers map them.
            pass


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@SETTINGS
@given(value=JSON)
def test_what_was_written_is_read_back(value):
    assume(_depth(value) <= DEPTH)
    assert jsonio.loads(orjson.dumps(value), DEPTH) == value


def _with_repeated_key(value, data) -> tuple[bytes, str] | None:
    """JSON text of ``value`` where one object names one of its keys a second time."""
    objects = []

    def walk(node, here):
        if isinstance(node, dict):
            if node:
                objects.append((node, here))
            for k, v in node.items():
                walk(v, f"{here}/{k.replace('~', '~0').replace('/', '~1')}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{here}/{i}")

    walk(value, "")
    if not objects:
        return None
    target, here = data.draw(st.sampled_from(objects))
    key = data.draw(st.sampled_from(sorted(target)))
    marker = "\x00repeat\x00"
    target[marker] = 0
    text = orjson.dumps(value).replace(orjson.dumps(marker) + b":0",
                                       orjson.dumps(key) + b":" + orjson.dumps(data.draw(SCALARS)))
    pointer = f"{here}/{key.replace('~', '~0').replace('/', '~1')}"
    return text, pointer


@SETTINGS
@given(value=JSON, data=st.data())
def test_a_repeated_key_is_found_by_both_readers(value, data):
    assume(_depth(value) <= DEPTH)
    made = _with_repeated_key(value, data)
    assume(made is not None)
    text, pointer = made
    with pytest.raises(jsonio.InputError) as whole:
        jsonio.loads(text, DEPTH)
    assert whole.value.slug == "duplicate-key"
    with pytest.raises(jsonio.InputError) as streamed:
        list(jsonio.check_unique_keys(ijson.parse(io.BytesIO(text))))
    assert streamed.value.slug == "duplicate-key"
    # Generated objects have unique keys, so the one repeated key is the one both name.
    assert whole.value.pointer == streamed.value.pointer == pointer


def test_the_run_check_agrees_with_the_whole_body_however_it_is_cut():
    """_RunCheck, fed chunk by chunk, refuses exactly the bodies holding a run without a quote
    longer than the limit (the reference: the whole body split at its quotes), wherever the
    chunks are cut. (Its earlier regular expression agreed too, but in quadratic time.)"""
    import random

    from gateway.jsonio import _RunCheck

    rng = random.Random(20261203)
    for _ in range(5000):
        limit = rng.randint(1, 12)
        data = bytes(rng.choice(b'"ab') if rng.random() < 0.5 else ord("a")
                     for _ in range(rng.randint(0, 60)))
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(0, 4))))
        chunks = [data[i:j] for i, j in zip([0] + cuts, cuts + [len(data)]) if data[i:j]]
        check = _RunCheck(b'"', limit)
        refused = any(check.feed(chunk) for chunk in chunks) or check.done()
        assert refused == (max(map(len, data.split(b'"'))) > limit), (data, chunks, limit)


# -- the limits read from the text agree with the walk of the parsed value (issue 14) -----------

STRINGS = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ['"""', "\\\\", "\n\t", "名字很长很长", "\x01\x1f", "a]b{c", "k:v"])
NESTED = st.recursive(SCALARS | STRINGS, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(KEYS | STRINGS, inner, max_size=5), max_leaves=40)
TEXT_FORMS = st.sampled_from([0, orjson.OPT_INDENT_2])
TIGHT = jsonio.Limits(max_depth=3, max_value_bytes=8, max_line_bytes=1 << 20, max_keys=3)
LOOSE = dict(max_depth=10 ** 6, max_value_bytes=10 ** 9, max_line_bytes=1 << 20, max_keys=10 ** 6)


def _slug(problem):
    return None if problem is None else problem.slug


@SETTINGS
@given(value=NESTED, form=TEXT_FORMS)
def test_the_limits_read_from_the_text_refuse_what_the_walk_refuses(value, form):
    """text_shape_error (and text_depth_exceeds, and the key count for repeated keys) on a
    document's text answers what the old walk of the parsed value (shape_error,
    depth_exceeds, the walking key count) answers: for each limit alone the same rule, for
    all together refused or not alike and the rule one the walk would also name."""
    text = orjson.dumps(value, option=form)
    for kind, tight in (("max_depth", 3), ("max_keys", 3), ("max_value_bytes", 8)):
        limits = jsonio.Limits(**{**LOOSE, kind: tight})
        assert _slug(jsonio.text_shape_error(text, limits, 7)) == _slug(jsonio.shape_error(value, limits, 7))
    broken = {_slug(jsonio.shape_error(value, jsonio.Limits(**{**LOOSE, kind: tight})))
              for kind, tight in (("max_depth", 3), ("max_keys", 3), ("max_value_bytes", 8))} - {None}
    answer = jsonio.text_shape_error(text, TIGHT, 7)
    assert (answer is None) == (jsonio.shape_error(value, TIGHT, 7) is None)
    if answer is not None:
        assert answer.slug in broken and answer.line == 7
        assert answer.slug == next(s for s in ("too-deep", "too-many-keys", "value-too-long") if s in broken)
    for limit in (0, 1, 2, 3, 5):
        assert jsonio.text_depth_exceeds(text, limit) == jsonio.depth_exceeds(value, limit)
    assert jsonio._key_count(value) == jsonio._key_count_walk(value)


def test_the_limits_from_the_text_name_their_rule_through_loads():
    """What a push line gets back: the same rule ids and line numbers as before."""
    deep = b'{"a":' * 4 + b"1" + b"}" * 4
    with pytest.raises(jsonio.InputError) as err:
        jsonio.loads(deep, 3, 5, TIGHT)
    assert (err.value.slug, err.value.line, err.value.pointer) == ("too-deep", 5, None)
    with pytest.raises(jsonio.InputError) as err:
        jsonio.loads(b'{"a":1,"b":2,"c":3,"d":4}', 3, 6, TIGHT)
    assert (err.value.slug, err.value.line) == ("too-many-keys", 6)
    with pytest.raises(jsonio.InputError) as err:
        jsonio.loads(b'{"a":"\\"\\"\\"\\"\\"\\"\\"\\"\\""}', 3, 8, TIGHT)  # nine escaped quotes
    assert (err.value.slug, err.value.line) == ("value-too-long", 8)
    assert jsonio.loads(b'{"a":"\\u0041\\u0042\\u0043"}', 3, 9, TIGHT) == {"a": "ABC"}  # 3 bytes
    with pytest.raises(jsonio.InputError) as err:  # a repeated key before the string length
        jsonio.loads(b'{"a":"123456789","a":1}', 3, 9, TIGHT)
    assert err.value.slug == "duplicate-key"


@SETTINGS
@given(value=JSON, data=st.data(), form=st.sampled_from(["orjson", "spaced", "ascii"]))
def test_the_quick_repeated_key_count_agrees_with_the_blanked_one(value, data, form):
    """:func:`jsonio.has_duplicate_keys` counts colons without blanking strings out when the
    text has no \\u escape: it must answer what the member count of the blanked text does,
    with keys and strings holding colons, with and without a repeated key."""
    assume(_depth(value) <= DEPTH)
    texts = [{"orjson": orjson.dumps(value),
              "spaced": json.dumps(value, ensure_ascii=False, separators=(", ", " : ")).encode(),
              "ascii": json.dumps(value).encode()}[form]]
    made = _with_repeated_key(value, data)
    if made is not None:
        texts.append(made[0])
    for text in texts:
        parsed = orjson.loads(text)
        reference = jsonio._member_count(text) != jsonio._key_count(parsed)
        assert jsonio.has_duplicate_keys(text, parsed) is reference
    if made is not None:
        assert jsonio.has_duplicate_keys(made[0], orjson.loads(made[0]))


@pytest.mark.parametrize("text, repeated", [(b'{"\\u003a":1,"b":":"}', False),
                                            (b'{"a":{"\\u003a":1},"a":2}', True),
                                            (b'{"t":"12:00","t":"13:00"}', True),
                                            (b'{"t":"12:00","u":"13:00"}', False)])
def test_a_colon_spelt_as_an_escape_is_not_taken_for_a_repeated_key(text, repeated):
    assert jsonio.has_duplicate_keys(text, orjson.loads(text)) is repeated


@SETTINGS
@given(value=NESTED)
def test_the_walk_of_containers_alone_refuses_what_the_whole_walk_refuses(value):
    """shape_error(strings=False), for a value whose strings are known to be within the
    limit (a push envelope without escaped quotes, whose runs were checked), answers what the
    whole walk answers for depth and members."""
    for kind, tight in (("max_depth", 3), ("max_keys", 3), ("max_depth", 1), ("max_keys", 0)):
        limits = jsonio.Limits(**{**LOOSE, kind: tight})
        assert (_slug(jsonio.shape_error(value, limits, 7, strings=False))
                == _slug(jsonio.shape_error(value, limits, 7)))
    both = jsonio.Limits(**{**LOOSE, "max_depth": 3, "max_keys": 3})
    assert _slug(jsonio.shape_error(value, both, 7, strings=False)) == _slug(
        jsonio.shape_error(value, both, 7))  # one walk: the same container met first
