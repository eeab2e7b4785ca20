"""The feed's decoding: big pages in slices with loop turns between, records made lazily.

Wire tests run a small hostile ``aiohttp.web`` app on 127.0.0.1 that serves pages built
here, so the expected records come from the test, not from the code under test.
"""

import asyncio
import copy
import itertools
import json
import weakref
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from carrierx_async import AvailableDid, Capability, Client, ResponseDecodeError
from carrierx_async._convert import MAX_DEPTH, decode_did
from carrierx_async._models import DID_FIELDS
from carrierx_async._stream import DECODE_SLICE, _in_slices
from carrierx_async.testing import did_record

TOKEN = "test-token-not-real"
SAMPLE = json.loads((Path(__file__).parent / "samples" / "available_dids_page.json").read_bytes())
ITEM = SAMPLE["items"][0]


def record(i, **changes):
    base = dict(ITEM, did_sid=f"07e3dee3-0000-0000-0000-{i:012x}", phonenumber=f"1516{i:07d}")
    return base | changes


@asynccontextmanager
async def serving(records):
    """A server holding ``records``, answering limit/offset like the API (reference 5)."""
    requests = []

    async def available_dids(request):
        limit = int(request.query.get("limit", "10"))
        offset = int(request.query.get("offset", "0"))
        requests.append((offset, limit))
        items = records[offset : offset + limit]
        more = offset + len(items) < len(records)
        return web.json_response(
            {"items": items, "count": len(items), "has_more": more, "offset": offset}
        )

    app = web.Application()
    app.router.add_get("/core/v2/phonenumber/available_dids", available_dids)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/core/v2", requests
    finally:
        await runner.cleanup()


# --- slices ------------------------------------------------------------------------------


async def test_big_page_is_decoded_in_slices_with_loop_turns_between():
    events = []

    def decode(items):
        events.append(("decode", items[0], len(items)))
        return [x * 10 for x in items]

    async def other_task():
        for _ in range(20):
            events.append(("other",))
            await asyncio.sleep(0)

    items = list(range(3 * DECODE_SLICE + 7))
    other = asyncio.create_task(other_task())
    got = await _in_slices(decode)(items)
    await other
    assert got == [x * 10 for x in items]
    calls = [e for e in events if e[0] == "decode"]
    assert calls == [
        ("decode", 0, DECODE_SLICE),
        ("decode", DECODE_SLICE, DECODE_SLICE),
        ("decode", 2 * DECODE_SLICE, DECODE_SLICE),
        ("decode", 3 * DECODE_SLICE, 7),
    ]
    # Another task ran before each slice: no two slices in one turn of the loop.
    for before, after in itertools.pairwise(events):
        assert not (before[0] == "decode" and after[0] == "decode")
    assert events.index(calls[0]) > 0


def test_small_page_is_decoded_at_once_without_giving_up_the_loop():
    calls = []

    def decode(items):
        calls.append(len(items))
        return items

    coro = _in_slices(decode)(list(range(DECODE_SLICE)))
    with pytest.raises(StopIteration) as done:  # finished at the first step: never suspended
        coro.send(None)
    assert done.value.value == list(range(DECODE_SLICE)) and calls == [DECODE_SLICE]


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_a_bad_record_late_in_a_big_page_is_named_by_its_page_index(prefetch):
    records = [record(i) for i in range(1000)]
    records[777]["price"] = "abc"
    async with serving(records) as (base, _), Client(TOKEN, base_url=base) as client:
        got = []
        with pytest.raises(ResponseDecodeError) as info:
            async for did in client.available_dids(page_size=1000, prefetch=prefetch):
                got.append(did)
    assert got == []  # the page fails as a whole: no record of it is handed out
    message = str(info.value)
    assert "items[777]" in message and "price" in message
    assert records[777]["did_sid"] in message


# --- records made as they are handed out ----------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_records_of_big_pages_match_the_ground_truth(prefetch):
    records = [
        record(i, price=["0.6", "1.10", None][i % 3], capabilities=i % 32, state=None)
        for i in range(2500)
    ]
    records[1600]["capabilities"] = None
    records[1601]["price"] = 2  # a number where a string is documented: still a price
    truth = [decode_did(copy.deepcopy(r)) for r in records]
    async with (
        serving(copy.deepcopy(records)) as (base, requests),
        Client(TOKEN, base_url=base) as client,
    ):
        got = [did async for did in client.available_dids(page_size=1000, prefetch=prefetch)]
        pages = [p async for p in client.available_dids(page_size=1000).pages()]
    assert [d.did_sid for d in got] == [r["did_sid"] for r in records]  # none lost or repeated
    assert got == truth
    assert len(pages) == 3 and [d for p in pages for d in p.items] == truth
    for did, want in zip(got, truth, strict=True):
        assert type(did) is AvailableDid and did.present_fields == DID_FIELDS
        assert str(did.price) == str(want.price) and type(did.capabilities) is type(
            want.capabilities
        )
    assert got[3].price == Decimal("0.6") and got[31].capabilities == Capability(31)
    assert got[1600].capabilities is None and got[1601].price == Decimal(2)
    assert (0, 1000) in requests


