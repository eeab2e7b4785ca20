"""The benchmark runner's quick (CI smoke) summary carries no verdicts; row 7's copy of
this tree really runs without the safety work, and the real package keeps it."""

import asyncio
import gc
import sys
import time

import pytest
from aiohttp import web

import carrierx_async
from benchmarks._before import (
    UNSAFE,
    check_safety_off,
    load_tree,
    switch_off_safety,
    walk_slip,
)
from benchmarks._harness import pinned
from benchmarks._payload import page_body
from benchmarks._row7 import _attributed, _pooled, time_safety
from benchmarks._timed import Meter, time_methods
from benchmarks.run import Row, smoke_report, table


def test_quick_mode_prints_no_verdicts():
    rows = [Row("1a typed / raw", 0.43, 0.60), Row("4 memory", 3.0, 1.2, higher_is_better=False)]
    assert "MISS" in table(rows)  # what the full run would say about these figures
    report = smoke_report(rows, 3.0)
    assert "ran: 1a typed / raw" in report and "ran: 4 memory" in report
    for word in ("MISS", "pass", "0.43", "0.60", ">=", "<="):
        assert word not in report


@pytest.fixture
def unsafe(tmp_path):
    yield load_tree(tmp_path)
    for name in [m for m in sys.modules if m == UNSAFE or m.startswith(f"{UNSAFE}.")]:
        del sys.modules[name]


@pytest.mark.parametrize("keep_overlap", [True, False])
async def test_row_7_compares_this_tree_with_a_copy_without_the_safety_work(
    serve, unsafe, keep_overlap
):
    async def handler(request: web.Request) -> web.Response:
        query = request.rel_url.query
        body = page_body(int(query["offset"]), int(query["limit"]), 2000)
        return web.Response(body=body, content_type="application/json")

    real = carrierx_async._pagination
    methods = real.Paginator._accept_offset, real.Paginator._check_repeat
    read = carrierx_async._transport.Transport._read
    with pytest.raises(ValueError, match="never carrierx_async"):
        switch_off_safety(carrierx_async)
    switch_off_safety(unsafe, keep_overlap=keep_overlap)
    # Pages of 8, overlap 2 (worked out by hand): the first page, one that re-reads the
    # overlap, then one holding nothing known. 0.1's walk drops the two re-read records and
    # yields the slipped page; without an overlap the second page starts at offset 8.
    # This tree sets the slipped page aside and steps back to offset 0.
    want = (
        [(0, 8), (6, 6), (12, 8), (18, -1)] if keep_overlap else [(0, 8), (8, 6), (14, 8), (22, -1)]
    )
    assert walk_slip(unsafe) == want
    assert walk_slip(carrierx_async) == [(0, 8), (6, 6), (12, 0), (0, -1)]
    # No cycle detection, no size cap in the copy; this tree keeps both (check_safety_off).
    await check_safety_off(unsafe, await serve(handler), 2000, keep_overlap=keep_overlap)
    assert (unsafe._pagination.OVERLAP == 0) is not keep_overlap and real.OVERLAP > 0
    assert (real.Paginator._accept_offset, real.Paginator._check_repeat) == methods
    assert carrierx_async._transport.Transport._read is read


def test_pinning_restores_what_it_changed():
    import os

    before = os.sched_getaffinity(0)
    with pinned(os.getpid()) as was_pinned:
        during = os.sched_getaffinity(0)
    assert os.sched_getaffinity(0) == before
    assert len(during) == 1 if was_pinned else during == before
    with pinned(None) as was_pinned:
        assert not was_pinned and os.sched_getaffinity(0) == before


# --- _timed: CPU time inside chosen methods (row 7) ----------------------------------------


def _burn(seconds):
    """Spin for ``seconds`` of this thread's CPU time; return the CPU time spent."""
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    return time.thread_time() - start


