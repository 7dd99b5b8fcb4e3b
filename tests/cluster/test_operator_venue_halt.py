"""An operator's halt of the whole desk locks rust_exec too (a real rust_exec, no Ray): the desk's
resume lifts that lock, but never a kill switch someone set at rust_exec (`octet halt`), before the
operator's halt or after it, nor the system breaker's own halt. rust_exec halted by the desk's own
lock is not taken for a kill switch (which the breaker mirrors by flattening); one halted by someone
else is, even while the operator's halt holds; a lock a resume could not lift is lifted once rust_exec
answers again."""

from __future__ import annotations

from typing import Any

from cluster.adapters.rust_exec.client import GrpcExecutionClient
from cluster.desk.session import OPERATOR_VENUE_HALT, Session
from tests.exec.test_rust_exec import config, svc  # noqa: F401 (fixtures: rust_exec with its accounts)


def desk(settings: Any, svc: Any, registry: Any, reconnect_for: float = 20.0) -> Session:  # noqa: F811
    s = Session(settings)
    s.venue = GrpcExecutionClient(svc.address, registry, catch_up=False, credentials=svc.credentials(),
                                  reconnect_for=reconnect_for)
    return s


def test_the_operators_halt_locks_rust_exec_and_their_resume_lifts_only_their_own_lock(
        settings, svc, registry) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    s = desk(settings, svc, registry)
    other = GrpcExecutionClient(svc.address, registry, catch_up=False, credentials=svc.credentials())
    try:
        assert s._venue_halt("api:alice (k1)", "NFP") == "; rust_exec refuses new orders"
        h = s.venue.health()
        assert h.halted and h.halt_reason == f"{OPERATOR_VENUE_HALT} (api:alice (k1)): NFP" and s.venue_halted
        assert s._venue_resume() == "; rust_exec takes orders again"
        assert not s.venue.health().halted and not s.venue_halted
        # a kill switch set at rust_exec after the operator's halt: the desk's resume leaves it
        s._venue_halt("api:alice (k1)", "NFP")
        other.operator_halt("bob: venue problem")
        assert s._venue_resume() == "; rust_exec stays halted: bob: venue problem"
        assert other.health().halted
        other.resume()
        # the system breaker holds rust_exec: the operator's resume leaves that to the breaker
        s._venue_halt("api:alice (k1)", "NFP")
        s.desk_halted = True
        assert s._venue_resume() == "; rust_exec stays halted by the system breaker"
        assert other.health().halted
    finally:
        other.close()
        s.venue.close()


def test_rust_exec_unreachable_leaves_the_desks_own_halt_and_says_so(settings, svc, registry) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    s = desk(settings, svc, registry, reconnect_for=0.5)
    svc.stop()
    try:
        out = s._venue_halt("api:alice (k1)", "NFP")
        assert out.startswith("; rust_exec was not reached (") and out.endswith("the desk's own halt holds"), out
        assert not s.venue_halted and s.health.venue_error
    finally:
        s.venue.close()


def test_a_kill_switch_set_before_the_operators_halt_is_neither_overwritten_nor_lifted(
        settings, svc, registry) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    s = desk(settings, svc, registry)
    other = GrpcExecutionClient(svc.address, registry, catch_up=False, credentials=svc.credentials())
    try:
        other.operator_halt("bob: venue problem")
        assert s._venue_halt("api:alice (k1)", "NFP") == "; rust_exec was already halted: bob: venue problem"
        assert other.health().halt_reason == "bob: venue problem"
        assert s._venue_resume() == "; rust_exec stays halted: bob: venue problem"
        assert other.health().halted
    finally:
        other.close()
        s.venue.close()


def test_whose_halt_rust_exec_holds_decides_whether_it_is_a_kill_switch(settings, svc, registry) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    s = desk(settings, svc, registry)
    other = GrpcExecutionClient(svc.address, registry, catch_up=False, credentials=svc.credentials())
    try:
        assert s._venue_seen(False) == ""
        s.operator_halts["*"] = ("api:alice (k1)", "NFP")
        s._venue_halt("api:alice (k1)", "NFP")
        assert s._venue_seen(True) == ""  # the desk's own lock
        other.operator_halt("bob: exchange outage")  # set while the operator's halt holds
        assert s._venue_seen(True) == "venue halted by an operator"
        other.resume()
        # the operator resumed while rust_exec could not hear it: its lock, seen again, is lifted
        s._venue_halt("api:alice (k1)", "NFP")
        del s.operator_halts["*"]
        assert s._venue_seen(True) == "" and not other.health().halted
    finally:
        other.close()
        s.venue.close()
