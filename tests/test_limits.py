"""Limits against hostile servers: the size of one response, and requests in flight."""

import asyncio
import tracemalloc
import zlib

import orjson
import pytest
from aiohttp import web
from conftest import records

from carrierx_async import (
    Client,
    ConfigurationError,
    F,
    ResponseDecodeError,
    ResponseTooLargeError,
)

TOKEN = "test-token-not-real"
MiB = 2**20


def body_of(items, *, has_more=False, offset=0):
    return orjson.dumps(
        {"items": items, "count": len(items), "has_more": has_more, "offset": offset}
    )


def client(base_url, **options):
    return Client(TOKEN, base_url=base_url, **options)


# --- the size of one response ----------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_exactly_at_the_cap_is_read_and_one_byte_over_is_refused(serve, chunked):
    body = body_of(records(0, 50))
    hits = []

    async def handler(request):
        hits.append(request.path)
        if not chunked:
            return web.Response(body=body, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(body), 1000):
            await resp.write(body[i : i + 1000])
        await resp.write_eof()
        return resp

    base_url = await serve(handler)
    async with client(base_url, max_response_bytes=len(body)) as c:
        assert len([d async for d in c.available_dids()]) == 50
    async with client(base_url, max_response_bytes=len(body) - 1) as c:
        with pytest.raises(ResponseTooLargeError) as info:
            await anext(aiter(c.available_dids()))
    err = info.value
    assert isinstance(err, ResponseDecodeError)
    assert f"max_response_bytes={len(body) - 1}" in str(err)
    assert "Client(max_response_bytes=...)" in str(err)  # how to raise it
    assert "malformed" not in str(err)
    assert err.attempts == 1
    assert len(hits) == 2  # never retried


async def test_the_default_cap_is_16_mib(serve):
    big = 16 * MiB + 1  # a 2xx body one byte over the default

    async def handler(request):
        return web.Response(body=b" " * big, content_type="application/json")

    base_url = await serve(handler)
    async with client(base_url) as c:
        with pytest.raises(ResponseTooLargeError, match=f"max_response_bytes={16 * MiB}"):
            await anext(aiter(c.available_dids()))


async def test_an_error_status_with_a_huge_body_is_too_large_and_not_retried(serve):
    hits = []

    async def handler(request):
        hits.append(1)
        return web.Response(status=500, body=b"x" * (2 * MiB), content_type="text/plain")

    base_url = await serve(handler)
    async with client(base_url, max_response_bytes=MiB) as c:
        with pytest.raises(ResponseTooLargeError):
            await anext(aiter(c.available_dids()))
    assert len(hits) == 1


async def traced_peak(coro):
    tracemalloc.start()
    try:
        result = await coro
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


async def test_an_endless_chunked_body_stops_at_the_cap_with_bounded_memory(serve):
    sent = [0]

    async def handler(request):
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunk = b"[" * 65536
        while True:  # until the client hangs up (then the handler is cancelled)
            await resp.write(chunk)
            sent[0] += len(chunk)

    base_url = await serve(handler)

    async def run():
        async with client(base_url) as c:
            with pytest.raises(ResponseTooLargeError) as info:
                await anext(aiter(c.available_dids()))
            return info.value

    err, peak = await traced_peak(run())
    assert err.attempts == 1
    assert peak < 100 * MiB
    assert sent[0] < 64 * MiB  # the client hung up soon after the 16 MiB cap


