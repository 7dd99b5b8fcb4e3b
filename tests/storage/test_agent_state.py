"""Agent state saved between calls: restored whole, histories written by what they gained."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest

from actors.performance import PerformanceAgent
from actors.shell import AgentShell
from cluster.storage.store import SessionStore
from tests.conftest import fresh_database
from trading.history import AppendLog
from trading.ledger import AccountSnapshot, ClosedTrade
from trading.orders import CloseReason, Side

KEY = bytes(range(32))  # the state signing key of these tests


def _trade(i: int) -> ClosedTrade:
    return ClosedTrade(f"p{i}", "acc", "EURUSD", Side.BUY, Decimal("1.5"), Decimal("1.08"), Decimal("1.09"), i, i + 1,
                       Decimal(i % 7 - 3), Decimal("3.5"), CloseReason.TAKE_PROFIT, f"s{i}", Decimal(100))


def _snap(i: int) -> AccountSnapshot:
    return AccountSnapshot("acc", "USD", i, Decimal(100_000), Decimal(100_000 + i), Decimal(100_000 + i), (), i)


def test_an_append_log_only_grows() -> None:
    log: AppendLog[int] = AppendLog([1, 2])
    log.append(3)
    log.extend([4])
    for change in (lambda: log.__setitem__(0, 9), lambda: log.pop(), lambda: log.clear(), lambda: log.sort(),
                   lambda: log.insert(0, 1), lambda: log.remove(1), lambda: log.__delitem__(0)):
        with pytest.raises(TypeError, match="only grows"):
            change()
    assert log == [1, 2, 3, 4]
    again = pickle.loads(pickle.dumps(log))
    assert again == log and again.log_id == log.log_id and type(again) is AppendLog


@pytest.fixture(params=["sqlite", "postgresql"])
def state_dir(request, tmp_path, postgres) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return str(tmp_path / "state" / "run1")
    url = fresh_database(postgres, "agent_state")
    SessionStore(url).close()  # the migrations make agent_snapshots and agent_log_chunks
    return url


def test_a_restarted_shell_resumes_where_it_was_and_a_retried_call_is_not_applied_twice(state_dir: str) -> None:
    shell = AgentShell("performance", state_dir, PerformanceAgent, {"acc": Decimal(100_000)}, run_id="run1", key=KEY)
    for i in range(1, 60):
        shell.call(i, "on_update", {"acc": _snap(i * 10)}, [_trade(i)] if i % 2 else [])
    before = shell.query("summary")
    curve = shell.query("equity_curves")
    again = AgentShell("performance", state_dir, PerformanceAgent, {"acc": Decimal(100_000)}, run_id="run1", key=KEY)
    assert again.restored and again.stats["restarts"] == 1 and again.last_seq == 59
    assert again.query("summary") == before and again.query("equity_curves") == curve
    assert again.call(59, "on_update", {"acc": _snap(9999)}, [_trade(9999)]) == again.recent[59][1]  # a retry
    assert again.query("summary") == before
    again.call(60, "on_update", {"acc": _snap(601)}, [_trade(60)])
    third = AgentShell("performance", state_dir, PerformanceAgent, {"acc": Decimal(100_000)}, run_id="run1", key=KEY)
    assert third.query("summary") == again.query("summary") and third.query("summary")["acc"].trades == 31


def test_what_a_call_writes_does_not_grow_with_the_history(tmp_path) -> None:  # type: ignore[no-untyped-def]
    shell = AgentShell("performance", str(tmp_path / "s"), PerformanceAgent, {"acc": Decimal(100_000)}, key=KEY)
    sizes = []
    for i in range(1, 2001):
        written = shell.store.bytes_written
        shell.call(i, "on_update", {"acc": _snap(i)}, [_trade(i)])
        sizes.append(shell.store.bytes_written - written)
    whole = len(pickle.dumps(shell.agent))
    assert sizes[-1] <= sizes[100] * 1.2, (sizes[100], sizes[-1])  # flat, not growing
    assert whole > 20 * sizes[-1], (whole, sizes[-1])  # a whole snapshot would be far bigger by now


def test_two_calls_in_flight_are_both_answered_after_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A caller with two calls in flight (Kafka read-ahead) gets both recorded results when Ray
    retries them on the restarted actor, in order, and neither is applied again."""
    from actors.shell import StaleCall

    shell = AgentShell("performance", str(tmp_path / "s"), PerformanceAgent, {"acc": Decimal(100_000)}, key=KEY)
    first = shell.call(1, "on_update", {"acc": _snap(1)}, [_trade(1)])
    second = shell.call(2, "on_update", {"acc": _snap(2)}, [_trade(2)])
    again = AgentShell("performance", str(tmp_path / "s"), PerformanceAgent, {"acc": Decimal(100_000)}, key=KEY)
    assert again.call(1, "on_update", {"acc": _snap(1)}, [_trade(1)]) == first
    assert again.call(2, "on_update", {"acc": _snap(2)}, [_trade(2)]) == second
    assert again.query("summary")["acc"].trades == 2
    for seq in range(3, 5):
        again.call(seq, "on_update", {"acc": _snap(seq)}, [])
    with pytest.raises(StaleCall):
        again.call(2, "on_update", {"acc": _snap(2)}, [])


