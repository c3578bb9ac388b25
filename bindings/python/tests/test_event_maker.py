"""The library's maker of a batch's events (``oairun_py_events``, src/ffi/python_events.rs),
which the reader uses where the interpreter is CPython: the same events as the binding's own
copy makes, each of the binding's class with its data unparsed, no reference leaked or lost,
and every refusal a refusal (the binding then makes the events itself)."""

from __future__ import annotations

import gc
import sys

import pytest

from oairun import _events, _ffi, _reader
from oairun._events import Event
from oairun._objects import Object
from conftest import OUTPUTS

pytestmark = pytest.mark.skipif(_events._parse is None, reason="no maker where the interpreter is not CPython")

INPUT = [{"type": "function_call_output", "call_id": "call_001", "output": "x"}]


def stream(client, endpoint, n):
    if endpoint == "assistants":
        return client.submit_tool_outputs("r", thread_id=f"long_{n}", tool_outputs=OUTPUTS, stream=True)
    return client.responses.create(model=f"long_{n}", input=INPUT, stream=True)


def test_the_reader_makes_events_with_the_library():
    assert _reader._make is not None and _reader._make is _events.make_events


@pytest.mark.parametrize("endpoint", ["assistants", "responses"])
def test_both_makers_give_the_same_events(client, monkeypatch, endpoint):
    made = list(stream(client, endpoint, 700))  # several batches
    monkeypatch.setattr(_reader, "_make", None)
    copied = list(stream(client, endpoint, 700))
    assert len(made) > 700
    assert [(type(e), e.event, e.raw, e.id) for e in made] == [(type(e), e.event, e.raw, e.id) for e in copied]
    assert all(e._data is _events._UNPARSED for e in made)
    assert [e.data for e in made] == [e.data for e in copied]


def test_no_reference_is_leaked_or_lost(client):
    def run():
        """The name of the stream's deltas, every event and its data made and dropped."""
        name = None
        for event in stream(client, "assistants", 1000):
            count = sys.getrefcount(event.raw)  # (outside assert: pytest's rewrite keeps its parts)
            assert count == 2  # held by the event alone (and by getrefcount's argument)
            assert event.id is None
            if event.event == "thread.message.delta":
                assert name is None or event.event is name  # the library's, kept per kind
                name = event.event
            event.data
            del event
        return name

    name = run()
    gc.collect()
    counts = sys.getrefcount(name), sys.getrefcount(_events._UNPARSED), sys.getrefcount(_events.STOP)
    assert run() is name
    gc.collect()
    after = sys.getrefcount(name), sys.getrefcount(_events._UNPARSED), sys.getrefcount(_events.STOP)
    assert after == counts


def test_an_event_class_whose_slots_are_not_found_makes_no_events():
    class Plain:  # attributes in a __dict__: the probe's marks are not in the object itself
        pass

    class Slotted:
        __slots__ = ("event", "raw", "id", "_data")

    marker, stop = object(), object()
    assert _ffi.events_maker(_ffi.json_parser(Object, marker, Plain, stop)) is None
    assert _ffi.events_maker(_ffi.json_parser(Object, marker)) is None
    assert _ffi.events_maker(None) is None
    mine = _ffi.events_maker(_ffi.json_parser(Object, marker, Slotted, stop))
    assert mine is not None and mine(None, 0) == [stop]


def refused(*args) -> bool:
    """``oairun_py_events(*args)`` refused: NULL, with a Python error set (raised) or not."""
    try:
        return _ffi.pylib.oairun_py_events(*args) is None
    except Exception:  # noqa: BLE001 - an error the CPython function it called set
        return True


def test_what_is_not_a_parser_with_events_is_refused():
    assert refused(len, None, 0)  # a builtin function, not one of the library's parsers
    assert refused(object(), None, 0)  # not a builtin function
    assert refused(_ffi.json_parser(Object, object()), None, 0)  # a parser without events
    assert refused(_events._parse, None, 3)  # no events where 3 are said
    assert _ffi.owned(_ffi.pylib.oairun_py_events(_events._parse, None, 0)) == [_events.STOP]
    with pytest.raises(ValueError):
        _ffi.owned(None)


def test_a_batch_of_the_library_is_ended_by_close(client):
    """close() ends the batch being iterated, its events not yet given included (the list
    keeps only STOP)."""
    s = stream(client, "assistants", 1000)
    it = iter(s)
    first = next(it)
    assert isinstance(first, Event)
    s.close()
    assert list(it) == []


def test_a_refused_table_gives_no_parser_and_no_crash():
    """A table the library refuses (here of size 0, as a binding of another version would
    give): NULL, which the binding reads as no parser (ctypes' py_object would have crashed
    on a NULL without an error set)."""
    import ctypes

    assert _ffi.pylib.oairun_py_parser(ctypes.byref(_ffi.PyApi())) is None
    assert _ffi.pylib.oairun_py_parser(None) is None


class _Sub(Event):
    __slots__ = ("extra",)


class _SubWithDict(Event):
    pass


def _odd_events():
    """Events of every kind the getter may meet, each made fresh."""
    texts = ['{"a": 1, "b": [true, null]}', '[1, {"b": 2}]', '"text"', "3.5", "not json", "NaN",
             '{"type": "response.completed", "response": {"object": "response", "output": []}}',
             '{"x": "\\ud800"}', '{"a": 1} trailing', ""]
    for text in texts:
        yield lambda t=text: Event("message", t)
        yield lambda t=text: _Sub("message", t)
        yield lambda t=text: _SubWithDict("message", t)
    yield lambda: Event("done", "[DONE]")
    yield lambda: Event("message", "[DONE]")
    yield lambda: Event("message", b'{"a": 1}')  # raw set by hand to bytes
    yield lambda: Event.__new__(Event)  # slots never set


def _outcome(get, event):
    try:
        value = get(event)
    except Exception as exc:  # noqa: BLE001 - compared
        return ("raised", type(exc))
    return ("value", type(value), value, type(event._data), event._data is value)


def test_the_library_getter_gives_what_the_binding_property_gives():
    getter = _events._data_getter
    assert getter is not None and Event.data.fget is getter
    for make in _odd_events():
        assert _outcome(getter, make()) == _outcome(_events.PY_DATA.fget, make())


def test_the_library_getter_refuses_what_is_not_an_event():
    for thing in (5, "text", object(), None, Object(a=1)):
        with pytest.raises(AttributeError):
            _events._data_getter(thing)


def test_the_library_getter_leaks_no_reference():
    gc.collect()
    unparsed = sys.getrefcount(_events._UNPARSED)
    for _ in range(1000):
        event = Event("message", '{"a": {"b": [1, 2]}}')
        event.data
        count = sys.getrefcount(event.data)
        assert count == 2  # held by the event's slot alone (and by getrefcount's argument)
        assert event.data is event.data
        del event
    gc.collect()
    after = sys.getrefcount(_events._UNPARSED)  # (outside assert: pytest's rewrite keeps its parts)
    assert after == unparsed
