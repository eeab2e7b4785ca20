"""CPU time spent inside chosen methods while a stream runs (row 7a).

``time_methods(owner, names, meter)`` replaces each method of ``owner`` (a class of a
private copy of the package) by one that adds the thread CPU time its calls take to
``meter.cpu``. A coroutine method is timed step by step: each ``send`` into it runs its
code until it waits, and only those steps count, not what other tasks run while it waits.
Garbage collections are not counted either: one runs inside whichever code makes the
allocation that crosses the threshold, and its cost is the whole heap's young objects
(here a parsed page's), not that code's (the two copies' methods measured 0.06-0.5 µs a
record from one stream to the next with collections in, depending on which got them).

Timing both the safety work's methods in this tree and their replacements in the copy
without it measures what the safety work adds per record with the noise of a few
percent of that small share, not of the whole stream (on a machine whose speed moves
20% from one stream to the next). It is the direct cost only: what the methods cause
elsewhere (memory they keep alive slowing later parses, say) is not in it, so the target
row (7) stays on whole streams.
"""

from __future__ import annotations

import gc
import inspect
import time
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any

__all__ = ["Meter", "time_methods"]

_clock = time.thread_time
_collecting = [0.0, 0.0]  # [total CPU seconds in collections so far, start of this one]


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _collecting[1] = _clock()
    else:
        _collecting[0] += _clock() - _collecting[1]


def _spent(start: float, collected: float) -> float:
    """CPU seconds since ``start``, less the collections since ``collected`` was read."""
    return _clock() - start - (_collecting[0] - collected)


@dataclass
class Meter:
    cpu: float = 0.0  # thread CPU seconds inside the timed methods


class _Steps:
    """Await a coroutine, timing each step of it (each ``send`` or ``throw``)."""

    __slots__ = ("coro", "meter")

    def __init__(self, coro: Coroutine[Any, Any, Any], meter: Meter) -> None:
        self.coro, self.meter = coro, meter

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, meter = self.coro, self.meter
        value: Any = None
        error: BaseException | None = None
        while True:
            collected, start = _collecting[0], _clock()
            try:
                future = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                return stop.value
            finally:
                meter.cpu += _spent(start, collected)
            try:
                value, error = (yield future), None
            except BaseException as exc:  # handed to the coroutine, as await would
                value, error = None, exc


def _timed(method: Callable[..., Any], meter: Meter) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(method):

        def steps(*args: Any, **kwargs: Any) -> _Steps:
            return _Steps(method(*args, **kwargs), meter)

        return steps

    def run(*args: Any, **kwargs: Any) -> Any:
        collected, start = _collecting[0], _clock()
        try:
            return method(*args, **kwargs)
        finally:
            meter.cpu += _spent(start, collected)

    return run


def time_methods(owner: type, names: tuple[str, ...], meter: Meter) -> None:
    """Time every call of ``owner.<name>`` for each name into ``meter`` (patches ``owner``)."""
    if _on_gc not in gc.callbacks:  # stays for the process: it only adds up collections
        gc.callbacks.append(_on_gc)
    for name in names:
        setattr(owner, name, _timed(vars(owner)[name], meter))
