"""The compact pickling of the hot path's dataclasses: the same objects back, faster."""

from __future__ import annotations

import dataclasses
import pickle
from decimal import Decimal

import pytest

from trading.errors import InvalidValue
from trading.ledger import AccountSnapshot
from trading.market import Bar
from trading.orders import Position, Side
from trading.pickling import compact, trusted


def _bars(n: int) -> tuple[Bar, ...]:
    return tuple(Bar("EURUSD", i * 60, (i + 1) * 60, 1.1 + i * 1e-5, 1.2, 1.0, 1.1, 3.0, 5, 0.0001) for i in range(n))


def test_compact_classes_come_back_equal_of_their_type_and_frozen_if_they_were() -> None:
    pos = Position("p1", "acc", "EURUSD", Side.BUY, Decimal("0.5"), Decimal("1.08"), Decimal("1.07"), None, 1, "s1",
                   {"ladder": [1, 2]})
    snap = AccountSnapshot("acc", "USD", 7, Decimal(100_000), Decimal(100_010), Decimal(99_990), (), 7,
                           min_equity=Decimal("99980.5"))
    for obj in (*_bars(3), pos, snap):
        back = pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == obj and type(back) is type(obj)
        assert [getattr(back, f.name) for f in dataclasses.fields(back)] == \
               [getattr(obj, f.name) for f in dataclasses.fields(obj)]
        if type(obj).__dataclass_params__.frozen:  # type: ignore[attr-defined]
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(back, dataclasses.fields(back)[0].name, None)


def test_compact_wants_a_slotted_dataclass() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        x: int

    with pytest.raises(TypeError, match="slotted dataclass"):
        compact(NoSlots)


def test_trusted_builds_without_the_checks_that_the_constructor_makes() -> None:
    with pytest.raises(InvalidValue):
        Bar("EURUSD", 0, 60, 1.1, 1.0, 1.2, 1.1, 3.0, 5, 0.0001)  # high below low
    bar = trusted(Bar, ("EURUSD", 0, 60, 1.1, 1.2, 1.0, 1.1, 3.0, 5, 0.0001))
    assert bar == Bar("EURUSD", 0, 60, 1.1, 1.2, 1.0, 1.1, 3.0, 5, 0.0001)
