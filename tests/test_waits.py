"""Attempts, deadlines and waits against hostile servers: every request is a counted attempt."""

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import format_datetime
from types import SimpleNamespace

import aiohttp
import orjson
import pytest
from aiohttp import web
from conftest import records

from carrierx_async import (
    APIConnectionError,
    APITimeoutError,
    AvailableDid,
    Client,
    ClientClosedError,
    ConfigurationError,
    PoolTimeoutError,
    RateLimitError,
    RetryBudget,
    ServerError,
    _transport,
)
from carrierx_async._retry import RetryPolicy

TOKEN = "test-token-not-real"
SID = "00000000-0000-0000-0000-000000000001"


def page(items, *, has_more, offset):
    return web.Response(
        body=orjson.dumps({"items": items, "has_more": has_more, "offset": offset}),
        content_type="application/json",
    )


async def no_sleep(delay):
    await asyncio.sleep(0)


def drop_pooled_connections(arrived):
    """Serve the first request on each connection; abort any later one on the same one."""
    used = []  # the transports themselves, so no id is reused

    async def handler(request):
        arrived.append(int(request.query["offset"]))
        if any(t is request.transport for t in used):
            request.transport.abort()
            return web.Response()  # never sent: the connection is gone
        used.append(request.transport)
        offset = int(request.query["offset"])
        items = records(offset, min(offset + 20, 100))
        return page(items, has_more=offset + 20 < 100, offset=offset)

    return handler


async def test_aiohttp_does_not_resend_on_a_dropped_pooled_connection(serve):
    arrived = []
    base_url = await serve(drop_pooled_connections(arrived))
    async with Client(TOKEN, base_url=base_url, max_retries=0, prefetch=0) as c:
        got = []
        with pytest.raises(APIConnectionError) as info:
            async for did in c.available_dids(page_size=20):
                got.append(did.did_sid)
    assert len(got) == 20  # page 1 only
    assert info.value.attempts == 1
    assert arrived == [0, 15]  # max_retries=0: one request for page 2, not aiohttp's two


async def test_every_request_on_the_wire_is_a_counted_attempt(serve, caplog):
    arrived = []
    base_url = await serve(drop_pooled_connections(arrived))
    caplog.set_level(logging.INFO, logger="carrierx_async")
    async with Client(TOKEN, base_url=base_url, prefetch=0) as c:
        c._transport._sleep = no_sleep
        got = [d.did_sid async for d in c.available_dids(page_size=20)]
    assert got == [r["did_sid"] for r in records(0, 100)]  # nothing lost, no duplicate
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    pages = len(set(arrived))
    assert len(arrived) == pages + len(retries)  # each request is a page or a counted retry
    assert len(retries) == pages - 1  # every page after the first met a dropped connection


async def test_a_reset_storm_costs_no_more_requests_than_the_retry_budget_allows(serve):
    arrived = []

    async def reset(request):
        arrived.append(1)
        request.transport.abort()
        return web.Response()

    base_url = await serve(reset)
    async with Client(TOKEN, base_url=base_url) as c:  # budget: 10 retries for the client
        c._transport._sleep = no_sleep
        results = await asyncio.gather(
            *(c.get_available_did(SID) for _ in range(50)), return_exceptions=True
        )
    assert all(isinstance(r, APIConnectionError) for r in results)
    assert sum(r.attempts for r in results) == 50 + 10
    assert len(arrived) == 50 + 10  # what reached the wire is what was counted


async def test_a_borrowed_sessions_own_middlewares_still_run(serve):
    seen = []

    async def handler(request):
        seen.append(request.headers.get("X-Caller"))
        return web.json_response({"did_sid": SID})

    async def tag(request, handler):
        request.headers["X-Caller"] = "yes"
        return await handler(request)

    base_url = await serve(handler)
    async with (
        aiohttp.ClientSession(middlewares=(tag,)) as session,
        Client(TOKEN, base_url=base_url, session=session) as c,
    ):
        await c.get_available_did(SID)
    assert seen == ["yes"]


# --- close() wakes every waiting call --------------------------------------------------------


def retry_after_server(hits, seconds="20"):
    async def handler(request):
        hits.append(request.path)
        return web.Response(status=503, headers={"Retry-After": seconds})

    return handler


