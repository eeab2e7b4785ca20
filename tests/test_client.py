"""Wire tests: the Client against the embedded fake server over real HTTP on 127.0.0.1."""

import asyncio
import logging
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from carrierx_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    AvailableDid,
    BadRequestError,
    Capability,
    CarrierXError,
    Client,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    FilterError,
    NotFoundError,
    Page,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    RetryBudget,
    ServerError,
    UnprocessableEntityError,
)
from carrierx_async._feed import PREFETCH_TASK
from carrierx_async.testing import (
    Churn,
    Delay,
    Disconnect,
    EmptyHasMore,
    ForeignNext,
    HtmlPage,
    MalformedJson,
    Reset,
    SlowDrip,
    Status,
    Stuck,
    Truncated,
)

TOKEN = "fake-token-not-a-secret"


pytestmark = pytest.mark.carrierx_fake(token=TOKEN, size=3000)


@pytest.fixture
def fake(carrierx_fake):
    return carrierx_fake.server


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
async def client(carrierx_fake, sleeps):
    """The plugin's client, with backoff sleeps recorded instead of slept."""

    async def record_sleep(seconds):
        sleeps.append(seconds)

    c = carrierx_fake.make_client()
    c._transport._sleep = record_sleep
    yield c
    # Every test ends with no prefetch task alive and no connection checked out.
    await settle()
    assert producer_tasks() == []
    assert acquired_connections(c) == 0


def list_requests(fake):
    return [r for r in fake.requests if r.path.endswith("/available_dids")]


def producer_tasks():
    """Our own background tasks still alive (prefetch producers)."""
    return [
        t for t in asyncio.all_tasks() if not t.done() and t.get_name().startswith(PREFETCH_TASK)
    ]


async def test_producer_tasks_are_visible_while_streaming(client):
    # Guards the helper above: a renamed task would make every "no task left" check vacuous.
    async with client.available_dids(page_size=10, prefetch=2) as stream:
        await anext(stream)
        assert producer_tasks() != []
    assert producer_tasks() == []


def acquired_connections(client):
    session = client._transport.session
    return 0 if session is None or session.connector is None else len(session.connector._acquired)


async def settle():
    for _ in range(3):
        await asyncio.sleep(0)


# -- streaming -------------------------------------------------------------------------


async def test_stream_matches_inventory_in_order(client, fake):
    want = [d["did_sid"] for d in fake.inventory if d["state"] == "NY"][:25]
    got = [did async for did in client.available_dids(filter="state eq NY", max_items=25)]
    assert [d.did_sid for d in got] == want
    assert all(isinstance(d, AvailableDid) and d.state == "NY" for d in got)
    assert isinstance(got[0].price, Decimal)
    assert isinstance(got[0].capabilities, Capability)


async def test_default_page_size_is_api_maximum(client, fake):
    got = [did async for did in client.available_dids(filter="country_code eq USA", max_items=1500)]
    assert len(got) == 1500
    limits = [r.query["limit"] for r in list_requests(fake)]
    assert limits[0] == "1000"
    assert all(r.authorized for r in fake.requests)


async def test_whole_inventory_no_gap_no_duplicate(client, fake):
    got = [did.did_sid async for did in client.available_dids(page_size=700)]
    assert got == [d["did_sid"] for d in fake.inventory]
    assert len(list_requests(fake)) == 5  # 700 new, then 690 new per page (10 overlap)


async def test_max_items_shrinks_last_limit(client, fake):
    got = [d async for d in client.available_dids(page_size=10, max_items=25)]
    assert len(got) == 25
    assert [(r.query["offset"], r.query["limit"]) for r in list_requests(fake)] == [
        ("0", "10"),
        ("8", "10"),
        ("16", "9"),
    ]


async def test_pages_yield_page_objects(client, fake):
    pages = [p async for p in client.available_dids(page_size=100, max_items=150).pages()]
    assert all(isinstance(p, Page) for p in pages)
    assert [len(p.items) for p in pages] == [100, 50]
    assert pages[0].total is None and pages[0].has_more is True


