"""Run every benchmark and print a markdown table: ``python -m benchmarks [--quick]``.

Each comparison runs its variants interleaved in one process (round r runs them in
order, round r+1 in reverse), after one unrecorded warm-up round, and reports the median
of the per-round ratios. The server runs in a child process and serves cached bytes.
See benchmarks/README.md for what each row measures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata
import io
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from carrierx_async import Client

from . import _baseline_convert as baseline
from ._harness import Row, Runner, count, fmt_rate, interleave, ratio
from ._loop import bench_stall, tracked_per_record
from ._payload import page_body
from ._peers import (
    PydanticClient,
    pydantic_available,
    raw_dicts,
    raw_pages,
    raw_twilio,
    twilio_available,
    twilio_client,
    twilio_stream,
)
from ._row7 import bench_before, bench_safety
from ._server import Server, carrierx_base

__all__ = ["main"]

TOKEN = "bench-token"


@dataclass(frozen=True)
class Sizes:
    records: int  # benchmark 1 and 2
    rounds: int
    twilio_records: int
    prefetch_pages: int
    prefetch_rounds: int
    mem_small: int
    mem_large: int
    request_pages: int
    decode_rounds: int
    stall_records: int
    safety_records: int  # row 7: many short rounds, so the median settles
    safety_rounds: int


FULL = Sizes(
    records=100_000,
    rounds=7,
    twilio_records=20_000,
    prefetch_pages=25,
    prefetch_rounds=5,
    mem_small=10_000,
    mem_large=1_000_000,
    request_pages=2_000,
    decode_rounds=15,
    stall_records=20_000,
    safety_records=20_000,
    safety_rounds=41,
)
QUICK = Sizes(
    records=3_000,
    rounds=2,
    twilio_records=2_000,
    prefetch_pages=4,
    prefetch_rounds=1,
    mem_small=1_000,
    mem_large=12_000,
    request_pages=100,
    decode_rounds=3,
    stall_records=3_000,
    safety_records=3_000,
    safety_rounds=1,
)


# --- 1 + 2: streaming 100k records; raw vs typed vs dicts vs httpx+pydantic ------------


async def bench_stream(port: int, sz: Sizes) -> list[Row]:
    base = carrierx_base(port, sz.records)
    n = sz.records

    async def raw() -> float:
        async with aiohttp.ClientSession() as session:
            t = time.perf_counter()
            got = await count(raw_dicts(session, base, page_size=1000))
            return got / (time.perf_counter() - t)

    # The raw loop does not pipeline; the client by default prefetches one page ahead.
    # The prefetch=0 variants isolate the client's overhead from that pipelining gain.
    def client_runner(*, as_dicts: bool, prefetch: int | None = None) -> Runner:
        kwargs: dict[str, Any] = {} if prefetch is None else {"prefetch": prefetch}

        async def run() -> float:
            async with Client(token=TOKEN, base_url=base) as client:
                t = time.perf_counter()
                stream = client.available_dids(page_size=1000, **kwargs)
                got = await count(stream.dicts() if as_dicts else stream)
                return got / (time.perf_counter() - t)

        return run

    typed = client_runner(as_dicts=False)
    dicts = client_runner(as_dicts=True)
    typed_p0 = client_runner(as_dicts=False, prefetch=0)
    dicts_p0 = client_runner(as_dicts=True, prefetch=0)

    async def pydantic() -> float:
        peer = PydanticClient(base, TOKEN)
        try:
            t = time.perf_counter()
            got = await count(peer.available_dids(page_size=1000))
            return got / (time.perf_counter() - t)
        finally:
            await peer.aclose()

    # Each run must see every record exactly once, with and without prefetch.
    async with Client(token=TOKEN, base_url=base) as client:
        for prefetch in (1, 0):
            stream = client.available_dids(page_size=1000, prefetch=prefetch)
            sids = {d.did_sid async for d in stream}
            assert len(sids) == n, f"prefetch={prefetch}: {len(sids)} unique records of {n}"

    variants: dict[str, Runner] = {
        "raw": raw,
        "typed": typed,
        "dicts": dicts,
        "typed p0": typed_p0,
        "dicts p0": dicts_p0,
    }
    why = pydantic_available()
    if why is None:
        variants["httpx+pydantic"] = pydantic
    else:
        print(f"  httpx+pydantic peer skipped: {why}", flush=True)
    rates = await interleave(variants, sz.rounds)
    medians = ", ".join(f"{k} {fmt_rate(v, 'rec')}" for k, v in rates.items())
    print(f"  stream {n:,} records, page size 1000: {medians}", flush=True)
    rows = [
        Row("1a typed records / raw aiohttp+orjson", ratio(rates, "typed", "raw"), 0.85),
        Row("1b .dicts() / raw aiohttp+orjson", ratio(rates, "dicts", "raw"), 0.95),
        Row(
            "1c typed records, prefetch=0 / raw aiohttp+orjson (info)",
            ratio(rates, "typed p0", "raw"),
            None,
        ),
        Row(
            "1d .dicts(), prefetch=0 / raw aiohttp+orjson (info)",
            ratio(rates, "dicts p0", "raw"),
            None,
        ),
    ]
    if why is None:
        rows += [
            Row("2a typed / httpx+pydantic v2", ratio(rates, "typed", "httpx+pydantic"), 2.0),
            Row("2b httpx+pydantic / raw (info)", ratio(rates, "httpx+pydantic", "raw"), None),
        ]
    return rows


# --- 2c: twilio-python efficiency --------------------------------------------------------


async def bench_twilio(port: int, sz: Sizes) -> list[Row]:
    why = twilio_available()
    if why is not None:
        print(f"  twilio skipped: {why}", flush=True)
        return []
    n = sz.twilio_records
    base = carrierx_base(port, n)

    async def twilio() -> float:
        client = twilio_client(port)
        try:
            t = time.perf_counter()
            got = await count(twilio_stream(client, limit=n, page_size=1000))
            rate = got / (time.perf_counter() - t)
        finally:
            await client.http_client.close()
        assert got == n, got
        return rate

    async def twilio_raw() -> float:
        async with aiohttp.ClientSession() as session:
            t = time.perf_counter()
            got = await count(raw_twilio(session, port, limit=n, page_size=1000))
            return got / (time.perf_counter() - t)

    async def typed() -> float:
        async with Client(token=TOKEN, base_url=base) as client:
            t = time.perf_counter()
            got = await count(client.available_dids(page_size=1000))
            return got / (time.perf_counter() - t)

    async def raw() -> float:
        async with aiohttp.ClientSession() as session:
            t = time.perf_counter()
            got = await count(raw_dicts(session, base, page_size=1000))
            return got / (time.perf_counter() - t)

    try:
        rates = await interleave(
            {"twilio": twilio, "twilio-raw": twilio_raw, "typed": typed, "raw": raw}, sz.rounds
        )
    except Exception as exc:  # a twilio release that cannot be pointed at loopback
        print(f"  twilio skipped: {type(exc).__name__}: {exc}", flush=True)
        return []
    ours = ratio(rates, "typed", "raw")
    theirs = ratio(rates, "twilio", "twilio-raw")
    print(
        f"  twilio {n:,} records: twilio-python {fmt_rate(rates['twilio'], 'rec')} "
        f"(bare loop on its payload {fmt_rate(rates['twilio-raw'], 'rec')}); efficiency "
        f"(rate / bare loop): twilio-python {theirs:.2f}, carrierx_async typed {ours:.2f}",
        flush=True,
    )
    return [
        Row("2c twilio-python efficiency: stream_async / bare aiohttp (info)", theirs, None),
        Row("2d carrierx_async efficiency / twilio-python efficiency", ours / theirs, 1.0),
    ]


# --- 3: prefetch ----------------------------------------------------------------------


async def bench_prefetch(port: int, sz: Sizes) -> list[Row]:
    page, delay = 100, 20
    base = carrierx_base(port, sz.prefetch_pages * page, delay_ms=delay)

    def runner(prefetch: int) -> Runner:
        async def run() -> float:
            async with Client(token=TOKEN, base_url=base) as client:
                t = time.perf_counter()
                pages = 0
                stream = client.available_dids(page_size=page, prefetch=prefetch)
                async for _ in stream.pages():
                    pages += 1
                    await asyncio.sleep(delay / 1000)  # the consumer's work on one page
                return pages / (time.perf_counter() - t)

        return run

    rates = await interleave({"prefetch=1": runner(1), "prefetch=0": runner(0)}, sz.prefetch_rounds)
    print(
        "  prefetch (20 ms server latency, 20 ms consumer work per page): "
        + ", ".join(f"{k} {fmt_rate(v, 'page')}" for k, v in rates.items()),
        flush=True,
    )
    return [
        Row("3 prefetch=1 speed-up over prefetch=0", ratio(rates, "prefetch=1", "prefetch=0"), 1.8)
    ]


# --- 4: memory --------------------------------------------------------------------------


async def bench_memory(port: int, sz: Sizes) -> list[Row]:
    async def peak(n: int) -> int:
        async with Client(token=TOKEN, base_url=carrierx_base(port, n)) as client:
            gc.collect()
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            got = await count(client.available_dids(page_size=1000))
            assert got == n, got
            return tracemalloc.get_traced_memory()[1] - before

    await peak(sz.mem_small)  # warm-up: caches, converter, first connection
    tracemalloc.start()
    try:
        t = time.perf_counter()
        small = await peak(sz.mem_small)
        large = await peak(sz.mem_large)
        small = min(small, await peak(sz.mem_small))
        elapsed = time.perf_counter() - t
    finally:
        tracemalloc.stop()
    print(
        f"  memory peak: {sz.mem_small:,} records {small / 1e6:.1f} MB, "
        f"{sz.mem_large:,} records {large / 1e6:.1f} MB ({elapsed:.0f} s under tracemalloc)",
        flush=True,
    )
    return [
        Row(
            f"4 peak memory {sz.mem_large:,} / {sz.mem_small:,} records",
            large / small,
            1.2,
            higher_is_better=False,
        )
    ]


# --- 5: per-request overhead --------------------------------------------------------------


async def bench_requests(port: int, sz: Sizes) -> list[Row]:
    page = 10
    base = carrierx_base(port, sz.request_pages * page)

    async def raw() -> float:
        async with aiohttp.ClientSession() as session:
            t = time.perf_counter()
            got = await count(raw_pages(session, base, page_size=page))
            return got / (time.perf_counter() - t)

    async def client() -> float:
        async with Client(token=TOKEN, base_url=base) as c:
            t = time.perf_counter()
            got = await count(c.available_dids(page_size=page).pages())
            return got / (time.perf_counter() - t)

    rates = await interleave({"raw": raw, "client": client}, sz.rounds)
    print(
        f"  requests (limit {page}): "
        + ", ".join(f"{k} {fmt_rate(v, 'req')}" for k, v in rates.items()),
        flush=True,
    )
    return [Row("5 requests/s, limit=10 pages / raw aiohttp", ratio(rates, "client", "raw"), 0.85)]


# --- decode path alone: before / after ----------------------------------------------------


def bench_decode(sz: Sizes) -> list[Row]:
    from carrierx_async import _convert

    body = page_body(0, 1000, 1000)

    def after() -> float:
        t = time.perf_counter()
        _convert.decode_page(body)
        return 1000 / (time.perf_counter() - t)

    def before() -> float:
        t = time.perf_counter()
        baseline.decode_page(body)
        return 1000 / (time.perf_counter() - t)

    def parse() -> float:
        t = time.perf_counter()
        orjson.loads(body)
        return 1000 / (time.perf_counter() - t)

    async def run() -> dict[str, list[float]]:
        async def wrap(f: Callable[[], float]) -> float:
            return f()

        return await interleave(
            {
                "after": lambda: wrap(after),
                "before": lambda: wrap(before),
                "parse": lambda: wrap(parse),
            },
            sz.decode_rounds,
        )

    rates = asyncio.run(run())
    per = {k: 1e6 / statistics.median(v) for k, v in rates.items()}
    print(
        f"  decode_page, 1000 records: before {per['before']:.2f} us/record, "
        f"after {per['after']:.2f} us/record, orjson.loads alone {per['parse']:.2f} us/record",
        flush=True,
    )
    return [
        Row(
            "decode_page speed-up over the previous decoder (info)",
            ratio(rates, "after", "before"),
            None,
        )
    ]


# --- report ---------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = ", ".join(
        f"{p} {importlib.metadata.version(p)}"
        for p in ("aiohttp", "orjson", "cattrs", "attrs", "pydantic", "httpx")
        if _installed(p)
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"CPU: {cpu}, {os.cpu_count()} cores (load avg {load}); "
        f"Python {platform.python_version()} ({platform.python_implementation()}); {versions}"
    )


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def table(rows: list[Row]) -> str:
    lines = ["| benchmark | measured | target | result |", "|---|---:|---:|---|"]
    for row in rows:
        if row.target is None:
            target = "-"
        else:
            sign = ">=" if row.higher_is_better else "<="
            target = f"{sign} {row.target:.2f}"
        lines.append(f"| {row.name} | {row.measured:.2f}{row.unit} | {target} | {row.verdict()} |")
    return "\n".join(lines)


def smoke_report(rows: list[Row], seconds: float) -> str:
    """The --quick summary: which benchmarks ran, no figures and no verdicts."""
    names = "\n".join(f"  ran: {row.name}" for row in rows)
    return (
        f"smoke run (--quick): all {len(rows)} benchmarks ran in {seconds:.0f} s.\n{names}\n"
        "Tiny sizes measure nothing, so no figures or targets are shown; run "
        "'python -m benchmarks' for the table."
    )


async def run_all(sz: Sizes, before: str | None) -> list[Row]:
    rows: list[Row] = []
    server = Server()
    with server as port:
        for bench in (bench_stream, bench_twilio, bench_prefetch, bench_requests, bench_memory):
            rows += await bench(port, sz)
        rows += await bench_stall(port, sz.stall_records, sz.rounds)
        rows += tracked_per_record()
        if before is None:  # row 7: the safety work's cost, in this tree
            rows += await bench_safety(port, server.pid, sz.safety_records, sz.safety_rounds)
        else:
            rows += await bench_before(
                port, server.pid, before, sz.safety_records, sz.safety_rounds
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke run)")
    parser.add_argument(
        "--before",
        metavar="REF",
        help="row 7 compares this tree with carrierx_async as of this git commit, instead of "
        "with a copy of this tree without the safety work",
    )
    args = parser.parse_args(argv)
    sz = QUICK if args.quick else FULL
    started = time.perf_counter()
    if args.quick:  # tiny sizes measure nothing: say only that every benchmark ran
        progress = io.StringIO()  # the progress lines carry figures: keep only the notes
        with contextlib.redirect_stdout(progress):
            rows = bench_decode(sz)
            rows += asyncio.run(run_all(sz, args.before))
        for line in progress.getvalue().splitlines():
            if "skipped" in line:
                print(line)
        print(smoke_report(rows, time.perf_counter() - started), flush=True)
        return 0
    print(machine(), flush=True)
    rows = bench_decode(sz)
    rows += asyncio.run(run_all(sz, args.before))
    print()
    seconds = time.perf_counter() - started
    print(table(rows))
    print(f"\n{machine()}")
    print(f"mode: full; {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