class _Counter:
    """A toy agent: ``add`` changes it, ``peek`` is declared a read."""

    reads = frozenset({"peek"})

    def __init__(self) -> None:
        self.total = 0

    def add(self, n: int) -> int:
        self.total += n
        return self.total

    def peek(self) -> int:
        return self.total


def test_a_declared_read_is_not_saved_and_a_restart_answers_it_the_same(tmp_path) -> None:  # type: ignore[no-untyped-def]
    shell = AgentShell("counter", str(tmp_path / "s"), _Counter, run_id="r", key=KEY)
    assert shell.call(1, "add", 5) == 5
    written = shell.store.bytes_written
    assert shell.call(2, "peek") == 5
    assert shell.store.bytes_written == written, "a read writes nothing"
    again = AgentShell("counter", str(tmp_path / "s"), _Counter, run_id="r", key=KEY)  # killed after the read
    assert again.call(2, "peek") == 5, "the retried read is computed again from the same state"
    assert again.call(3, "add", 1) == 6 and again.call(3, "add", 1) == 6, "and what follows applies once"


def test_many_calls_in_one_apply_in_order_save_once_and_are_not_applied_twice(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from actors.shell import MANY

    shell = AgentShell("counter", str(tmp_path / "s"), _Counter, run_id="r", key=KEY)
    assert shell.call(1, MANY, [("add", (2,)), ("add", (3,)), ("peek", ())]) == [2, 5, 5]
    again = AgentShell("counter", str(tmp_path / "s"), _Counter, run_id="r", key=KEY)  # killed before it answered
    assert again.call(1, MANY, [("add", (2,)), ("add", (3,)), ("peek", ())]) == [2, 5, 5], "the recorded answer"
    assert again.call(2, "peek") == 5


def test_a_shell_keeps_every_answer_since_the_checkpoint_for_a_driver_that_replays_them(state_dir: str) -> None:
    from actors.shell import Diverged

    shell = AgentShell("performance", state_dir, PerformanceAgent, {"acc": Decimal(100_000)}, run_id="run2", key=KEY)
    for i in range(1, 11):
        shell.call(i, "on_update", {"acc": _snap(i * 10)}, [_trade(i)], keep_from=4)  # the checkpoint was at call 4
    assert sorted(shell.recent) == list(range(5, 11))
    # the driver died; a new one replays calls 5..10 from its checkpoint, then goes on
    again = AgentShell("performance", state_dir, PerformanceAgent, {"acc": Decimal(100_000)}, run_id="run2", key=KEY)
    before = again.query("summary")
    answers = [again.call(i, "on_update", {"acc": _snap(1)}, [_trade(99)], keep_from=4) for i in range(5, 11)]
    assert answers == [shell.recent[i][1] for i in range(5, 11)] and again.query("summary") == before
    with pytest.raises(Diverged, match="call 7 was on_update, now summary"):
        again.call(7, "summary", keep_from=4)
    again.call(11, "on_update", {"acc": _snap(110)}, [_trade(11)], keep_from=10)  # the next checkpoint: 10
    assert sorted(again.recent) == [11]


class _Window:
    """A toy agent like an analysis shard: a batch with nothing of its own changes nothing."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_batch(self, bars: list[int]) -> int:
        self.seen.extend(bars)
        self.last_changed = bool(bars)
        return len(self.seen)


def test_a_call_that_changed_nothing_is_not_saved_and_a_restart_answers_it_the_same(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from actors.shell import MANY

    shell = AgentShell("window", str(tmp_path / "s"), _Window, run_id="r", key=KEY)
    assert shell.call(1, "on_batch", [1, 2]) == 2
    written = shell.store.bytes_written
    assert shell.call(2, "on_batch", []) == 2
    assert shell.store.bytes_written == written, "a batch with no bar of its own writes nothing"
    assert shell.call(3, MANY, [("on_batch", ([],))]) == [2] and shell.store.bytes_written > written, \
        "several calls in one are saved whatever the last of them says"
    again = AgentShell("window", str(tmp_path / "s"), _Window, run_id="r", key=KEY)
    assert again.call(4, "on_batch", []) == 2 and again.call(5, "on_batch", [3]) == 3
    third = AgentShell("window", str(tmp_path / "s"), _Window, run_id="r", key=KEY)  # killed after 5
    assert third.agent.seen == [1, 2, 3] and third.call(5, "on_batch", [3]) == 3, "5 applied once"
    assert third.call(6, "on_batch", [4]) == 4