async def test_dicts_mode_yields_wire_dicts(client, fake):
    got = [d async for d in client.available_dids(max_items=5).dicts()]
    assert got == list(fake.inventory[:5])


async def test_calling_available_dids_does_no_io(client, fake):
    stream = client.available_dids(filter="state eq NY")
    await asyncio.sleep(0.01)
    assert fake.requests == []
    await stream.aclose()


async def test_field_filtering_reaches_server_and_models(client, fake):
    got = [
        d async for d in client.available_dids(include_fields=["phonenumber", "price"], max_items=3)
    ]
    # did_sid is asked for always (the walk tells records apart by it) and dropped again
    assert list_requests(fake)[0].query["include_fields"] == "phonenumber,price,did_sid"
    assert got[0].present_fields == {"phonenumber", "price"}
    assert got[0].phonenumber == fake.inventory[0]["phonenumber"]
    assert got[0].state is None


async def test_get_available_did_and_not_found(client, fake):
    sid = fake.inventory[10]["did_sid"]
    did = await client.get_available_did(sid)
    assert did.did_sid == sid and did.phonenumber == fake.inventory[10]["phonenumber"]
    with pytest.raises(NotFoundError) as info:
        await client.get_available_did("00000000-0000-4000-8000-00000000dead")
    assert info.value.status == 404


async def test_bad_sid_refused_before_request(client, fake):
    with pytest.raises(ConfigurationError):
        await client.get_available_did("../phonenumber/available_dids")
    assert fake.requests == []


async def test_raw_filter_error_refused_before_request(client, fake):
    with pytest.raises(FilterError):
        client.available_dids(filter="state eq NY or state eq NJ")
    with pytest.raises(ConfigurationError, match="page_size"):
        client.available_dids(page_size=1001)
    with pytest.raises(ConfigurationError, match="page_size"):
        client.available_dids(page_size=0)
    assert fake.requests == []


# -- construction, auth and ownership ------------------------------------------------------


async def test_token_from_environment(fake, monkeypatch):
    monkeypatch.setenv("CARRIERX_TOKEN", TOKEN)
    async with Client(base_url=fake.base_url) as c:
        got = [d async for d in c.available_dids(max_items=2)]
    assert len(got) == 2
    assert fake.requests[0].authorized


async def test_base_url_from_environment(fake, monkeypatch):
    monkeypatch.setenv("CARRIERX_BASE_URL", fake.base_url)
    async with Client(TOKEN) as c:
        got = [d async for d in c.available_dids(max_items=2)]
    assert [d.did_sid for d in got] == [r["did_sid"] for r in fake.inventory[:2]]
    assert len(fake.requests) == 1
    assert str(Client(TOKEN, base_url="http://127.0.0.1:9/x").base_url) == "http://127.0.0.1:9/x"
    monkeypatch.setenv("CARRIERX_BASE_URL", "http://example.com/core/v2")
    with pytest.raises(ConfigurationError, match="clear text"):  # checked like an argument
        Client(TOKEN)
    monkeypatch.setenv("CARRIERX_BASE_URL", " ")
    assert str(Client(TOKEN).base_url) == "https://api.carrierx.com/core/v2"


def test_missing_token_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("CARRIERX_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="CARRIERX_TOKEN"):
        Client()


async def test_trace_configs_with_a_borrowed_session_refused():
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ConfigurationError, match="trace_configs"):
            Client(TOKEN, session=session, trace_configs=[aiohttp.TraceConfig()])


def test_clear_text_base_url_refused():
    with pytest.raises(ConfigurationError, match="clear text"):
        Client(TOKEN, base_url="http://api.carrierx.com/core/v2")


async def test_repr_never_shows_token(client, fake):
    assert TOKEN not in repr(client)
    assert fake.base_url in repr(client)
    assert TOKEN not in repr(vars(client))


async def test_wrong_token_is_authentication_error_without_token(fake):
    async with Client("wrong-token-value", base_url=fake.base_url) as c:
        with pytest.raises(AuthenticationError) as info:
            await anext(aiter(c.available_dids()))
    assert "wrong-token-value" not in str(info.value) + repr(info.value)
    assert len(fake.requests) == 1  # 401 is not retried


