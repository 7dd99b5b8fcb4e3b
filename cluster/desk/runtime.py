"""Where the agents run: on Ray (actors, one per agent), or in this process (the backtest).

The desk's driver talks to its agents through ``AgentRef`` handles and waits on what they return
with ``get`` and ``wait``. On Ray those are object references; in process (``LocalHandle``) a call
is applied at once, in the order sent, by the same ``AgentShell`` the actor hosts, and returns a
``Done`` that holds its result (or its error, raised where the result is read, as Ray does). So a
backtest runs the same agents, in the same order, through the same driver code, with no Ray hop.
Ray is imported only where a Ray reference is met: a backtest never loads it (about a second).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any


class Done:
    """A call already applied in process: its result, or the error it raised."""

    __slots__ = ("error", "value")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class _Method:
    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def remote(self, *args: Any, **kwargs: Any) -> Done:
        try:  # a result handed on as an argument is passed as its value, as Ray passes an ObjectRef's
            values = [a.result() if isinstance(a, Done) else a for a in args]
            return Done(self.fn(*values, **kwargs))
        except Exception as exc:  # noqa: BLE001 - raised again where the result is read, as from Ray
            return Done(error=exc)


class LocalHandle:
    """An in-process stand-in for an actor handle: ``handle.call.remote(...)`` applies the call."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.call = _Method(shell.call)
        self.query = _Method(shell.query)
        self.info = _Method(shell.info)
        self.reload = _Method(shell.reload)


def is_ref(x: Any) -> bool:
    if isinstance(x, Done):
        return True
    ray = sys.modules.get("ray")  # no Ray loaded: no Ray reference can exist
    return ray is not None and isinstance(x, ray.ObjectRef)


def get(refs: Any, timeout: float | None = None) -> Any:
    """``ray.get`` for Ray's references, a ``Done``'s result for the in-process ones."""
    if isinstance(refs, Done):
        return refs.result()
    if isinstance(refs, list) and all(isinstance(r, Done) for r in refs):
        return [r.result() for r in refs]
    import ray

    return ray.get(refs, timeout=timeout)


def wait(refs: Sequence[Any], num_returns: int = 1, timeout: float | None = None,
         fetch_local: bool = True) -> tuple[list[Any], list[Any]]:
    """``ray.wait``; every in-process call is done already."""
    if all(isinstance(r, Done) for r in refs):
        return list(refs[:num_returns]), list(refs[num_returns:])
    import ray

    ready, rest = ray.wait(list(refs), num_returns=num_returns, timeout=timeout, fetch_local=fetch_local)
    return list(ready), list(rest)
