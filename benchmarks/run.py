"""Run the benchmarks and print one table: ``python -m benchmarks [--quick]``.

Every row compares carrierx_async, through its public API only, with a hand-written loop
on the same pages from a local aiohttp.web server in a child process. The variants of a
row run interleaved in one process (round r in order, round r+1 reversed) after one
unrecorded warm-up round; a ratio is the median of the per-round ratios. ``--quick`` runs
every row at tiny sizes as a smoke test and prints which ran, no figures: tiny sizes
measure nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import gc
import importlib.metadata
import math
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from carrierx_async import Client

from ._loops import (
    bare_dicts,
    bare_pages,
    bare_twilio,
    bare_typed,
    missing,
    pydantic_dids,
    twilio_numbers,
)
from ._server import carrierx_base, page_body, server

__all__ = ["main", "median_ratio", "percentile"]

T = TypeVar("T")
TOKEN = "bench-token"
PAGE = 1000


@dataclass(frozen=True)
class Sizes:
    records: int  # the streaming rows, pages of 1000
    rounds: int
    twilio: int
    small_pages: int  # requests of 10 records
    holds: int
    memory: tuple[int, int]
    collect: bool = True  # a full collection before each run (slow in a big heap)


FULL = Sizes(100_000, 7, 20_000, 2_000, 20_000, (10_000, 1_000_000))
QUICK = Sizes(200, 1, 200, 5, 200, (200, 400), collect=False)


@dataclass(frozen=True)
class Row:
    name: str
    measured: str
    context: str


def median_ratio(a: list[float], b: list[float]) -> float:
    """The median over rounds of ``a[i] / b[i]``."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile: the smallest value with q% of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


async def interleave(
    variants: dict[str, Callable[[], Awaitable[T]]], rounds: int, collect: bool = True
) -> dict[str, list[T]]:
    """Each variant once a round, the order reversed every other round; round 0 is warm-up."""
    results: dict[str, list[T]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds + 1):
        for name in names if r % 2 == 0 else names[::-1]:
            if collect:
                gc.collect()
            result = await variants[name]()
            if r:
                results[name].append(result)
    return results


async def rate(items: AsyncIterator[Any], expected: int | None) -> float:
    """Items per second through ``items``, checked to be exactly ``expected`` if given."""
    started, n = time.perf_counter(), 0
    async for _ in items:
        n += 1
    elapsed = time.perf_counter() - started
    assert expected is None or n == expected, f"{n} items, expected {expected}"
    return n / elapsed


def ours(base: str, n: int | None, how: str = "", size: int = PAGE, measure: Any = None) -> Any:
    """carrierx_async's stream of ``n`` records, typed or ``how="dicts"|"pages"``."""

    async def run() -> Any:
        async with Client(TOKEN, base_url=base) as client:
            stream = client.available_dids(page_size=size)
            pick: Any = {"dicts": stream.dicts, "pages": stream.pages}.get(how)
            items = stream if pick is None else pick()
            return await (measure or rate)(items, n)

    return run


def theirs(loop: Callable[..., AsyncIterator[Any]], where: Any, n: int, **kw: Any) -> Any:
    """A loop or peer of ``_loops`` yielding ``n`` items, measured by ``rate`` or ``measure``."""
    measure = kw.pop("measure", rate)
    return lambda: measure(loop(where, **kw), n)


def ratio(name: str, r: dict[str, list[float]], a: str, b: str, *rates: str) -> Row:
    """A row of ``a`` / ``b``; the context gives the median rates of ``rates``."""
    context = ", ".join(f"{k} {statistics.median(r[k]):,.0f}/s" for k in rates)
    return Row(name, f"{median_ratio(r[a], r[b]):.2f}x", context)


async def stream_rows(port: int, sz: Sizes) -> list[Row]:
    """Typed records and ``.dicts()`` against both bare loops, and the SDK-style peer."""
    base, n = carrierx_base(port, sz.records), sz.records
    variants = {
        "typed": ours(base, n),
        "dicts": ours(base, n, "dicts"),
        "limit": theirs(bare_typed, base, n, page_size=PAGE),
        "orjson": theirs(bare_dicts, base, n, page_size=PAGE),
    }
    skipped = missing("httpx", "pydantic")
    if skipped is None:
        variants["pydantic"] = theirs(pydantic_dids, base, n, page_size=PAGE)
    r = await interleave(variants, sz.rounds, sz.collect)
    peer = "peer: httpx + pydantic v2, generated-SDK style / its bare loop, the typed limit"
    return [
        ratio("typed records / the typed limit", r, "typed", "limit", "typed", "limit"),
        ratio("typed records / aiohttp + orjson", r, "typed", "orjson", "orjson"),
        ratio("`.dicts()` / aiohttp + orjson", r, "dicts", "orjson", "dicts"),
        Row(peer, "skipped", skipped)
        if skipped
        else ratio(peer, r, "pydantic", "limit", "pydantic"),
    ]