async def test_borrowed_session_raise_for_status_is_ignored(fake):
    async with (
        aiohttp.ClientSession(raise_for_status=True) as session,
        Client("wrong-token-value", base_url=fake.base_url, session=session) as c,
    ):
        with pytest.raises(AuthenticationError):
            await anext(aiter(c.available_dids()))
    assert len(fake.requests) == 1


def test_token_file_content_with_newline_is_accepted():
    assert repr(Client(TOKEN + "\n")).startswith("<Client")
    with pytest.raises(ConfigurationError, match="control or non-ASCII character at position 3"):
        Client("abc\ndef")


async def test_borrowed_session_is_not_closed(fake):
    async with aiohttp.ClientSession() as session:
        async with Client(TOKEN, base_url=fake.base_url, session=session) as c:
            assert len([d async for d in c.available_dids(max_items=3)]) == 3
        assert not session.closed
        async with session.get(fake.base_url + "/phonenumber/available_dids") as resp:
            assert resp.status == 401  # still usable; the token was never put on the session


async def test_own_session_is_closed(fake):
    c = Client(TOKEN, base_url=fake.base_url)
    assert len([d async for d in c.available_dids(max_items=3)]) == 3
    session = c._transport.session
    await c.close()
    assert session is not None and session.closed
    with pytest.raises(ClientClosedError):
        c.available_dids()


async def test_closed_client_raises(client):
    await client.close()
    with pytest.raises(ClientClosedError):
        await client.get_available_did("00000000-0000-4000-8000-000000000001")


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
    ],
)
async def test_error_classes_not_retried(client, fake, status, cls):
    fake.add_fault(Status(status, message="nope"))
    with pytest.raises(cls) as info:
        await anext(aiter(client.available_dids()))
    assert isinstance(info.value, APIError) and info.value.status == status
    assert info.value.message == "nope"
    assert info.value.attempts == 1
    assert len(fake.requests) == 1


async def test_attempts_counted_when_a_retry_ends_in_a_client_error(client, fake):
    fake.add_fault(Status(503))
    fake.add_fault(Status(400))
    with pytest.raises(BadRequestError) as info:
        await anext(aiter(client.available_dids()))
    assert info.value.attempts == 2
    assert "after 2 attempts" in str(info.value)
    assert len(fake.requests) == 2


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_a_failed_stream_keeps_failing(client, fake, prefetch):
    fake.add_fault(Status(404))
    stream = client.available_dids(prefetch=prefetch)
    with pytest.raises(NotFoundError):
        await anext(stream)
    with pytest.raises(NotFoundError):
        await anext(stream)
    assert len(fake.requests) == 1


@pytest.mark.parametrize(("status", "cls"), [(429, RateLimitError), (503, ServerError)])
async def test_retryable_status_exhausts_attempts(client, fake, sleeps, status, cls):
    fake.add_fault(Status(status), times=3)
    with pytest.raises(cls) as info:
        await anext(aiter(client.available_dids()))
    assert info.value.attempts == 3
    assert "after 3 attempts" in str(info.value)
    assert len(fake.requests) == 3
    assert len(sleeps) == 2 and all(0 <= s <= 8 for s in sleeps)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_transient_status_recovers(client, fake, status):
    fake.add_fault(Status(status))
    got = [d.did_sid async for d in client.available_dids(max_items=5)]
    assert got == [d["did_sid"] for d in fake.inventory[:5]]
    assert len(fake.requests) == 2


async def test_retry_after_is_honoured(client, fake, sleeps):
    fake.add_fault(Status(429, retry_after="7"))
    assert len([d async for d in client.available_dids(max_items=2)]) == 2
    assert sleeps == [7.0]


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_too_long_fails_at_once(client, fake, sleeps, status):
    fake.add_fault(Status(status, retry_after="120"))
    with pytest.raises(RateLimitError) as info:
        await anext(aiter(client.available_dids()))
    assert info.value.retry_after == 120.0 and info.value.status == status
    assert len(fake.requests) == 1 and sleeps == []