async def wait_for_hits(hits, n):
    while len(hits) < n:
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("call", ["stream, prefetch=0", "get_available_did", "stream"])
async def test_close_wakes_a_call_sleeping_out_retry_after(serve, call):
    hits = []
    base_url = await serve(retry_after_server(hits))
    c = Client(TOKEN, base_url=base_url)
    sleeping = asyncio.Event()
    delays = []

    async def sleep(delay):  # the real wait, announced
        delays.append(delay)
        sleeping.set()
        await asyncio.sleep(delay)

    c._transport._sleep = sleep
    if call == "get_available_did":
        task = asyncio.create_task(c.get_available_did(SID))
    else:
        stream = c.available_dids(prefetch=0 if "0" in call else 1)
        task = asyncio.create_task(anext(aiter(stream)))
    await asyncio.wait_for(sleeping.wait(), 5)
    assert delays == [20.0]  # now sleeping out the 20 s Retry-After
    await c.close()
    loop = asyncio.get_running_loop()
    closed_at = loop.time()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(task, 5)
    assert loop.time() - closed_at < 2  # generous: "a fraction of a second" on a busy box
    assert len(hits) == 1


async def test_close_wakes_a_call_waiting_for_a_slot_and_one_in_flight_on_a_borrowed_session(
    serve,
):
    hits = []

    async def stuck(request):
        hits.append(request.path)
        await asyncio.sleep(30)
        return web.Response()

    base_url = await serve(stuck)
    async with aiohttp.ClientSession() as session:
        c = Client(TOKEN, base_url=base_url, session=session, max_concurrency=1)
        in_flight = asyncio.create_task(c.get_available_did(SID))
        waiting = asyncio.create_task(c.get_available_did(SID))
        await wait_for_hits(hits, 1)
        await asyncio.sleep(0.1)
        await c.close()
        results = await asyncio.wait_for(
            asyncio.gather(in_flight, waiting, return_exceptions=True), 5
        )
        assert [type(r) for r in results] == [ClientClosedError, ClientClosedError]
        assert not session.closed  # borrowed: still the caller's
    assert len(hits) == 1  # the second call never got a slot


async def test_the_callers_own_cancellation_stays_a_cancellation(serve):
    hits = []
    base_url = await serve(retry_after_server(hits))
    async with Client(TOKEN, base_url=base_url) as c:
        task = asyncio.create_task(c.get_available_did(SID))
        await wait_for_hits(hits, 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not c.closed


# --- Retry-After and the deadline -------------------------------------------------------------


async def test_rate_limit_error_keeps_the_last_retry_after(serve):
    hits = []
    base_url = await serve(retry_after_server(hits, seconds="1"))
    async with Client(TOKEN, base_url=base_url, max_retries=2) as c:
        c._transport._sleep = no_sleep
        with pytest.raises(ServerError) as info:
            await c.get_available_did(SID)
    assert info.value.attempts == 3 and len(hits) == 3
    assert info.value.retry_after == 1.0


async def test_429_after_retries_carries_retry_after(serve):
    async def handler(request):
        return web.Response(status=429, headers={"Retry-After": "1"})

    base_url = await serve(handler)
    async with Client(TOKEN, base_url=base_url) as c:
        c._transport._sleep = no_sleep
        with pytest.raises(RateLimitError) as info:
            await anext(aiter(c.available_dids()))
    assert info.value.attempts == 3 and info.value.retry_after == 1.0
    assert "after 3 attempts" in str(info.value)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("61", 61.0),
        ("40000000", 40_000_000.0),  # over a year: no longer "nonsense, retry at normal speed"
        (format_datetime(datetime(2100, 1, 1, tzinfo=UTC), usegmt=True), None),
    ],
)
async def test_a_retry_after_longer_than_the_client_waits_fails_at_once(serve, header, seconds):
    hits = []

    async def handler(request):
        hits.append(1)
        return web.Response(status=503, headers={"Retry-After": header})

    base_url = await serve(handler)
    async with Client(TOKEN, base_url=base_url) as c:
        c._transport._sleep = no_sleep
        with pytest.raises(RateLimitError) as info:
            await anext(aiter(c.available_dids()))
    assert len(hits) == 1 and info.value.attempts == 1
    assert info.value.status == 503
    if seconds is not None:
        assert info.value.retry_after == seconds
    else:
        assert info.value.retry_after > 60 * 365 * 86400


