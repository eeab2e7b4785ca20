"""How long streaming holds the event loop, and what it costs the garbage collector.

A ticker task awaits ``asyncio.sleep(0)`` in a loop and records the time between its
turns: while a page is parsed or decoded nothing else on the loop runs, so its longest
gap is how long every other request of a service would wait. Time is the thread's CPU
time (``time.thread_time``): other processes on a shared machine, which preempt this one
for milliseconds at a time, do not count; on an idle machine it is wall time.
``gc.callbacks`` time each collection; collections are taken out of the gaps and reported
apart, with how often they run (set by how many objects the records keep alive) and the
longest (a full collection scans the whole process's heap, so in a service it is longer).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from array import array
from bisect import bisect_left
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from carrierx_async import Client, _body

from ._harness import Row, count, interleave
from ._payload import page_body
from ._peers import raw_dicts
from ._server import carrierx_base

__all__ = ["bench_stall", "tracked_per_record"]

TOKEN = "bench-token"
PAGE = 1000


@dataclass
class Holds:
    """One run's loop holds and page parses (CPU seconds) and garbage collections."""

    records: int = 0
    gaps: array[float] = field(default_factory=lambda: array("d"))
    ends: array[float] = field(default_factory=lambda: array("d"))
    parses: list[tuple[float, float]] = field(default_factory=list)
    collections: list[tuple[float, float, int]] = field(default_factory=list)
    promoted: int = 0  # objects moved into the old generation (what full collections scan)

    def without_gc(self) -> list[float]:
        """Each gap minus the collections that ran inside it."""
        gaps = list(self.gaps)
        for start, stop, _ in self.collections:
            i = bisect_left(self.ends, stop)
            if i < len(gaps):
                gaps[i] -= stop - start
        return gaps

    def parse_times(self) -> list[float]:
        """How long each ``orjson.loads`` of a page took, minus collections inside it."""
        return [
            stop
            - start
            - sum(
                min(stop, e) - max(start, s)
                for s, e, _ in self.collections
                if s < stop and e > start
            )
            for start, stop in self.parses
        ]

    def pauses(self, young: bool) -> list[float]:
        return [stop - start for start, stop, gen in self.collections if (gen < 2) == young]

    def hold_per_parse(self) -> float:
        """The longest hold over the longest parse of a page: what the stream adds."""
        return max(self.without_gc()) / max(self.parse_times())


async def _held(consume: Callable[[], AsyncIterator[Any]]) -> Holds:
    """Run ``consume`` to the end beside a ticker task, timing collections and parses."""
    holds = Holds()
    clock = time.thread_time
    started: list[float] = [0.0]
    loads = orjson.loads
    checked = _body.parse

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = clock()
        else:
            holds.collections.append((started[0], clock(), info["generation"]))

    def timed(parse: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **options: Any) -> Any:
            start = clock()
            try:
                return parse(*args, **options)
            finally:
                if len(args[-1]) > 100_000:  # a page of records, not an error body
                    holds.parses.append((start, clock()))

        return run

    async def tick() -> None:
        last = clock()
        while True:
            await asyncio.sleep(0)
            now = clock()
            holds.gaps.append(now - last)
            holds.ends.append(now)
            last = now

    # Counted before the ticker starts: walking the old generation takes milliseconds,
    # which would be the first gap, charged to the stream.
    old = len(gc.get_objects(generation=2))
    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    gc.callbacks.append(on_gc)
    # Every parse of a page or piece: the raw loop and .dicts() call orjson.loads, typed
    # records and .dicts() msgspec through _body.parse.
    orjson.loads = timed(loads)
    _body.parse = timed(checked)  # type: ignore[assignment]
    try:
        holds.records = await count(consume())
    finally:
        orjson.loads = loads
        _body.parse = checked  # type: ignore[assignment]
        gc.callbacks.remove(on_gc)
        ticker.cancel()
    # Garbage that reached the old generation stays there until a full collection: the
    # growth is what the stream pushed towards the next one (none ran in between, or -1).
    full = any(gen == 2 for *_, gen in holds.collections)
    holds.promoted = -1 if full else len(gc.get_objects(generation=2)) - old
    return holds


def _loads_alone(body: bytes, repeat: int = 15) -> float:
    """Median time of ``orjson.loads`` of one page in a tight loop, without collections."""
    times = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t = time.thread_time()
            orjson.loads(body)
            times.append(time.thread_time() - t)
            gc.collect(0)
    finally:
        if enabled:
            gc.enable()
    return statistics.median(times)