async def test_retry_after_beyond_the_deadline_fails_at_once(client, fake, sleeps):
    fake.add_fault(Status(503, retry_after="30"))
    with pytest.raises(RateLimitError, match="longer than this call may wait") as info:
        await anext(aiter(client.available_dids(timeout=5)))
    assert info.value.retry_after == 30.0
    assert len(fake.requests) == 1 and sleeps == []


async def test_malformed_json_not_retried(client, fake):
    fake.add_fault(MalformedJson())
    with pytest.raises(ResponseDecodeError, match="malformed JSON"):
        await anext(aiter(client.available_dids()))
    assert len(fake.requests) == 1


async def test_decode_error_after_a_retry_counts_attempts(client, fake):
    fake.add_fault(Status(503))
    fake.add_fault(MalformedJson())
    with pytest.raises(ResponseDecodeError, match="after 2 attempts") as info:
        await anext(aiter(client.available_dids()))
    assert info.value.attempts == 2
    assert len(fake.requests) == 2


async def test_html_200_is_decode_error(client, fake):
    fake.add_fault(HtmlPage(status=200))
    with pytest.raises(ResponseDecodeError, match="text/html"):
        await anext(aiter(client.available_dids()))
    assert len(fake.requests) == 1


async def test_html_502_is_retried(client, fake):
    fake.add_fault(HtmlPage(status=502))
    assert len([d async for d in client.available_dids(max_items=2)]) == 2
    assert len(fake.requests) == 2


@pytest.mark.parametrize("fault", [Truncated(), Reset(), Disconnect()])
async def test_broken_transport_retries_that_page_only(client, fake, fault):
    stream = client.available_dids(page_size=100, max_items=250)
    got = []
    async for did in stream:
        got.append(did.did_sid)
        if len(got) == 100:
            fake.add_fault(fault)  # the second page breaks once
    assert got == [d["did_sid"] for d in fake.inventory[:250]]
    offsets = [r.query["offset"] for r in list_requests(fake)]
    assert offsets == ["0", "90", "90", "180"]


async def test_connection_refused_is_connection_error_without_token(sleeps):
    async def record_sleep(seconds):
        sleeps.append(seconds)

    # A port nobody listens on: bind, read the port, close.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with Client(TOKEN, base_url=f"http://127.0.0.1:{port}/core/v2") as c:
        c._transport._sleep = record_sleep
        with pytest.raises(APIConnectionError) as info:
            await anext(aiter(c.available_dids()))
    err = info.value
    assert err.attempts == 3 and len(sleeps) == 2
    assert err.__cause__ is None
    assert TOKEN not in str(err) + repr(err)


async def test_attempt_timeout_then_success(fake, sleeps):
    async def record_sleep(seconds):
        sleeps.append(seconds)

    async with Client(TOKEN, base_url=fake.base_url, read_timeout=0.2) as c:
        c._transport._sleep = record_sleep
        fake.add_fault(Delay(1.0))
        got = [d async for d in c.available_dids(max_items=3)]
    assert len(got) == 3 and len(fake.requests) == 2 and len(sleeps) == 1


async def test_per_call_read_timeout(client, fake, sleeps):
    fake.add_fault(Delay(1.0))
    got = [d async for d in client.available_dids(max_items=3, read_timeout=0.2)]
    assert len(got) == 3 and len(fake.requests) == 2 and len(sleeps) == 1


async def test_bad_per_call_timeouts_refused_before_request(client, fake):
    for kwargs in ({"timeout": 0}, {"read_timeout": -1}, {"connect_timeout": "1"}):
        with pytest.raises(ConfigurationError, match="seconds"):
            client.available_dids(**kwargs)
    assert fake.requests == []


async def test_slow_drip_cannot_evade_deadline(fake):
    async with Client(TOKEN, base_url=fake.base_url, read_timeout=5.0) as c:
        fake.add_fault(SlowDrip(chunk_size=64, interval=0.05))
        with pytest.raises(APITimeoutError, match="deadline"):
            await anext(aiter(c.available_dids(page_size=50, timeout=0.3)))
        assert acquired_connections(c) == 0


