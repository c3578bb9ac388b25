"""The library's parser of event data (``oairun_py_parser``, src/ffi/python.rs), which
``Event.data`` asks first: for every text it takes, exactly what ``json.loads(text,
object_hook=Object)`` gives (types, key order, float bits); every text it does not take left to
``json`` (so the same value or the same error in the end); no reference leaked or lost."""

from __future__ import annotations

import gc
import json
import math
import random
import struct
import sys

import pytest

from oairun import ProtocolError, _events
from oairun._events import Event
from oairun._objects import Object, ObjectList, Response
from conftest import FIXTURES, reference_events

parse = _events._parse
UNPARSED = _events._UNPARSED

pytestmark = pytest.mark.skipif(parse is None, reason="no parser where the interpreter is not CPython")


def same(a, b) -> bool:
    """Equal, of the same types all the way down (bool is not int, Object is not dict), floats
    bit for bit (-0.0 is not 0.0), keys in the same order."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def expected(text):
    """What Event.data gives through json alone: the value, or ProtocolError."""
    event = Event("x", text)
    event_parse, _events._parse = _events._parse, None
    try:
        return event.data
    except ProtocolError:
        return ProtocolError
    finally:
        _events._parse = event_parse


def through_library(text):
    try:
        return Event("x", text).data
    except ProtocolError:
        return ProtocolError


# --- Random documents --------------------------------------------------------------------------

ESCAPES = ['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u00e9", "\\u0000", "\\u001f",
           "\\ud83e\\udd80", "\\uD83D\\uDE00", "\\uffff", "\\u2028"]
RAW = ["a", "Z", " ", "caf\u00e9", "\u65e5\u672c", "\U0001f980", "\u2028", "\x7f", "~"]


def random_string(rng):
    parts = [rng.choice(ESCAPES) if rng.random() < 0.3 else rng.choice(RAW) for _ in range(rng.randrange(0, 6))]
    return '"' + "".join(parts) + '"'


def random_number(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return str(rng.randrange(-10**6, 10**6))
    if kind == 1:
        return str(rng.choice([0, -0, 2**63 - 1, -(2**63), 10**17, -(10**18) + 1, 999999999999999999]))
    if kind == 2:
        return repr(rng.uniform(-1e6, 1e6))
    if kind == 3:
        return repr(struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]).replace("inf", "1e999").replace("nan", "0.5")
    if kind == 4:
        return rng.choice(["-0", "-0.0", "0.0", "1e400", "-1e400", "5e-324", "1e-400", "1E+2", "1.5e-3", "123456789.123456789e-5", "0.1"])
    return f"{rng.randrange(1, 999)}.{rng.randrange(0, 999)}e{rng.randrange(-330, 330)}"


def ws(rng):
    return "".join(rng.choice([" ", "\t", "\n", "\r"]) for _ in range(rng.choice([0, 0, 0, 1, 2])))


def random_value(rng, depth=0):
    kind = rng.randrange(9 if depth < 6 else 6)
    if kind == 0:
        return random_string(rng)
    if kind == 1:
        return random_number(rng)
    if kind == 2:
        return rng.choice(["true", "false", "null"])
    if kind in (3, 4, 5):
        return random_string(rng) if kind == 3 else random_number(rng)
    if kind in (6, 7):
        keys = [random_string(rng) for _ in range(rng.randrange(0, 5))]
        if keys and rng.random() < 0.2:
            keys.append(keys[0])  # a repeated key
        members = [f"{ws(rng)}{k}{ws(rng)}:{ws(rng)}{random_value(rng, depth + 1)}{ws(rng)}" for k in keys]
        return "{" + ",".join(members) + ws(rng) + "}"
    items = [f"{ws(rng)}{random_value(rng, depth + 1)}{ws(rng)}" for _ in range(rng.randrange(0, 5))]
    return "[" + ",".join(items) + ws(rng) + "]"


def test_random_documents_give_what_json_gives():
    rng = random.Random(20261130)
    taken = 0
    for _ in range(4000):
        text = ws(rng) + random_value(rng) + ws(rng)
        want = expected(text)
        got = through_library(text)
        assert same(got, want), text
        taken += parse(text) is not UNPARSED
    assert taken > 3000  # most are the library's own work, not json's


def test_broken_documents_fail_as_json_fails():
    """Cut and mutated texts: the library takes none of them that json refuses, and where json
    takes one, the value is json's."""
    rng = random.Random(7)
    for _ in range(3000):
        text = random_value(rng)
        if rng.random() < 0.5:
            text = text[: rng.randrange(len(text) + 1)]
        else:
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(['"', ",", "}", "]", ":", "\\", "x", "\x01", "[", "{", "-", "."]) + text[at:]
        want = expected(text)
        assert same(through_library(text), want), text
        if want is ProtocolError:
            assert parse(text) is UNPARSED, text


