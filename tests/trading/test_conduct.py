"""Copy trading and hedging across the accounts of one firm (``trading.conduct``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from decimal import Decimal

import pytest

from trading.conduct import CrossAccountConduct, firm_of
from trading.errors import InvalidValue
from trading.ledger import AccountSnapshot, PositionView
from trading.orders import Order, OrderType, Side
from trading.presets import load_preset
from trading.rules import Conduct, CopyTrading, FirmRules

S = 1_000_000_000
T0 = 1_772_452_800 * S
BASE = FirmRules("acme.funded", Decimal(5), Decimal(10), False, reset_timezone="UTC", reset_time=time(0, 0))


def rules(copy: CopyTrading, hedging: bool = True, window: int = 60) -> FirmRules:
    return replace(BASE, conduct=Conduct(copy, hedging, window))


def order(account: str, at: int, side: Side = Side.BUY, symbol: str = "EURUSD") -> Order:
    stop = Decimal("1.09") if side is Side.BUY else Decimal("1.11")
    return Order(f"o-{account}-{at}", account, symbol, side, Decimal(1), OrderType.MARKET, stop, None,
                 "sig", Decimal("1.1"), 10, at, at + 60 * S)


def snap(account: str, *held: Side) -> AccountSnapshot:
    positions = tuple(PositionView(f"p{k}", "EURUSD", side, Decimal(1), Decimal("1.1"), Decimal("1.09"), None,
                                   Decimal("1.1"), Decimal(0), Decimal(-100), T0) for k, side in enumerate(held))
    return AccountSnapshot(account, "USD", T0, Decimal(100_000), Decimal(100_000), Decimal(100_000), positions, 0)


def test_the_firm_is_the_source_firm_or_the_preset_names_first_part() -> None:
    assert firm_of(BASE) == "acme"
    assert firm_of(replace(BASE, source=replace(BASE.source, firm="Acme Ltd"))) == "Acme Ltd"


def test_forbidden_copy_trading_vetoes_the_same_trade_within_the_window_only() -> None:
    book = CrossAccountConduct({"a": rules(CopyTrading.FORBIDDEN), "b": rules(CopyTrading.FORBIDDEN)})
    book.placed("a", [order("a", T0)])
    assert book.veto("b", [order("b", T0 + 60 * S)], {}).startswith("copy_trading: EURUSD buy already placed on a")
    assert book.veto("b", [order("b", T0 + 61 * S)], {}) == "", "outside the 60 s window"
    assert book.veto("b", [order("b", T0, Side.SELL)], {}) == "", "the other side is not a copy"
    assert book.veto("a", [order("a", T0)], {}) == "", "an account does not copy itself"


def test_same_owner_copy_trading_vetoes_only_across_owners() -> None:
    r = rules(CopyTrading.SAME_OWNER)
    book = CrossAccountConduct({"a": r, "b": r, "c": r}, {"a": "ann", "b": "ann", "c": "bob"})
    book.placed("a", [order("a", T0)])
    assert book.veto("b", [order("b", T0)], {}) == ""
    assert book.veto("c", [order("c", T0)], {}).startswith("copy_trading:")


def test_hedging_across_one_owners_accounts_is_vetoed_when_the_firm_forbids_it() -> None:
    r = rules(CopyTrading.ALLOWED, hedging=False)
    book = CrossAccountConduct({"x": r, "y": r, "z": r}, {"x": "ann", "y": "ann", "z": "bob"})
    snaps = {"x": snap("x", Side.SELL), "y": snap("y"), "z": snap("z", Side.SELL)}
    assert book.veto("y", [order("y", T0, Side.BUY)], snaps) == \
        "hedging_across_accounts: x holds the opposite EURUSD position"
    assert book.veto("y", [order("y", T0, Side.SELL)], snaps) == "", "the same side is no hedge"
    allowed = CrossAccountConduct({"x": rules(CopyTrading.ALLOWED), "y": rules(CopyTrading.ALLOWED)})
    assert allowed.veto("y", [order("y", T0, Side.BUY)], snaps) == ""


def test_placements_older_than_an_hour_before_the_newest_are_forgotten() -> None:
    book = CrossAccountConduct({"a": rules(CopyTrading.FORBIDDEN)})
    book.placed("a", [order("a", T0), order("a", T0 + 1800 * S)])
    book.placed("a", [order("a", T0 + 3601 * S)])
    book.forget_old()
    assert [r[0] for r in book.recent] == [T0 + 1800 * S, T0 + 3601 * S]


def test_an_opposite_leg_allowed_earlier_is_a_hedge_until_it_expires() -> None:
    # x's sell was allowed (in the same batch, or a moment ago) and has not filled yet: y's buy
    # would hedge it once it fills. After x's order expires, only x's positions count.
    r = rules(CopyTrading.ALLOWED, hedging=False)
    book = CrossAccountConduct({"x": r, "y": r, "z": r}, {"x": "ann", "y": "ann", "z": "bob"})
    book.placed("x", [order("x", T0, Side.SELL)])  # works until T0 + 60 s
    assert book.veto("y", [order("y", T0 + 5 * S, Side.BUY)], {}).startswith(
        "hedging_across_accounts: x has an opposite EURUSD order working")
    assert book.veto("y", [order("y", T0 + 5 * S, Side.SELL)], {}) == "", "the same side is no hedge"
    assert book.veto("z", [order("z", T0 + 5 * S, Side.BUY)], {}) == "", "another owner's account"
    assert book.veto("y", [order("y", T0 + 61 * S, Side.BUY)], {}) == "", "expired: the snapshot tells"
    book.placed("y", [order("y", T0 + 120 * S)])
    book.forget_old()
    assert [w[2] for w in book.working] == ["y"]


def test_a_book_saved_before_working_legs_were_kept_restores_with_none() -> None:
    import pickle
    book = CrossAccountConduct({"x": rules(CopyTrading.ALLOWED, hedging=False)})
    state = dict(book.__dict__)
    del state["working"]
    old = CrossAccountConduct.__new__(CrossAccountConduct)
    old.__setstate__(state)
    assert pickle.loads(pickle.dumps(old)).working == []


def test_fundednext_copies_between_one_owners_challenges_within_300k_and_never_with_a_funded_account() -> None:
    # FundedNext (help.fundednext.com/en/articles/8019805): "Copy trading between multiple FundedNext
    # Challenge Accounts is permitted, provided the total capital allocation across accounts does not
    # exceed our Max allocation of 300k"; "Copy trading involving a FundedNext Account, whether between
    # FundedNext Accounts or with any other account, is not allowed".
    challenge, funded = load_preset("fundednext.phase1"), load_preset("fundednext.funded")
    hundred = (Decimal(100_000), "USD")
    three = CrossAccountConduct({"a": challenge, "b": challenge, "c": challenge}, {"a": "ann", "b": "ann", "c": "ann"},
                                {"a": hundred, "b": hundred, "c": hundred})
    three.placed("a", [order("a", T0)])
    assert three.judge("b", [order("b", T0)], {}) == \
        ("", "copy_trading: the same EURUSD buy as on a, allowed at FundedNext between one owner's accounts (ann)")
    four = CrossAccountConduct({k: challenge for k in "abcd"}, dict.fromkeys("abcd", "ann"), dict.fromkeys("abcd", hundred))
    four.placed("a", [order("a", T0)])
    assert four.veto("b", [order("b", T0)], {}) == (
        "copy_trading: EURUSD buy already placed on a within 60 s, and ann's accounts at FundedNext under the cap hold "
        "133% of the 300000 USD within which they may copy")
    assert four.veto("b", [order("b", T0, Side.SELL)], {}) == "", "no copy, no cap"
    mixed = CrossAccountConduct({"a": challenge, "f": funded, "g": funded}, dict.fromkeys("afg", "ann"),
                                dict.fromkeys("afg", hundred))
    mixed.placed("a", [order("a", T0)])  # a challenge's trade copied to a funded account ...
    assert mixed.veto("f", [order("f", T0)], {}).endswith("(copying is forbidden on either account)")
    mixed.placed("g", [order("g", T0, Side.SELL)])  # ... or a funded account's copied to a challenge
    assert mixed.veto("a", [order("a", T0 + S, Side.SELL)], {}).endswith("(copying is forbidden on either account)")


def test_fundednext_futures_copies_only_between_one_owners_accounts() -> None:
    # helpfutures.fundednext.com/en/articles/11183132: copying only "between their own FundedNext
    # Accounts"; "Traders cannot group trade or coordinate trades with other traders".
    r = load_preset("fundednext_futures.legacy")
    book = CrossAccountConduct({"a": r, "b": r, "c": r}, {"a": "ann", "b": "ann", "c": "bob"},
                               dict.fromkeys("abc", (Decimal(100_000), "USD")))
    book.placed("a", [order("a", T0)])
    assert book.veto("b", [order("b", T0)], {}) == ""
    assert book.veto("c", [order("c", T0)], {}).startswith("copy_trading: EURUSD buy already placed on a")


def test_a_copy_cap_needs_same_owner_copying() -> None:
    with pytest.raises(InvalidValue, match="set copy_trading: same_owner with it"):
        Conduct(CopyTrading.ALLOWED, copy_capital_per_owner=(("USD", Decimal(300_000)),))


def test_the_stricter_accounts_window_judges_a_copy() -> None:
    long_window = replace(BASE, conduct=Conduct(CopyTrading.FORBIDDEN, copy_window_seconds=600))
    book = CrossAccountConduct({"f": long_window, "c": rules(CopyTrading.SAME_OWNER)}, {"f": "ann", "c": "ann"})
    book.placed("f", [order("f", T0)])
    assert book.veto("c", [order("c", T0 + 120 * S)], {}).endswith("(copying is forbidden on either account)")
    assert book.veto("c", [order("c", T0 + 601 * S)], {}) == ""


def test_topstep_a_combine_copying_another_traders_funded_account_is_vetoed() -> None:
    # Topstep's funded accounts copy only between one trader's accounts; a combine (no copy rule of its
    # own) copying another trader's funded trade is that copy too: the stricter of the two judges
    combine, funded = load_preset("topstepx.combine"), load_preset("topstepx.funded")
    book = CrossAccountConduct({"c": combine, "f": funded, "g": combine}, {"c": "bob", "f": "ann", "g": "ann"})
    book.placed("f", [order("f", T0)])
    assert book.veto("c", [order("c", T0 + S)], {}).startswith("copy_trading: EURUSD buy already placed on f at Topstep")
    assert book.veto("g", [order("g", T0 + S)], {}) == "", "ann's own combine may copy her funded account"