async def test_retry_budget_spent_by_concurrent_streams(fake, sleeps):
    async def record_sleep(seconds):
        sleeps.append(seconds)

    budget = RetryBudget(capacity=3)
    async with Client(TOKEN, base_url=fake.base_url, retry_budget=budget) as c:
        c._transport._sleep = record_sleep
        fake.add_fault(Status(503), times=100)

        async def one(state):
            with pytest.raises(ServerError):
                await anext(aiter(c.available_dids(filter=f"state eq {state}")))

        await asyncio.gather(*(one(s) for s in ["NY", "CA", "TX", "IL", "FL", "WA"]))
    # Six streams, three retries between them, not six times max_retries.
    assert len(sleeps) == 3
    assert len(fake.requests) == 6 + 3


async def test_retry_budget_shared_and_spent(fake, sleeps):
    async def record_sleep(seconds):
        sleeps.append(seconds)

    budget = RetryBudget(capacity=1)
    async with Client(TOKEN, base_url=fake.base_url, retry_budget=budget) as c:
        c._transport._sleep = record_sleep
        fake.add_fault(Status(503), times=10)
        with pytest.raises(ServerError) as info:
            await anext(aiter(c.available_dids()))
        assert info.value.attempts == 2  # one retry, then the budget is empty
        with pytest.raises(ServerError) as info:
            await c.get_available_did(fake.inventory[0]["did_sid"])
        assert info.value.attempts == 1
    assert len(fake.requests) == 3


async def test_redirect_to_other_origin_not_followed(client, fake):
    seen = []

    async def other(request):
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"items": []})

    async def redirect(request):
        raise web.HTTPFound(f"http://127.0.0.1:{other_port}/steal")

    other_app, redirect_app = web.Application(), web.Application()
    other_app.router.add_get("/{tail:.*}", other)
    redirect_app.router.add_get("/{tail:.*}", redirect)
    runners = [web.AppRunner(other_app), web.AppRunner(redirect_app)]
    ports = []
    for runner in runners:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ports.append(runner.addresses[0][1])
    other_port, redirect_port = ports
    try:
        async with Client(TOKEN, base_url=f"http://127.0.0.1:{redirect_port}/core/v2") as c:
            with pytest.raises(APIError, match="not followed") as info:
                await anext(aiter(c.available_dids()))
    finally:
        for runner in runners:
            await runner.cleanup()
    assert info.value.status == 302
    assert seen == []  # the token never reached the other origin


# -- live inventory and misbehaving servers -------------------------------------------------


async def test_foreign_pagination_next_never_followed(client, fake):
    fake.add_fault(ForeignNext(), times=5)
    got = [d async for d in client.available_dids(page_size=100, max_items=300)]
    assert len(got) == 300
    assert all(r.path.startswith("/core/v2/") for r in fake.requests)
    assert len(list_requests(fake)) == 4


async def test_churn_between_pages_loses_and_repeats_nothing(client, fake):
    stream = client.available_dids(page_size=100, max_items=400)
    got = []
    async for did in stream:
        got.append(did.did_sid)
        if len(got) == 100:
            before = [d["did_sid"] for d in fake.inventory[:500]]
            fake.remove(*before[:5])  # five numbers rented by someone else
    assert len(got) == len(set(got)) == 400
    assert got == before[:400]


async def test_churn_fault_loses_and_repeats_nothing(client, fake):
    # Each faulted request removes the first three records of the result set after it is
    # served (numbers rented by others), shifting every later offset back by three.
    original = [d["did_sid"] for d in fake.inventory[:200]]
    fake.add_fault(Churn(remove=3), times=3)
    got = [d.did_sid async for d in client.available_dids(page_size=40, max_items=200)]
    assert got == original
    assert len(list_requests(fake)) == 7  # 40 new, then 30 new per page (10 overlap)