@pytest.mark.parametrize(("backoff", "attempts"), [(600.0, 1), (0.5, 4)])
async def test_backoff_that_cannot_fit_in_the_deadline_raises_the_error_in_hand(
    serve, monkeypatch, backoff, attempts
):
    # Sleeping into the deadline would end as APITimeoutError: the error in hand is the 500
    # itself, raised as soon as the next wait (plus an attempt) cannot fit. Not timing-
    # sensitive: a 300 s wait never fits a 30 s deadline, and a 0.25 s one always does (the
    # waits are recorded, not slept, so the time left stays about 30 s).
    arrived = []

    async def handler(request):
        arrived.append(request.path)
        return web.Response(status=500, text="down")

    slept = []

    async def record(delay):
        slept.append(delay)
        await asyncio.sleep(0)

    base_url = await serve(handler)
    monkeypatch.setattr(_transport, "random", SimpleNamespace(random=lambda: 0.5))  # jitter
    async with Client(TOKEN, base_url=base_url, timeout=30, max_retries=3) as c:
        c._transport._policy = RetryPolicy(max_retries=3, base=backoff, cap=backoff)
        c._transport._sleep = record
        with pytest.raises(ServerError) as info:
            await c.get_available_did(SID)
    assert info.value.attempts == attempts == len(arrived)
    assert slept == [backoff / 2] * (attempts - 1)  # too long: raised without sleeping at all


async def test_a_header_over_aiohttps_limit_is_not_retried(serve):
    hits = []

    async def handler(request):
        hits.append(1)
        return web.json_response({}, headers={"X-Huge": "a" * 9000})

    base_url = await serve(handler)
    async with Client(TOKEN, base_url=base_url) as c:
        c._transport._sleep = no_sleep
        with pytest.raises(APIConnectionError, match="8190") as info:
            await anext(aiter(c.available_dids()))
    assert len(hits) == 1 and info.value.attempts == 1
    assert "after 1 attempts" not in str(info.value)


async def test_the_retry_budget_refills_after_each_success(serve):
    hits = []

    async def flaky(request):  # every other request fails
        hits.append(1)
        if len(hits) % 2:
            return web.Response(status=503)
        return web.json_response({"did_sid": SID})

    base_url = await serve(flaky)
    budget = RetryBudget(capacity=1, refill=1)
    async with Client(TOKEN, base_url=base_url, retry_budget=budget) as c:
        c._transport._sleep = no_sleep
        for _ in range(3):  # each call spends the one token; its success puts it back
            assert (await c.get_available_did(SID)).did_sid == SID
    assert len(hits) == 6


# --- the queue for a max_concurrency slot is not the server's time ---------------------------


def answering_in(seconds, hits):
    async def handler(request):
        hits.append(request.path)
        await asyncio.sleep(seconds)  # the server's latency, not a synchronisation
        return web.json_response(records(1, 2)[0])

    return handler


async def test_waiting_for_a_slot_does_not_count_against_the_deadline(serve):
    # 16 calls, 2 at a time, 0.3 s each: the last ones queue ~2.1 s, longer than their
    # 1.5 s deadline, which measures only their own time on the wire.
    hits = []
    base_url = await serve(answering_in(0.3, hits))
    async with Client(TOKEN, base_url=base_url, max_concurrency=2, timeout=1.5) as c:
        got = await asyncio.gather(
            *(c.get_available_did(SID) for _ in range(16)), return_exceptions=True
        )
    assert [type(r) for r in got] == [AvailableDid] * 16
    assert len(hits) == 16


async def test_a_call_that_cannot_get_a_slot_within_pool_timeout_is_never_sent(serve):
    # Two calls hold both slots for at least 0.3 s; the four queued behind them give up at
    # 0.2 s (their clocks start before the server sees the first two requests).
    hits = []
    base_url = await serve(answering_in(0.3, hits))
    async with Client(
        TOKEN, base_url=base_url, max_concurrency=2, timeout=5, pool_timeout=0.2
    ) as c:
        got = await asyncio.gather(
            *(c.get_available_did(SID) for _ in range(6)), return_exceptions=True
        )
    assert [type(r) for r in got] == [AvailableDid] * 2 + [PoolTimeoutError] * 4
    assert len(hits) == 2
    err = got[-1]
    assert isinstance(err, APITimeoutError) and err.attempts == 1
    assert "max_concurrency=2" in str(err) and "pool_timeout=0.2s" in str(err)
    assert f"/available_dids/{SID}" in str(err)


@pytest.mark.parametrize("value", [0, -1, True, "5", 1e6])
def test_pool_timeout_must_be_positive_seconds_or_none(value):
    with pytest.raises(ConfigurationError, match="pool_timeout must be a positive number"):
        Client(TOKEN, pool_timeout=value)
    assert Client(TOKEN, pool_timeout=None).closed is False
