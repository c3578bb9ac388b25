"""Results readable by attribute, as code written for the official SDK reads them.

The SDK returns pydantic models (``run.status``, ``response.output[0].call_id``,
``event.data.delta``); oairun returns the parsed JSON. :class:`Object` is a ``dict`` whose
attribute access reads its keys, so both styles work on the same value, and everything a dict
does (``obj["key"]``, ``==`` with a dict, ``json.dumps(obj)``) keeps working.

Every JSON object of a result is an :class:`Object` as it is parsed (:func:`loads`; a
:class:`Response` when its ``object`` is ``"response"``, found at the top, as the ``response``
member of an event, or when read by attribute), so that ``obj["key"]`` is a plain
``dict`` lookup, as fast as on a ``dict``, and gives an :class:`Object` too. A JSON array stays
a ``list`` (of Objects) until it is read by attribute, which makes it an :class:`ObjectList` in
place. A plain ``dict`` or ``list`` put into an Object by hand (or given to ``Object(...)``) is
wrapped when it is read by attribute (``.name``), or taken out of an ObjectList, and the wrapper
replaces it in place; ``obj["key"]`` gives it as it is stored. Either way repeated access gives
the same object, and changes made through it are kept. A key whose name is also a ``dict``
method (``items``, ``keys``, ``values``, ``get``, ``copy``, ``pop``, ``update``...) is read with
``obj["items"]``: the method wins, as it must for the value to stay a usable dict.
"""

from __future__ import annotations

import json

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Iterator, List


def wrap(value: Any) -> Any:
    """``value`` readable by attribute: a dict becomes an :class:`Object` (a :class:`Response`
    when its ``object`` is ``"response"``), a list an :class:`ObjectList`; others unchanged."""
    cls = type(value)
    if cls is dict:
        return Response(value) if value.get("object") == "response" else Object(value)
    if cls is list:
        return ObjectList(value)
    return value


class Object(dict):
    """A JSON object whose keys also read as attributes (``obj.status`` is ``obj["status"]``).

    A missing key raises ``AttributeError`` through ``.name`` and ``KeyError`` through
    ``[name]``. Attributes cannot be set (set keys: ``obj["name"] = value``).
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        # Only called when ordinary lookup fails: dict methods and properties come first.
        if name.startswith("__") and name.endswith("__"):
            # copy, pickle and friends probe for dunder hooks: never answer them with a key.
            raise AttributeError(name)
        try:
            value = dict.__getitem__(self, name)
        except KeyError:
            if name == "output_text" and dict.get(self, "object") == "response":
                self.__class__ = Response  # a Response not recognised when it was parsed
                return self.output_text
            raise AttributeError(
                f"{type(self).__name__} has no attribute or key {name!r}"
            ) from None
        cls = type(value)
        if cls is Object:
            if dict.get(value, "object") == "response":
                value.__class__ = Response  # a Response nested deeper than loads() looks
        elif cls is dict or cls is list:  # a JSON array, or a plain value put here by hand
            value = wrap(value)
            dict.__setitem__(self, name, value)
        return value

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | {k for k in self if isinstance(k, str) and k.isidentifier()})


class Response(Object):
    """A Response object of the Responses API, with the SDK's ``output_text``."""

    __slots__ = ()

    @property
    def output_text(self) -> str:
        """The text of the response, as the SDK gives it: the ``text`` of every ``output_text``
        content part of every ``message`` item in ``output``, concatenated ("" if none)."""
        texts = []
        for item in dict.get(self, "output") or ():
            if not isinstance(item, dict) or item.get("type") != "message":
                continue
            for part in item.get("content") or ():
                if isinstance(part, dict) and part.get("type") == "output_text":
                    text = part.get("text")
                    if isinstance(text, str):
                        texts.append(text)
        return "".join(texts)


class ObjectList(list):
    """A JSON array whose objects read by attribute once taken out of it."""

    __slots__ = ()

    def __getitem__(self, index: Any) -> Any:
        if type(index) is slice:
            return [self[i] for i in range(*index.indices(len(self)))]
        value = list.__getitem__(self, index)
        cls = type(value)
        if cls is dict or cls is list:
            value = wrap(value)
            list.__setitem__(self, index, value)
        return value

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]


# The scanner json.loads uses, making every JSON object an Object as it is parsed (the hook is
# the class itself, called from C), called directly: for one JSON value with no whitespace
# around it, as an event's data and an answer are, it gives what json.loads gives, without
# json.loads' layers of Python calls. Anything else goes through json.loads itself, for its
# result or its error.
scan = json.JSONDecoder(object_hook=Object).scan_once


def promote(value: Any) -> Any:
    """``value`` (parsed by :data:`scan`) as returned: a Response made of it, or of its
    ``response`` member, when it is one (a class change in place: the two classes hold the
    same), a top-level array made an ObjectList."""
    cls = type(value)
    if cls is Object:
        get = value.get
        if get("object") == "response":
            value.__class__ = Response
        else:
            inner = get("response")
            if type(inner) is Object and inner.get("object") == "response":
                inner.__class__ = Response
    elif cls is list:
        value = ObjectList(value)
    return value


def loads(text: str) -> Any:
    """``text`` parsed as JSON, every object an :class:`Object` (a :class:`Response`, at the top
    or as its ``response`` member, for a Response) and a top-level array an
    :class:`ObjectList`; ``ValueError`` if it is not JSON."""
    try:
        value, end = scan(text, 0)
    except (StopIteration, ValueError):
        end = -1
    if end != len(text):
        value = json.loads(text, object_hook=Object)
    return promote(value)