@pytest.mark.parametrize("pagination", ["offset", "keyset"])
@pytest.mark.parametrize("at", ["random", "anywhere"])
async def test_shipped_fake_churn_loses_and_repeats_nothing(client, fake, pagination, at):
    # The fake rents 25 and adds 25 numbers at random (within what it has served, or
    # anywhere) after every request: both modes yield every number present throughout
    # exactly once.
    fake.add_fault(Churn(remove=25, add=25, at=at, seed=4), times=10_000)
    original = {r["phonenumber"] for r in fake.inventory}
    stream = client.available_dids(page_size=100, pagination=pagination)
    got = [d.phonenumber async for d in stream]
    throughout = original & {r["phonenumber"] for r in fake.inventory}
    assert throughout <= set(got) and len(got) == len(set(got))
    assert stream.stats.requests == len(list_requests(fake))
    assert stream.stats.possible_gaps == 0


async def test_stuck_server_raises(client, fake):
    fake.add_fault(Stuck(), times=5)
    with pytest.raises(PaginationError, match="answered for offset 0"):
        async for _ in client.available_dids(page_size=10):
            pass
    assert len(list_requests(fake)) == 2


async def test_server_jumping_back_later_never_duplicates(client, fake):
    got = []
    with pytest.raises(PaginationError, match="asked for offset 16"):
        async for did in client.available_dids(page_size=10, prefetch=0):
            got.append(did.did_sid)
            if len(got) == 12:
                fake.add_fault(Stuck())  # the third request gets the first page again
    assert len(got) == len(set(got)) == 18
    assert len(list_requests(fake)) == 3


async def test_empty_page_with_has_more_ends_the_walk(client, fake):
    # A short page holding nothing new is the end, whatever has_more says (issue 24).
    fake.add_fault(EmptyHasMore())
    stream = client.available_dids()
    assert [d async for d in stream] == []
    assert len(fake.requests) == 1 and stream.stats.complete


# -- lifecycle: early exit, cancellation, concurrency ----------------------------------------


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_break_releases_everything(client, fake, prefetch):
    async for did in client.available_dids(page_size=50, prefetch=prefetch):
        if did.did_sid == fake.inventory[60]["did_sid"]:
            break
    await settle()
    assert producer_tasks() == []
    assert acquired_connections(client) == 0
    # The client is still usable.
    assert len([d async for d in client.available_dids(max_items=3)]) == 3


async def test_exception_in_loop_body_releases_everything(client):
    with pytest.raises(RuntimeError, match="consumer"):
        async with client.available_dids(page_size=20) as stream:
            async for _ in stream:
                raise RuntimeError("consumer failed")
    assert producer_tasks() == []
    assert acquired_connections(client) == 0


async def test_asyncio_timeout_around_stream(client, fake):
    fake.latency = 0.2
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            async for _ in client.available_dids(page_size=10):
                pass
    await settle()
    assert producer_tasks() == []
    fake.latency = 0.0
    assert len([d async for d in client.available_dids(max_items=3)]) == 3


async def test_cancel_task_mid_request(client, fake):
    fake.add_fault(Delay(5.0))

    async def consume():
        return [d async for d in client.available_dids()]

    task = asyncio.create_task(consume())
    while not fake.requests:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await settle()
    assert producer_tasks() == []
    assert acquired_connections(client) == 0


async def test_close_client_wakes_a_waiting_consumer(fake):
    c = Client(TOKEN, base_url=fake.base_url)
    fake.add_fault(Delay(5.0))
    stream = c.available_dids(page_size=10)
    waiting = asyncio.create_task(anext(stream))
    while not fake.requests:
        await asyncio.sleep(0.01)
    await c.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(waiting, 2.0)
    assert producer_tasks() == []


async def test_close_client_stops_open_streams(fake):
    c = Client(TOKEN, base_url=fake.base_url)
    stream = c.available_dids(page_size=10, prefetch=2)
    await anext(stream)
    await c.close()
    assert producer_tasks() == []
    with pytest.raises(CarrierXError):
        async for _ in stream:
            pass


async def test_many_concurrent_streams_share_one_client(client, fake):
    states = ["NY", "CA", "TX", "IL"] * 4

    async def collect(state):
        return [d async for d in client.available_dids(filter=f"state eq {state}", page_size=200)]

    results = await asyncio.gather(*(collect(s) for s in states))
    for state, got in zip(states, results, strict=True):
        want = [d["did_sid"] for d in fake.inventory if d["state"] == state]
        assert [d.did_sid for d in got] == want


