"""The benchmark runner's quick (CI smoke) summary carries no verdicts; row 7's copy of
this tree really runs without the safety work, and the real package keeps it."""

import sys

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
