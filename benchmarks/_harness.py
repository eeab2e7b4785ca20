"""What every benchmark shares: a result row, the interleaved A/B runner, CPU pinning.

Each comparison runs its variants interleaved in one process (round r runs them in
order, round r+1 in reverse), after one unrecorded warm-up round, and reports the median
of the per-round ratios. ``pinned`` keeps the client and the server process on a CPU each
while a comparison that needs a steady figure runs (row 7).
"""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Row", "Runner", "count", "fmt_rate", "interleave", "pinned", "ratio"]

T = TypeVar("T")


@dataclass
class Row:
    name: str
    measured: float
    target: float | None  # None: informational
    unit: str = "x"
    detail: str = ""
    higher_is_better: bool = True

    def verdict(self) -> str:
        if self.target is None:
            return "info"
        ok = self.measured >= self.target if self.higher_is_better else self.measured <= self.target
        return "pass" if ok else "MISS"


Runner = Callable[[], Awaitable[float]]  # runs once, returns a rate (units per second)


async def count(it: AsyncIterator[Any]) -> int:
    n = 0
    async for _ in it:
        n += 1
    return n


async def interleave(
    variants: dict[str, Callable[[], Awaitable[T]]], rounds: int
) -> dict[str, list[T]]:
    """Run each variant once per round, alternating the order; the first round is warm-up."""
    results: dict[str, list[T]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds + 1):
        for name in names if r % 2 == 0 else reversed(names):
            gc.collect()
            result = await variants[name]()
            if r:
                results[name].append(result)
    return results


def ratio(rates: dict[str, list[float]], a: str, b: str) -> float:
    """Median over rounds of rate(a) / rate(b)."""
    return statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True))


def fmt_rate(rates: list[float], unit: str) -> str:
    return f"{statistics.median(rates):,.0f} {unit}/s"


@contextlib.contextmanager
def pinned(server_pid: int | None) -> Iterator[bool]:
    """This thread on one CPU and the server process on another, while the row runs.

    Two processes the scheduler moves between the cores, each then finding cold caches,
    move the CPU time per record by several percent from round to round; pinned, an
    unpatched copy of this tree measures within about 1% of the tree. Yields whether it
    pinned (not on a single CPU, without ``sched_setaffinity`` or without a server pid).
    """
    setaffinity = getattr(os, "sched_setaffinity", None)
    cpus = sorted(os.sched_getaffinity(0)) if setaffinity is not None else []
    if setaffinity is None or server_pid is None or len(cpus) < 2:
        yield False
        return
    server_cpus = os.sched_getaffinity(server_pid)
    setaffinity(0, {cpus[0]})
    setaffinity(server_pid, {cpus[1]})
    try:
        yield True
    finally:
        setaffinity(0, set(cpus))
        with contextlib.suppress(OSError):  # the server may have ended
            setaffinity(server_pid, server_cpus)