@pytest.fixture(scope="module")
def gzip_bomb():
    """About 250 KiB of gzip that inflates to 256 MiB of JSON-looking text."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [z.compress(b'{"items": ['), *(z.compress(b" " * MiB) for _ in range(256))]
    parts.append(z.flush())
    return b"".join(parts)


async def test_a_declared_content_length_over_the_cap_is_refused_before_reading(serve):
    # The server promises 1 GiB, sends not one byte of it and stalls: only the declared
    # length can tell, so the error comes at once, not at the read timeout or deadline.
    async def handler(request):
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 2**30
        await response.prepare(request)
        await asyncio.sleep(60)
        return response

    base_url = await serve(handler)
    loop = asyncio.get_running_loop()
    async with client(base_url, max_response_bytes=MiB, timeout=10, read_timeout=10) as c:
        started = loop.time()
        with pytest.raises(ResponseTooLargeError, match="max_response_bytes=1048576") as info:
            await anext(aiter(c.available_dids()))
        took = loop.time() - started
    assert info.value.attempts == 1 and info.value.status == 200
    assert took < 3  # well under the 10 s deadline: nothing was waited for


async def test_a_gzip_bomb_stops_at_the_cap_after_decompression(serve, gzip_bomb):
    assert len(gzip_bomb) < MiB  # the wire size is nowhere near the cap

    async def handler(request):
        return web.Response(
            body=gzip_bomb,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )

    base_url = await serve(handler)

    async def run():
        async with client(base_url) as c:
            with pytest.raises(ResponseTooLargeError, match="max_response_bytes") as info:
                await anext(aiter(c.available_dids()))
            return info.value

    err, peak = await traced_peak(run())
    assert err.status == 200
    assert peak < 100 * MiB


async def test_a_small_gzip_page_is_decoded(serve):
    # The control for the bomb: compressed pages under the cap work.
    items = records(0, 30)
    body = zlib.compress(body_of(items), wbits=31)

    async def handler(request):
        return web.Response(
            body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )

    base_url = await serve(handler)
    async with client(base_url, max_response_bytes=len(body_of(items))) as c:
        got = [d.did_sid async for d in c.available_dids()]
    assert got == [r["did_sid"] for r in items]


# --- requests in flight ---------------------------------------------------------------------

STATES = [f"{chr(65 + i // 5)}{chr(65 + i % 5)}" for i in range(20)]  # AA, AB, ... DE
PER_STATE = 30  # two pages of 20 (with the re-read overlap) per alternative


def state_server(arrivals, in_flight, peak):
    """Each state has its own PER_STATE records; requests are held briefly to overlap."""

    async def handler(request):
        state = request.query["filter"].rsplit(" ", 1)[-1]
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        arrivals.append((state, offset))
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        try:
            await asyncio.sleep(0.02)
        finally:
            in_flight[0] -= 1
        base = STATES.index(state) * 1000
        mine = records(base, base + PER_STATE)
        items = mine[offset : offset + limit]
        return web.Response(
            body=body_of(items, has_more=offset + limit < PER_STATE, offset=offset),
            content_type="application/json",
        )

    return handler


def expected_sids():
    return {
        r["did_sid"] for i in range(len(STATES)) for r in records(i * 1000, i * 1000 + PER_STATE)
    }


@pytest.mark.parametrize(("cap", "expected_peak"), [(None, 8), (3, 3)])
async def test_a_fan_out_keeps_to_the_concurrency_cap_in_arrival_order(serve, cap, expected_peak):
    arrivals, in_flight, peak = [], [0], [0]
    base_url = await serve(state_server(arrivals, in_flight, peak))
    options = {} if cap is None else {"max_concurrency": cap}
    async with client(base_url, **options) as c:
        got = [d.did_sid async for d in c.available_dids(filter=F.state.in_(STATES), page_size=20)]
    assert len(got) == len(set(got))  # no duplicate
    assert set(got) == expected_sids()  # nothing lost
    assert peak[0] == expected_peak  # the cap is reached and never passed
    # FIFO: every alternative's first page is asked for, in order, before any second page.
    firsts = [state for state, offset in arrivals if offset == 0]
    assert firsts == STATES
    assert [offset for _, offset in arrivals[: len(STATES)]] == [0] * len(STATES)


async def test_the_cap_is_shared_by_every_stream_and_call_of_a_client(serve):
    arrivals, in_flight, peak = [], [0], [0]
    base_url = await serve(state_server(arrivals, in_flight, peak))
    async with client(base_url, max_concurrency=4) as c:

        async def walk(states):
            return [d.did_sid async for d in c.available_dids(filter=F.state.in_(states))]

        results = await asyncio.gather(walk(STATES[:10]), walk(STATES[10:]), walk(STATES[:5]))
    assert peak[0] == 4
    assert sum(map(len, results)) == (10 + 10 + 5) * PER_STATE


def test_a_bad_cap_is_refused():
    for name in ("max_concurrency", "max_response_bytes"):
        for value in (0, -1, 1.5, True, "8"):
            with pytest.raises(ConfigurationError, match=name):
                Client(TOKEN, **{name: value})


# --- what a body under the cap may cost ---------------------------------------------------


def amplifying_bodies():
    """Bodies just under the 16 MiB cap made of empty objects (~24 bytes of Python each
    per 3 bytes of JSON): in one record (no record boundary to cut at), and spread over
    1000 records (cut into pieces that each parse)."""
    one = b'{"items": [{"did_sid": "x", "transformations": [' + b"{}, " * 4_090_000 + b"{}]}]}"
    record = b'{"did_sid": "x", "transformations": [' + b"{}, " * 4_090 + b"{}]}"
    many = b'{"items": [' + b", ".join([record] * 1000) + b"]}"
    return {"one record": one, "1000 records": many}


@pytest.mark.parametrize("shape", ["one record", "1000 records"])
@pytest.mark.parametrize("mode", ["typed", "dicts"])
async def test_an_object_amplifying_body_is_refused_cheaply_and_says_why(serve, shape, mode):
    body = amplifying_bodies()[shape]
    assert 15 * MiB < len(body) < 16 * MiB

    async def handler(request):
        return web.Response(body=body, content_type="application/json")

    base_url = await serve(handler)
    loop = asyncio.get_running_loop()
    gaps, last = [], [loop.time()]

    async def ticker():
        while True:
            await asyncio.sleep(0)
            now = loop.time()
            gaps.append(now - last[0])
            last[0] = now

    async def run():
        async with client(base_url) as c:
            stream = c.available_dids(page_size=1000)
            with pytest.raises(ResponseDecodeError) as info:
                await anext(stream if mode == "typed" else stream.dicts())
            return info.value

    task = asyncio.create_task(ticker())
    try:
        err, peak = await traced_peak(run())
    finally:
        task.cancel()
    message = str(err)
    assert "per 8 bytes" in message or "too long" in message  # says why
    assert peak < 10 * len(body)  # the body itself, read in chunks, counts in this
    assert max(gaps) < 0.25  # tracemalloc slows it several times: ~50 ms without it
