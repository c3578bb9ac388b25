"""Results readable by attribute, as code written for the official SDK reads them.

The SDK returns pydantic models (``run.status``, ``response.output[0].call_id``,
``event.data.delta``); oairun returns the parsed JSON. :class:`Object` is a ``dict`` whose
attribute access reads its keys, so both styles work on the same value, and everything a dict
does (``obj["key"]``, ``==`` with a dict, ``json.dumps(obj)``) keeps working.

Nested values are wrapped lazily, on first access through ``.name``, ``[key]``, ``.get()`` or
iteration, and the wrapper replaces the plain value in place, so that repeated access gives the
same object and changes made through it are kept. A key whose name is also a ``dict`` method
(``items``, ``keys``, ``values``, ``get``, ``copy``, ``pop``, ``update``...) is read with
``obj["items"]``: the method wins, as it must for the value to stay a usable dict.
"""

from __future__ import annotations

from typing import Any, Iterator, List


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
            return self[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no attribute or key {name!r}"
            ) from None

    def __getitem__(self, key: Any) -> Any:
        value = dict.__getitem__(self, key)
        wrapped = wrap(value)
        if wrapped is not value:
            dict.__setitem__(self, key, wrapped)
        return wrapped

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

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
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        value = list.__getitem__(self, index)
        wrapped = wrap(value)
        if wrapped is not value:
            list.__setitem__(self, index, wrapped)
        return wrapped

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]
