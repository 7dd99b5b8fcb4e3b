"""Append-only history inside an agent's state.

An agent's working state is small (open positions, running statistics); its history (closed
trades, equity points, learning samples) only grows. Keeping history in an ``AppendLog`` lets the
actor shell persist it incrementally: each call writes the items appended since the last call,
not the whole history again. The log refuses every change but appending, so what was persisted
stays true.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, NoReturn, SupportsIndex, TypeVar

T = TypeVar("T")


class AppendLog(list[T]):
    """A list that can only grow at its end. ``log_id`` names it across restarts."""

    __slots__ = ("log_id",)

    def __init__(self, items: Iterable[T] = (), log_id: str | None = None) -> None:
        super().__init__(items)
        self.log_id = log_id or uuid.uuid4().hex

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("an AppendLog only grows at its end (append/extend)")

    __setitem__ = _refuse
    __delitem__ = _refuse
    __iadd__ = _refuse
    __imul__ = _refuse
    insert = _refuse
    remove = _refuse
    clear = _refuse
    sort = _refuse
    reverse = _refuse

    def pop(self, index: SupportsIndex = -1) -> NoReturn:
        self._refuse()

    def __reduce__(self) -> tuple[Any, ...]:  # a plain pickle (no shell) keeps the items and the id
        return (AppendLog, (list(self), self.log_id))