async def test_a_timed_coroutine_counts_its_own_steps_not_what_runs_while_it_waits():
    own = []

    class Work:
        async def step(self, gate):
            own.append(_burn(0.005))
            await gate  # meanwhile another task burns 0.05 s: not this method's time
            own.append(_burn(0.005))
            return "done"

    meter = Meter()
    time_methods(Work, ("step",), meter)
    gate = asyncio.get_running_loop().create_future()

    async def other():
        await asyncio.sleep(0)
        spent = _burn(0.05)
        gate.set_result(None)
        return spent

    result, other_spent = await asyncio.gather(Work().step(gate), other())
    assert result == "done" and len(own) == 2
    assert sum(own) <= meter.cpu < sum(own) + other_spent / 2


def test_a_timed_method_does_not_count_the_collections_that_run_inside_it():
    heap = [[] for _ in range(300_000)]  # GC-tracked: a full collection walks them all
    spent = {}

    class Work:
        def step(self):
            start = time.thread_time()
            gc.collect()
            spent["collect"] = time.thread_time() - start
            spent["own"] = _burn(0.005)

    meter = Meter()
    time_methods(Work, ("step",), meter)
    Work().step()
    assert spent["collect"] > 0 and len(heap) == 300_000
    assert spent["own"] <= meter.cpu < spent["own"] + spent["collect"] / 2


async def test_a_timed_method_passes_results_errors_and_cancellation_through():
    events = []

    class Work:
        def sync(self, x):
            return x + 1

        async def fails(self):
            await asyncio.sleep(0)
            raise KeyError("inner")

        async def waits(self, gate):
            try:
                await gate
            except asyncio.CancelledError:
                events.append("cancelled inside")
                raise

    meter = Meter()
    time_methods(Work, ("sync", "fails", "waits"), meter)
    assert Work().sync(1) == 2
    with pytest.raises(KeyError, match="inner"):
        await Work().fails()
    task = asyncio.ensure_future(Work().waits(asyncio.get_running_loop().create_future()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events == ["cancelled inside"] and meter.cpu > 0


async def test_row_7_times_the_safety_methods_of_a_copy_only(serve, unsafe):
    async def handler(request: web.Request) -> web.Response:
        query = request.rel_url.query
        body = page_body(int(query["offset"]), int(query["limit"]), 2000)
        return web.Response(body=body, content_type="application/json")

    read = carrierx_async._transport.Transport._read
    with pytest.raises(ValueError, match="never carrierx_async"):
        time_safety(carrierx_async)
    meter = time_safety(unsafe)
    async with unsafe.Client(token="bench-token", base_url=await serve(handler)) as client:
        dids = [d.did_sid async for d in client.available_dids(page_size=1000)]
    assert len(set(dids)) == len(dids) == 2000 and meter.cpu > 0
    assert unsafe._transport.Transport._read is not read
    assert carrierx_async._transport.Transport._read is read


def test_row_7_pools_two_copies_and_prices_the_timed_share_by_hand():
    # Per round (rate by CPU, rate by wall clock, seconds per record in timed methods).
    # Copy a: 4.0 us of other work + 0.3 in the methods; b: 4.0 + 0.1, the machine
    # running a at half speed in round 2. Throughput a / b = 4.1 / 4.3 both rounds.
    a = [(1 / 4.3e-6, 1.0, 0.3e-6), (1 / 8.6e-6, 1.0, 0.6e-6)]
    b = [(1 / 4.1e-6, 2.0, 0.1e-6), (1 / 4.1e-6, 2.0, 0.1e-6)]
    assert _attributed({"a": a, "b": b}, "a", "b") == pytest.approx(4.1 / 4.3)
    pooled = _pooled({"a": a, "b": b}, "a", "b", "ab")["ab"]
    # Harmonic mean of the rates: both streamed the same records, 4.3 and 4.1 us each.
    assert pooled[0][0] == pytest.approx(1 / 4.2e-6)
    assert pooled[0][1] == pytest.approx(4 / 3) and pooled[0][2] == pytest.approx(0.2e-6)