async def test_records_of_a_page_with_mixed_fields_keep_what_was_sent():
    # Records with different field sets: the fast path declines, the precise one decodes.
    records = [record(i) for i in range(400)]
    for r in records[::7]:
        del r["state"]
    async with serving(copy.deepcopy(records)) as (base, _), Client(TOKEN, base_url=base) as c:
        got = [did async for did in c.available_dids(page_size=1000)]
    assert [d.did_sid for d in got] == [r["did_sid"] for r in records]
    assert [d.present_fields == set(r) for d, r in zip(got, records, strict=True)] == [True] * 400
    assert got[7].state is None and got[8].state == ITEM["state"]
    assert got == [decode_did(r) for r in records]


@pytest.mark.parametrize("mode", ["typed", "dicts"])
async def test_handing_out_a_big_page_lets_the_loop_turn_every_slice(mode):
    turns = 0

    async def ticker():
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    records = [record(i) for i in range(1000)]
    async with serving(records) as (base, _), Client(TOKEN, base_url=base) as client:
        stream = client.available_dids(page_size=1000)
        seen = []
        task = asyncio.create_task(ticker())
        try:
            async for item in stream if mode == "typed" else stream.dicts():
                seen.append((item["did_sid"] if mode == "dicts" else item.did_sid, turns))
        finally:
            task.cancel()
    assert [sid for sid, _ in seen] == [r["did_sid"] for r in records]
    at = [t for _, t in seen]
    # Within one slice no other task runs; between slices the loop turns.
    for start in range(0, 1000, DECODE_SLICE):
        assert len(set(at[start : start + DECODE_SLICE])) == 1
    assert at[0] < at[DECODE_SLICE] < at[2 * DECODE_SLICE] < at[3 * DECODE_SLICE]


@pytest.mark.parametrize("mode", ["typed", "dicts"])
async def test_a_cancellation_at_a_slice_boundary_loses_no_record(mode):
    # Each slice's records are made in one pass as its first is handed out; a next()
    # cancelled during the loop turn before a slice must leave that slice to the next call.
    records = [record(i) for i in range(600)]
    async with serving(records) as (base, _), Client(TOKEN, base_url=base) as client:
        stream = client.available_dids(page_size=600)
        it = stream if mode == "typed" else stream.dicts()
        got = [await anext(it) for _ in range(DECODE_SLICE)]
        waiting = asyncio.create_task(anext(it))
        await asyncio.sleep(0)  # the call is now inside the turn before the second slice
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        got += [item async for item in it]
    sids = [d["did_sid"] if mode == "dicts" else d.did_sid for d in got]
    assert sids == [r["did_sid"] for r in records]
    if mode == "typed":
        assert got == [decode_did(r) for r in records]


async def test_records_handed_out_are_held_by_the_caller_alone():
    records = [record(i) for i in range(300)]
    async with serving(records) as (base, _), Client(TOKEN, base_url=base) as client:
        stream = client.available_dids(page_size=300)
        first = await anext(stream)
        ref = weakref.ref(first)
        del first
        assert ref() is None  # neither the page nor its slice keeps it
        assert len([d async for d in stream]) == 299


@pytest.mark.parametrize(
    ("page_size", "requests"),
    [(10, 1), (DECODE_SLICE, 1), (DECODE_SLICE + 1, 1), (1000, 1)],
)
async def test_a_bad_record_fails_its_page_before_the_next_request(serve, page_size, requests):
    # Records are checked as their page is parsed: a page that does not decode never
    # reaches the walk, so no request follows it.
    async def handler(request: web.Request) -> web.Response:
        offset, limit = int(request.rel_url.query["offset"]), int(request.rel_url.query["limit"])
        items = [did_record() for _ in range(limit)]
        if offset == 0:
            items[3]["capabilities"] = "lots"
        body = {"items": items, "has_more": True, "count": limit, "limit": limit, "offset": offset}
        return web.json_response(body)

    async with Client(token=TOKEN, base_url=await serve(handler)) as client:
        stream = client.available_dids(page_size=page_size)
        with pytest.raises(ResponseDecodeError, match=r"items\[3\]"):
            await anext(stream)
        assert stream.stats.requests == requests


@pytest.mark.parametrize("page_size", [1, 2, 3])
async def test_tiny_pages_stream_every_record_once(serve, page_size):
    # Pages too small for a quarter-page overlap (it used to be 0, and every page after the
    # first looked like a slipped window: the walk stepped back to offset 0 and raised).
    records = [did_record() for _ in range(11)]

    async def handler(request: web.Request) -> web.Response:
        offset, limit = int(request.rel_url.query["offset"]), int(request.rel_url.query["limit"])
        items = records[offset : offset + limit]
        return web.json_response({"items": items, "has_more": offset + limit < len(records)})

    async with Client(token=TOKEN, base_url=await serve(handler)) as client:
        stream = client.available_dids(page_size=page_size)
        got = [did.did_sid async for did in stream]
    assert got == [r["did_sid"] for r in records]
    assert stream.stats.complete is (page_size > 1)