async def bench_stall(port: int, records: int, rounds: int) -> list[Row]:
    base = carrierx_base(port, records)
    body = page_body(0, PAGE, records)

    async def raw() -> Holds:
        async with aiohttp.ClientSession() as session:
            return await _held(lambda: raw_dicts(session, base, page_size=PAGE))

    def client(*, as_dicts: bool) -> Callable[[], Any]:
        async def run() -> Holds:
            async with Client(token=TOKEN, base_url=base) as c:
                stream = c.available_dids(page_size=PAGE)
                return await _held(lambda: stream.dicts() if as_dicts else stream)

        return run

    async def loads() -> float:
        return _loads_alone(body)

    variants: dict[str, Callable[[], Any]] = {
        "raw": raw,
        "typed": client(as_dicts=False),
        "dicts": client(as_dicts=True),
        "loads": loads,
    }
    results = await interleave(variants, rounds)
    alone = statistics.median(results.pop("loads")) * 1e3
    runs: dict[str, list[Holds]] = results
    for name, held in runs.items():
        assert all(h.records == records for h in held), (name, [h.records for h in held])

    def rel(name: str) -> float:
        return statistics.median(h.hold_per_parse() for h in runs[name])

    def ms(name: str, stat: Callable[[Holds], float]) -> float:
        return statistics.median(stat(h) for h in runs[name]) * 1e3

    def per_page(name: str, young: bool) -> float:
        return statistics.median(len(h.pauses(young)) * PAGE / h.records for h in runs[name])

    def promoted(name: str) -> float:
        counted = [h.promoted * PAGE / h.records for h in runs[name] if h.promoted >= 0]
        return statistics.median(counted) if counted else float("nan")

    def longest(name: str) -> float:
        """The median over rounds of the longest hold, in ms."""
        return ms(name, lambda h: max(h.without_gc()))

    def p99(name: str) -> float:
        """The 99th percentile of every hold in the rounds of ``name``, in ms."""
        gaps = sorted(g for h in runs[name] for g in h.without_gc())
        return gaps[int(len(gaps) * 0.99)] * 1e3

    def longest_pause(name: str, young: bool) -> float:
        return max((p for h in runs[name] for p in h.pauses(young)), default=0.0) * 1e3

    print(
        f"  loop holds (CPU time, garbage collection taken out), {records:,} records in "
        f"pages of {PAGE}; orjson.loads of one page in a tight loop: {alone:.2f} ms",
        flush=True,
    )
    for name in runs:
        print(
            f"    {name:5s}: longest hold {longest(name):.2f} ms, "
            f"p99 {p99(name):.2f} ms; a page's parse (orjson or msgspec) in the "
            f"stream {ms(name, lambda h: statistics.median(h.parse_times())):.2f} ms "
            f"(longest {ms(name, lambda h: max(h.parse_times())):.2f}); per {PAGE} records "
            f"{per_page(name, True):.1f} young collections (longest "
            f"{longest_pause(name, True):.2f} ms) and {per_page(name, False):.2f} full ones "
            f"(longest {longest_pause(name, False):.2f} ms); {promoted(name):.0f} objects "
            f"pushed into the old generation",
            flush=True,
        )
    return [
        Row(
            "6a longest loop hold, typed records in pages of 1000 / orjson.loads of one "
            "page alone, in a tight loop",
            longest("typed") / alone,
            1.5,
            higher_is_better=False,
        ),
        Row(
            "6a' the same longest hold / the longest single parse call in that stream "
            "(a piece of a page, see _json_slices; info)",
            rel("typed"),
            None,
        ),
        Row("6h longest loop hold, typed records (info)", longest("typed"), None, unit=" ms"),
        Row(
            "6i longest loop hold, raw aiohttp+orjson loop (info)", longest("raw"), None, unit=" ms"
        ),
        Row("6j p99 loop hold, typed records (info)", p99("typed"), None, unit=" ms"),
        Row("6k p99 loop hold, raw aiohttp+orjson loop (info)", p99("raw"), None, unit=" ms"),
        Row("6b the same as 6a for .dicts() (info)", rel("dicts"), None),
        Row("6c the same as 6a for the raw aiohttp+orjson loop (info)", rel("raw"), None),
        Row(
            f"6d young collections per {PAGE} typed records "
            f"(raw loop: {per_page('raw', True):.1f}; info)",
            per_page("typed", True),
            None,
            unit="",
        ),
        Row(
            f"6g objects pushed into the old generation per {PAGE} typed records, the "
            f"garbage the next full collection scans (raw loop: {promoted('raw'):.0f}; info)",
            promoted("typed"),
            None,
            unit="",
        ),
        Row(
            "6e longest collection while streaming typed records (info; grows with the heap)",
            max(longest_pause("typed", True), longest_pause("typed", False)),
            None,
            unit=" ms",
        ),
    ]


def tracked_per_record() -> list[Row]:
    """GC-tracked objects per record that a page waiting in a stream keeps alive."""
    from carrierx_async import _convert

    body = page_body(0, PAGE, PAGE)

    def alive(make: Callable[[], Any]) -> float:
        gc.collect()
        enabled = gc.isenabled()
        gc.disable()
        try:
            before = len(gc.get_objects())
            kept = make()
            after = len(gc.get_objects())
        finally:
            if enabled:
                gc.enable()
        del kept
        return (after - before) / PAGE

    dicts = alive(lambda: orjson.loads(body))
    waiting = alive(lambda: _convert.complete(_convert.parse(body, typed=True)["items"]))
    kept = alive(lambda: _convert.decode_page(body))
    print(
        f"  GC-tracked objects per record: orjson's dicts {dicts:.2f}, a page waiting in a "
        f"typed stream {waiting:.2f}, a decoded Page (.pages(), or records kept) {kept:.2f}",
        flush=True,
    )
    return [
        Row(
            f"6f GC-tracked objects per record of a page waiting in a typed stream "
            f"(orjson's dicts: {dicts:.2f}; a Page of AvailableDid: {kept:.2f}; info)",
            waiting,
            None,
            unit="",
        )
    ]
