"""Cheaper pickling for the frozen, slotted dataclasses that cross Ray on the hot path.

Python pickles such a dataclass through ``copyreg`` with a state dict built from
``dataclasses.fields`` on every object, and restores it field by field through the frozen
``__setattr__`` guard. ``compact`` gives the class a ``__reduce__`` that stores the values as one
tuple and restores them through the slots' own descriptors: the same object back (no
``__post_init__`` is run, as with ordinary unpickling), in about a quarter of the time to dump and
half the time to load. A batch's bars cross Ray three to five times, and every agent's state is
pickled after every call, so this is on the hot path.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, TypeVar

T = TypeVar("T")

_SETTERS: dict[type, tuple[Any, ...]] = {}


def _rebuild(cls: type[T], values: tuple[Any, ...]) -> T:
    obj = object.__new__(cls)
    for setter, value in zip(_SETTERS[cls], values, strict=True):
        setter(obj, value)
    return obj


def trusted(cls: type[T], values: tuple[Any, ...]) -> T:
    """An object of a ``compact`` class from its field values in order, without ``__post_init__``:
    for values already known to be valid (a bar aggregated from ticks that ingress validated)."""
    return _rebuild(cls, values)


def compact(cls: type[T]) -> type[T]:
    """Class decorator for a ``@dataclass(frozen=True, slots=True)``; put it above the dataclass."""
    names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    if not names or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: compact() wants a slotted dataclass with fields")
    _SETTERS[cls] = tuple(cls.__dict__[n].__set__ for n in names)
    get = operator.attrgetter(*names)
    one = len(names) == 1

    def __reduce__(self: Any) -> tuple[Any, ...]:
        return _rebuild, (cls, (get(self),) if one else get(self))

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]
    return cls
