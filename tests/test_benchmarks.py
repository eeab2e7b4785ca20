"""The benchmark runner's quick (CI smoke) summary carries no verdicts; row 7's copy of
this tree really runs without the safety work, and the real package keeps it."""

import sys

import pytest
from aiohttp import web

import carrierx_async
from benchmarks._before import UNSAFE, check_safety_off, load_tree, switch_off_safety
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


async def test_row_7_compares_this_tree_with_a_copy_without_the_safety_work(serve, unsafe):
    async def handler(request: web.Request) -> web.Response:
        query = request.rel_url.query
        body = page_body(int(query["offset"]), int(query["limit"]), 2000)
        return web.Response(body=body, content_type="application/json")

    real = carrierx_async._pagination
    methods = real.Paginator._accept_offset, real.Paginator._check_repeat
    read = carrierx_async._transport.Transport._read
    with pytest.raises(ValueError, match="never carrierx_async"):
        switch_off_safety(carrierx_async)
    switch_off_safety(unsafe)
    # No overlap, every record of a page yielded as is, no cycle detection, no size cap;
    # and this tree still overlaps, de-duplicates and caps (check_safety_off says so).
    await check_safety_off(unsafe, await serve(handler), 2000)
    assert unsafe._pagination.OVERLAP == 0 and real.OVERLAP > 0
    assert (real.Paginator._accept_offset, real.Paginator._check_repeat) == methods
    assert carrierx_async._transport.Transport._read is read