@pytest.mark.parametrize(
    "text",
    [
        "NaN", "[Infinity]", "-Infinity", '"\\ud800"', '["\\udc00x"]', "12345678901234567890",
        "-1234567890123456789", "[" * 200 + "]" * 200, "[DONE]", "", " ", "01", "1.", ".5", "+1",
        '{"a":1,}', "[1,]", '{"a" 1}', "tru", "nul", '"\x01"', "{'a':1}", '{"a":1}{}', "1 2",
    ],
)
def test_what_the_library_leaves_to_json(text):
    """JSON it does not take (json's extensions, lone surrogates, long integers, deep
    nesting) and texts that are not JSON: left to json, which gives its value or its error."""
    assert parse(text) is UNPARSED
    assert same(through_library(text), expected(text))


def test_the_api_events_take_the_library_path_with_the_right_classes():
    """Every event of the API reference's stream that json takes, the library takes too, with
    Objects where json's hook makes them, and a Response promoted as before."""
    datas = [data for _, data in reference_events()]
    for path in sorted((FIXTURES / "responses").glob("*.sse")):
        datas += [line[6:] for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("data: ")]
    assert len(datas) > 30
    taken = 0
    for data in datas:
        try:
            want = json.loads(data, object_hook=Object)
        except ValueError:
            assert parse(data) is UNPARSED
            continue
        assert parse(data) is not UNPARSED, data
        assert same(parse(data), want)
        assert same(Event("x", data).data, expected(data))
        taken += 1
    assert taken > 25
    response = Event("response.completed", '{"type":"response.completed","response":{"object":"response","output":[]}}')
    assert type(response.data) is Object and type(response.data["response"]) is Response
    assert type(Event("x", "[1,{}]").data) is ObjectList


def test_a_str_with_no_utf8_form_and_a_non_str_are_left_to_json():
    assert parse('"\ud800"') is UNPARSED  # a lone surrogate as a character (an Event made by hand)
    assert same(Event("x", '"\ud800"').data, json.loads('"\ud800"'))
    assert parse(b"{}") is UNPARSED
    assert parse(42) is UNPARSED
    with pytest.raises(TypeError):
        parse()


def test_no_reference_is_leaked_or_lost():
    """Values made and dropped, parses stopped part-way (objects already made, then a text the
    library does not take), and keys from the library's cache: the counts come back."""
    texts = [
        '{"a":{"b":[{},{"c":true,"d":null,"e":false}]},"f":"g\\n","h":1.5,"i":-3}',
        '{"a":[1,2,{"b":NaN}]}',
        '[{"x":"\\ud800"}]',
        '{"k":{"k":{"k":[true,false,null,"v"]}}}' * 2,
    ]
    for text in texts * 3:  # the keys cached first
        parse(text)
    gc.collect()
    singletons = [sys.getrefcount(x) for x in (True, False, None)]
    objects = sum(type(o) is Object for o in gc.get_objects())
    for _ in range(2000):
        for text in texts:
            parse(text)
    gc.collect()
    assert sum(type(o) is Object for o in gc.get_objects()) == objects
    after = [sys.getrefcount(x) for x in (True, False, None)]
    assert all(abs(a - b) < 50 for a, b in zip(after, singletons)), (singletons, after)
    value = parse(texts[0])
    counts = [sys.getrefcount(value), sys.getrefcount(value["a"]), sys.getrefcount(value["a"]["b"])]
    assert counts == [2, 2, 2]  # the name or the container, and getrefcount's argument


def test_many_distinct_keys_are_not_all_kept():
    """The key cache is capped: a stream of ever-new keys still parses, each key right."""
    for i in range(3000):
        key = f"k{i}_" + "x" * (i % 80)
        assert parse(json.dumps({key: i})) == {key: i}


def test_each_parser_keeps_its_own_table():
    """A second parser, made with another class and marker (as a second interpreter's binding
    would make one), uses them, and the binding's own parser still uses its own."""
    from oairun import _ffi

    class Other(dict):
        __slots__ = ()

    marker = object()
    other = _ffi.json_parser(Other, marker)
    assert other is not None
    value = other('{"a":{"b":[{}]}}')
    assert type(value) is Other and type(value["a"]) is Other and type(value["a"]["b"][0]) is Other
    assert other("NaN") is marker
    assert type(parse('{"a":{}}')) is Object and type(parse('{"a":{}}')["a"]) is Object
    assert parse("NaN") is UNPARSED