# --- typed streams check and type each record as its page is parsed ------------------------


@pytest.mark.parametrize("page_size", [10, 1000])
async def test_a_typed_stream_yields_what_the_server_sent_exactly_once(page_size):
    records = [record(i, price=f"{i % 7}.25", capabilities=i % 32) for i in range(2500)]
    records[5]["lata"] = None
    async with serving(records) as (base, requests), Client(TOKEN, base_url=base) as client:
        stream = client.available_dids(page_size=page_size)
        got = [did async for did in stream]
    assert [d.did_sid for d in got] == [r["did_sid"] for r in records]
    assert [d.price for d in got] == [Decimal(f"{i % 7}.25") for i in range(2500)]
    assert [d.capabilities for d in got] == [Capability(i % 32) for i in range(2500)]
    assert got[5].lata is None and got[6].lata == ITEM["lata"]
    assert all(d.present_fields == DID_FIELDS for d in got)
    assert stream.stats.duplicates_dropped == 0 and stream.stats.requests == len(requests)


@pytest.mark.parametrize("page_size", [10, 1000])
async def test_a_hostile_record_in_a_later_piece_fails_with_the_precise_error(page_size):
    records = [record(i) for i in range(1000)]
    records[777]["lata"] = 5
    async with serving(records) as (base, requests), Client(TOKEN, base_url=base) as client:
        with pytest.raises(ResponseDecodeError) as info:
            async for _ in client.available_dids(page_size=page_size, prefetch=0):
                pass
    message = str(info.value)
    assert "lata" in message and records[777]["did_sid"] in message
    offset, limit = requests[-1]  # no request after the page that holds it
    assert offset <= 777 < offset + limit


@pytest.mark.parametrize("size", [5, 1000])  # parsed whole; parsed in pieces
async def test_dicts_keep_values_as_sent_and_typed_records_type_them(size):
    records = [record(i, attributes={"big": 2**70 + 1}) for i in range(size)]
    records[1]["price"] = "NaN"  # refused by typed records, kept by .dicts()
    records[2]["surprise"] = [1]
    async with serving(records) as (base, _), Client(TOKEN, base_url=base) as client:
        dicts = [d async for d in client.available_dids(page_size=1000).dicts()]
        with pytest.raises(ResponseDecodeError, match=r"items\[1\].*@ record.price"):
            await anext(client.available_dids(page_size=1000))
    assert dicts == records
    assert dicts[0]["attributes"] == {"big": 2**70 + 1} and type(dicts[0]["price"]) is str


@pytest.mark.parametrize("size", [5, 1000])
@pytest.mark.parametrize("mode", ["typed", "dicts"])
async def test_an_item_that_is_not_an_object_fails_in_every_mode(serve, size, mode):
    records = [record(i) for i in range(size)]
    body = json.dumps({"items": [*records[:3], None, 5, *records[3:]]}).encode()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async with Client(token=TOKEN, base_url=await serve(handler)) as client:
        stream = client.available_dids(page_size=1000)
        with pytest.raises(ResponseDecodeError, match=r"items\[3\] is not a JSON object"):
            await anext(stream if mode == "typed" else stream.dicts())


@pytest.mark.parametrize("size", [5, 1000])  # parsed whole; parsed in pieces
@pytest.mark.parametrize("levels", [MAX_DEPTH, MAX_DEPTH + 1, 1100])
@pytest.mark.parametrize("mode", ["typed", "dicts"])
async def test_nesting_past_the_limit_fails_in_every_mode(serve, size, levels, mode):
    # One explicit limit, the same on every Python (msgspec alone stops at the
    # interpreter's recursion limit, which differs between 3.11 and 3.12+).
    records = [record(i) for i in range(size)]
    records[size - 3]["attributes"] = {"a": "DEEP"}
    body = json.dumps({"items": records, "has_more": False}).encode()
    depth = levels - 4  # the envelope, items, the record and attributes come first
    body = body.replace(b'"DEEP"', b"[" * depth + b"]" * depth)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async with Client(token=TOKEN, base_url=await serve(handler)) as client:
        stream = client.available_dids(page_size=1000)
        it = stream if mode == "typed" else stream.dicts()
        if levels > MAX_DEPTH:
            with pytest.raises(ResponseDecodeError, match=f"deeper than {MAX_DEPTH} levels"):
                await anext(it)
            return
        got = [d.did_sid if mode == "typed" else d["did_sid"] async for d in it]
    assert got == [r["did_sid"] for r in records]