async def twilio_row(port: int, sz: Sizes) -> list[Row]:
    """twilio-python against its own bare loop, and ours against ours in the same rounds."""
    name = "peer: twilio-python `stream_async` / its bare loop, aiohttp + orjson"
    if (skipped := missing("twilio")) is not None:
        return [Row(name, "skipped", skipped)]
    base, n = carrierx_base(port, sz.twilio), sz.twilio
    variants = {
        "twilio": theirs(twilio_numbers, port, n, limit=n, page_size=PAGE),
        "bare": theirs(bare_twilio, port, n, limit=n, page_size=PAGE),
        "typed": ours(base, n),
        "orjson": theirs(bare_dicts, base, n, page_size=PAGE),
    }
    r = await interleave(variants, sz.rounds, sz.collect)
    row = ratio(name, r, "twilio", "bare", "twilio")
    ours_ = median_ratio(r["typed"], r["orjson"])
    return [Row(name, row.measured, f"{row.context}; typed / aiohttp + orjson here {ours_:.2f}x")]


async def requests_row(port: int, sz: Sizes) -> list[Row]:
    """Pages of 10. The walk re-reads 2 records a page, so it makes more requests."""
    base = carrierx_base(port, sz.small_pages * 10)
    variants = {
        "client": ours(base, None, "pages", size=10),
        "bare": theirs(bare_pages, base, sz.small_pages, page_size=10),
    }
    r = await interleave(variants, sz.rounds, sz.collect)
    name = "requests/s, pages of 10 / aiohttp + orjson"
    return [ratio(name, r, "client", "bare", "client", "bare")]


async def holds(items: AsyncIterator[Any], expected: int | None) -> list[float]:
    """The CPU time between turns of a task beside ``items``: how long others wait."""
    gaps: list[float] = []

    async def tick() -> None:
        last = time.thread_time()
        while True:
            await asyncio.sleep(0)
            now = time.thread_time()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    try:
        await rate(items, expected)
    finally:
        ticker.cancel()
    return gaps


def parse_time(body: bytes, repeat: int = 15) -> float:
    """The median CPU time of ``orjson.loads`` of one page in a tight loop."""
    times = []
    for _ in range(repeat):
        started = time.thread_time()
        orjson.loads(body)
        times.append(time.thread_time() - started)
    return statistics.median(times)


async def hold_row(port: int, sz: Sizes) -> list[Row]:
    base, n = carrierx_base(port, sz.holds), sz.holds
    variants = {
        "ours": ours(base, n, measure=holds),
        "bare": theirs(bare_dicts, base, n, page_size=PAGE, measure=holds),
    }
    r: dict[str, list[list[float]]] = await interleave(variants, sz.rounds, sz.collect)
    parse = parse_time(page_body(0, PAGE, PAGE))
    longest = {k: statistics.median(max(g) for g in v) for k, v in r.items()}
    p99 = {k: percentile([x for g in v for x in g], 99) for k, v in r.items()}
    return [
        Row(
            "event-loop hold streaming typed records, longest / p99, / one page's parse",
            f"{longest['ours'] / parse:.2f}x / {p99['ours'] / parse:.2f}x",
            f"{longest['ours'] * 1e3:.2f} / {p99['ours'] * 1e3:.2f} ms; orjson.loads of a page "
            f"{parse * 1e3:.2f} ms; aiohttp + orjson loop {longest['bare'] * 1e3:.2f} / "
            f"{p99['bare'] * 1e3:.2f} ms",
        )
    ]


async def memory_row(port: int, sz: Sizes) -> list[Row]:
    async def peak(n: int) -> float:
        async with Client(TOKEN, base_url=carrierx_base(port, n)) as client:
            gc.collect()
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            await rate(client.available_dids(page_size=PAGE), n)
            return tracemalloc.get_traced_memory()[1] - before

    (few, many) = sz.memory
    tracemalloc.start()
    try:
        await peak(few)  # warm-up: first connection, caches
        small = min([await peak(few), await peak(few)])
        large = await peak(many)
    finally:
        tracemalloc.stop()
    context = f"{large / 1e6:.1f} vs {small / 1e6:.1f} MB (tracemalloc)"
    return [Row(f"peak memory, {many:,} / {few:,} typed records", f"{large / small:.2f}x", context)]


def machine() -> str:
    cpu = platform.machine()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as f:
        cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    names = ("carrierx_async", "aiohttp", "orjson", "msgspec", "httpx", "pydantic", "twilio")
    versions = []
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.append(f"{name} {importlib.metadata.version(name)}")
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{when}; {cpu}, {os.cpu_count()} CPUs (load {os.getloadavg()[0]:.2f}); "
        f"Python {platform.python_version()}; {', '.join(versions)}"
    )


async def run_all(sz: Sizes) -> list[Row]:
    rows: list[Row] = []
    with server() as port:
        for bench in (stream_rows, requests_row, hold_row, memory_row, twilio_row):
            rows += await bench(port, sz)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no figures (CI)")
    quick = parser.parse_args(argv).quick
    started = time.perf_counter()
    header = "" if quick else machine()
    rows = asyncio.run(run_all(QUICK if quick else FULL))
    seconds = time.perf_counter() - started
    if quick:
        for row in rows:
            skipped = row.measured == "skipped"
            print(f"skipped: {row.name}\n  {row.context}" if skipped else f"ran: {row.name}")
        print(f"smoke run: {len(rows)} rows in {seconds:.0f} s; tiny sizes, so no figures")
        return 0
    print(header)
    print("\n| benchmark | measured | context |\n|---|---:|---|")
    for row in rows:
        print(f"| {row.name} | {row.measured} | {row.context} |")
    print(f"\nfull run: {seconds:.0f} s", flush=True)
    return 0
