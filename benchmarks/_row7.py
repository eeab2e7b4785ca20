"""Row 7: what the safety work costs typed records, measured in this tree.

The safety work is what issues 10 and 11 added (size cap, churn healing, cycle
detection). The row streams typed records through private copies of this tree's
``carrierx_async`` (``_before.load_tree``): two unpatched, two with the safety work
switched off ("before": 0.1's walk, ``_before.switch_off_safety``), loaded in the order
unpatched, before, before, unpatched (a copy's speed depends a little on where its code
and data landed in memory; that order gives both sides the same mean place), and one
with no identity work at all (info: what the whole walk costs). Each patched copy is
checked first (``_before.check_safety_off``); the real package is never touched.

The variants stream the same records, interleaved, in many short rounds (``interleave``),
with the client and the server process pinned to a CPU each (``pinned``). The figure is
the median per-round ratio of client CPU time per record (``time.thread_time``; the
server runs in another process), which other jobs on a shared machine disturb far less
than the wall-clock rate, printed beside it; each side's two copies are pooled per round
(``_pooled``). On the 2-core VM of 2026-12-03 one stream's CPU time per record moved
~20% from one round to the next, and a single copy against another of the same code
differed by up to 6% in 31 rounds: pooled and balanced, by about 2.5%.

Row 7a times the safety work's own methods in the stream (``SAFETY_METHODS``, with
``_timed``): all of the safety work runs inside them in this tree and all that replaces
it inside the same methods of "before", so it is their direct cost with little noise. It
does not see what they cause elsewhere: keeping the window's identities as the parsed
strings once made every later page's parse and decode 3-5% slower, which only whole
streams showed (now the window keeps their hashes, see ``_pagination``).

``python -m benchmarks --before REF`` compares this tree with ``REF`` instead: that
version is exported (``git archive``) into a temporary directory and imported under its
own name. Target for the safety work: at most 3% of typed throughput, so
``after / before >= 0.97``.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import carrierx_async
from carrierx_async import Client

from ._before import (
    _ROOT,
    TOKEN,
    UNSAFE,
    check_safety_off,
    load_before,
    load_tree,
    switch_off_safety,
)
from ._harness import Row, count, interleave, pinned, ratio
from ._server import carrierx_base
from ._timed import Meter, time_methods

__all__ = ["SAFETY_METHODS", "bench_before", "bench_safety", "time_safety"]


def _missing(refs: tuple[str, ...]) -> str | None:
    """Why these commits cannot be exported here (no git, a shallow clone), or None."""
    for ref in refs:
        try:
            subprocess.run(
                ["git", "cat-file", "-e", f"{ref}^{{commit}}"],
                cwd=_ROOT,
                check=True,
                capture_output=True,
            )
        except (OSError, subprocess.CalledProcessError):
            return f"commit {ref} is not in this checkout (git, and not a shallow clone)"
    return None


Runs = dict[str, list[tuple[float, ...]]]
#: Row 7a times these methods: all the safety work runs inside them (in this tree), and
#: all that replaces it (in the copy without it), 0.1's walk included.
SAFETY_METHODS: Final = (
    ("_pagination", "Paginator", "_accept_offset"),
    ("_transport", "Transport", "_read"),
)


def time_safety(package: ModuleType) -> Meter:
    """Time ``SAFETY_METHODS`` of ``package`` (a private copy) into the meter returned."""
    if package is carrierx_async:
        raise ValueError("time_safety patches a private copy, never carrierx_async")
    meter = Meter()
    for module, owner, name in SAFETY_METHODS:
        time_methods(getattr(getattr(package, module), owner), (name,), meter)
    return meter


async def _measure(
    port: int,
    records: int,
    rounds: int,
    variants: dict[str, Any],
    meters: dict[str, Meter] | None = None,
) -> Runs:
    """Per variant (a ``Client`` class) and round: (records per CPU second, records/s,
    CPU seconds per record inside its meter's methods, 0.0 without a meter)."""
    base = carrierx_base(port, records)
    meters = meters or {}

    def runner(name: str, client_class: Any) -> Any:
        meter = meters.get(name, Meter())

        async def run() -> tuple[float, float, float]:
            async with client_class(token=TOKEN, base_url=base) as client:
                meter.cpu = 0.0
                cpu, wall = time.thread_time(), time.perf_counter()
                got = await count(client.available_dids(page_size=1000))
                cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            assert got == records, got
            return got / cpu, got / wall, meter.cpu / got

        return run

    return await interleave({name: runner(name, c) for name, c in variants.items()}, rounds)


def _ratio(runs: Runs, a: str, b: str, i: int = 0) -> float:
    """Median over rounds of a / b, by CPU time per record (``i=0``) or wall-clock rate."""
    return ratio({k: [r[i] for r in runs[k]] for k in (a, b)}, a, b)


def _attributed(runs: Runs, after: str, before: str) -> float:
    """Median over rounds of ``(1 - share(after)) / (1 - share(before))``, a share being the
    part of a stream's CPU time per record spent inside its timed methods.

    With the rest of the code the same in both (R), after / before throughput by CPU is
    (R + S_before) / (R + S_after), which is that ratio; as shares of each stream's own
    time it holds when the machine runs one stream slower than the other (on this VM
    speed moves ~20% from one stream to the next), where subtracting seconds would not.
    """
    return statistics.median(
        (1 - a[2] * a[0]) / (1 - b[2] * b[0])
        for a, b in zip(runs[after], runs[before], strict=True)
    )


def _pooled(runs: Runs, a: str, b: str, into: str) -> Runs:
    """``runs`` plus ``into``: per round, ``a`` and ``b`` (the same code) pooled as one
    variant that streamed twice the records: rates by harmonic mean, the time per record
    inside timed methods by mean. Half the noise."""
    both: list[tuple[float, ...]] = [
        (2 / (1 / x[0] + 1 / y[0]), 2 / (1 / x[1] + 1 / y[1]), (x[2] + y[2]) / 2)
        for x, y in zip(runs[a], runs[b], strict=True)
    ]
    return {**runs, into: both}


def _report(runs: Runs, records: int, was_pinned: bool) -> None:
    rates = ", ".join(
        f"{k} {statistics.median(r[1] for r in v):,.0f} rec/s" for k, v in runs.items()
    )
    where = "client and server pinned to a CPU each" if was_pinned else "not pinned"
    rounds = len(next(iter(runs.values())))
    print(f"  row 7: {rounds} rounds of {records:,} typed records, {where}: {rates}", flush=True)


async def bench_safety(port: int, server_pid: int | None, records: int, rounds: int) -> list[Row]:
    """Row 7: typed records with copies of this tree against copies without the safety work.

    Two of each, loaded in the order unpatched, before, before, unpatched: a copy's speed
    depends a little on where its code and data landed, and the order puts both sides
    at the same mean place; each side's rates are pooled per round (``_pooled``).
    """
    with tempfile.TemporaryDirectory() as tmp:
        copies = {
            name: load_tree(Path(tmp) / name, f"{UNSAFE}_{name}")
            for name in ("safe1", "before1", "before2", "safe2", "bare")
        }
        for name in ("before1", "before2"):
            switch_off_safety(copies[name])
            await check_safety_off(copies[name], carrierx_base(port, 2000), 2000)
        switch_off_safety(copies["bare"], keep_overlap=False)
        await check_safety_off(copies["bare"], carrierx_base(port, 2000), 2000, keep_overlap=False)
        meters = {name: time_safety(copies[name]) for name in copies if name != "bare"}
        variants = {name: package.Client for name, package in copies.items()}
        with pinned(server_pid) as was_pinned:
            runs = await _measure(port, records, rounds, variants, meters)
    _report(runs, records, was_pinned)
    runs = _pooled(_pooled(runs, "safe1", "safe2", "safe"), "before1", "before2", "before")
    return [
        Row(
            "7 the safety work's cost (size cap, churn healing, cycle detection): typed "
            "records, this tree / the same with 0.1's walk, by client CPU time per record",
            _ratio(runs, "safe", "before"),
            0.97,
        ),
        Row("7' the same by wall-clock rate (info)", _ratio(runs, "safe", "before", 1), None),
        Row(
            "7a the same counting only the time inside the safety work's methods, timed in "
            "the stream: their direct cost (info)",
            _attributed(runs, "safe", "before"),
            None,
        ),
        Row(
            "7'' noise floor: one unpatched copy / the other, loaded first and fourth, by CPU "
            "time (info)",
            _ratio(runs, "safe1", "safe2"),
            None,
        ),
        Row(
            "7''' all the walk's identity work, 0.1's too: this tree / no re-read overlap and "
            "no identities at all, by CPU time (info)",
            _ratio(runs, "safe", "bare"),
            None,
        ),
    ]


async def bench_before(
    port: int, server_pid: int | None, ref: str, records: int, rounds: int
) -> list[Row]:
    """Row 7 with ``--before REF``: typed records with this tree against ``ref``."""
    why = _missing((ref,))
    if why is not None:
        print(f"  row 7 skipped: {why}", flush=True)
        return []
    with tempfile.TemporaryDirectory() as tmp:
        old = load_before(ref, Path(tmp) / "before").Client
        with pinned(server_pid) as was_pinned:
            runs = await _measure(port, records, rounds, {"tree": Client, ref: old})
    _report(runs, records, was_pinned)
    return [
        Row(
            f"7 typed records, this tree / {ref}, by client CPU time",
            _ratio(runs, "tree", ref),
            0.97,
        ),
        Row("7' the same by wall-clock rate (info)", _ratio(runs, "tree", ref, 1), None),
    ]