@pytest.mark.parametrize("prefetch", [0, 1, 4])
async def test_prefetch_keeps_order(client, fake, prefetch):
    got = [d.did_sid async for d in client.available_dids(page_size=100, prefetch=prefetch)]
    assert got == [d["did_sid"] for d in fake.inventory]


# -- logging ----------------------------------------------------------------------------


async def test_logging_records_requests_without_token(client, fake, caplog):
    fake.add_fault(Status(503))
    with caplog.at_level(logging.DEBUG, logger="carrierx_async"):
        assert len([d async for d in client.available_dids(max_items=2)]) == 2
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "503" in text and "/phonenumber/available_dids" in text
    assert TOKEN not in text


# -- proxies ------------------------------------------------------------------------------


async def forward_proxy(serve, seen):
    """An HTTP forward proxy on 127.0.0.1: records each request as it arrived (request
    line target and headers) and relays it to the URL that target names."""

    async def handler(request):
        seen.append((request.raw_path, dict(request.headers)))
        relayed = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(request.raw_path, headers=relayed) as upstream,
        ):
            return web.Response(
                status=upstream.status,
                body=await upstream.read(),
                content_type=upstream.content_type,
            )

    return str(URL(await serve(handler)).with_path(""))


async def test_a_proxy_carries_every_request_and_gets_no_credential_of_its_own(fake, serve):
    seen = []
    proxy = await forward_proxy(serve, seen)
    async with Client(TOKEN, base_url=fake.base_url, proxy=proxy) as c:
        got = [d.did_sid async for d in c.available_dids(page_size=2, max_items=3)]
        one = await c.get_available_did(fake.inventory[7]["did_sid"])
    assert got == [r["did_sid"] for r in fake.inventory[:3]]
    assert one.did_sid == fake.inventory[7]["did_sid"]
    # A forward proxy is sent the absolute URI of each request, to the API origin only.
    assert [(URL(t).path, dict(URL(t).query)) for t, _ in seen] == [
        (r.path, dict(r.query)) for r in fake.requests
    ]
    assert len(seen) == 3
    assert all(target.startswith(fake.base_url + "/phonenumber/") for target, _ in seen)
    for _, headers in seen:
        assert headers["Authorization"] == f"Bearer {TOKEN}"  # meant for the API
        assert "Proxy-Authorization" not in headers


async def test_trust_env_takes_the_proxy_from_the_environment(fake, serve, monkeypatch):
    seen = []
    proxy = await forward_proxy(serve, seen)
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    async with Client(TOKEN, base_url=fake.base_url) as c:  # trust_env defaults to False
        assert len([d async for d in c.available_dids(max_items=2)]) == 2
    assert seen == []
    async with Client(TOKEN, base_url=fake.base_url, trust_env=True) as c:
        assert len([d async for d in c.available_dids(max_items=2)]) == 2
    assert len(seen) == 1
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the API host is exempt
    async with Client(TOKEN, base_url=fake.base_url, trust_env=True) as c:
        assert len([d async for d in c.available_dids(max_items=2)]) == 2
    assert len(seen) == 1 and len(fake.requests) == 3


@pytest.mark.parametrize(
    "proxy", ["socks5://user:pa55word@127.0.0.1:1080", "pa55word@127.0.0.1:3128", "http://"]
)
def test_a_proxy_aiohttp_cannot_use_is_refused_without_echoing_it(proxy):
    with pytest.raises(ConfigurationError, match="proxy must be an http") as info:
        Client(TOKEN, proxy=proxy)
    assert "pa55word" not in str(info.value)


async def test_proxy_and_trust_env_with_a_borrowed_session_refused():
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ConfigurationError, match=r"^proxy and trust_env apply to a session"):
            Client(TOKEN, session=session, proxy="http://127.0.0.1:3128", trust_env=True)
        with pytest.raises(ConfigurationError, match=r"^trust_env apply"):
            Client(TOKEN, session=session, trust_env=True)
