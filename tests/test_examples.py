"""The aiohttp service example against a FakeCarrierX, and observability (tracing, logging)."""

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import sys
import warnings

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from carrierx_async import AuthenticationError, Client
from carrierx_async.examples.aiohttp_service import CLIENT, FIELDS, make_app
from carrierx_async.testing import Delay, FakeCarrierX, Status

TOKEN = "example-token-not-a-secret"
LIST_PATH = "/core/v2/phonenumber/available_dids"


@pytest.fixture
async def fake():
    async with FakeCarrierX(token=TOKEN, size=3000) as server:
        yield server


@contextlib.asynccontextmanager
async def serving(app):
    """Run ``app`` on 127.0.0.1 (any port) the way the example's main() does; yield its URL."""
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield URL.build(scheme="http", host=host, port=port)
    finally:
        await runner.cleanup()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def service(fake):
    app = make_app(token=TOKEN, base_url=fake.base_url)
    async with serving(app) as url:
        yield url


async def test_the_service_reads_carrierx_base_url_as_client_does(fake, http, monkeypatch):
    # The README's two export lines are all it takes to point the service at the fake.
    monkeypatch.setenv("CARRIERX_BASE_URL", fake.base_url)
    async with serving(make_app(token=TOKEN)) as url:
        lines = await get_lines(http, url.with_path("/numbers").with_query(state="NY", limit=3))
    assert [line["did_sid"] for line in lines] == [r["did_sid"] for r in ny(fake)[:3]]
    assert len(fake.requests) == 1


def projected(records):
    return [{k: r[k] for k in FIELDS} for r in records]


def ny(fake):
    return [r for r in fake.inventory if r["state"] == "NY"]


async def get_lines(http, url):
    async with http.get(url) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/x-ndjson"
        return [json.loads(line) async for line in resp.content]


def our_tasks(baseline):
    return [t for t in asyncio.all_tasks() - baseline if t is not asyncio.current_task()]


async def settle(baseline, timeout=5.0):
    """Wait until every task started after ``baseline`` has finished."""
    async with asyncio.timeout(timeout):
        while our_tasks(baseline):
            await asyncio.sleep(0.01)


# -- the service -------------------------------------------------------------------------


async def test_numbers_streams_the_first_matching_records(fake, service, http):
    lines = await get_lines(http, service.with_path("/numbers").with_query(state="NY", limit=50))
    assert lines == projected(ny(fake)[:50])
    assert [r.path for r in fake.requests] == [LIST_PATH]
    assert fake.requests[0].query["filter"] == "state eq NY"
    assert fake.requests[0].query["limit"] == "50"


async def test_numbers_defaults_and_filter_argument(fake, service, http):
    url = service.with_path("/numbers")
    assert await get_lines(http, url) == projected(fake.inventory[:50])
    lines = await get_lines(http, url.with_query(state="ca", limit=7, filter="price le 0.6"))
    expected = [r for r in fake.inventory if r["state"] == "CA" and float(r["price"]) <= 0.6]
    assert lines == projected(expected[:7])


async def test_numbers_with_no_match_is_an_empty_200(fake, service, http):
    url = service.with_path("/numbers").with_query(state="ZZ")
    assert await get_lines(http, url) == []


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ({"state": "N1"}, "two-letter"),
        ({"state": "NEW"}, "two-letter"),
        ({"limit": "0"}, "limit"),
        ({"limit": "10001"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"stat": "NY"}, "unknown query argument 'stat'"),
        ([("state", "NY"), ("state", "NJ")], "at most once"),
        ({"filter": "price lx 1"}, "unknown operator 'lx'"),  # FilterError
        ({"filter": "staet eq NY"}, "staet"),  # FilterError
        ({"filter": "price le cheap"}, "not a plain decimal"),  # FilterError
        ({"filter": "state eq NY or state eq NJ"}, "'and' only"),  # FilterError
    ],
)
async def test_bad_arguments_are_400_before_any_request(fake, service, http, query, complaint):
    async with http.get(service.with_path("/numbers").with_query(query)) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert complaint in body["error"]
    assert fake.requests == []


@pytest.mark.parametrize(
    ("faults", "options", "status", "retry_after"),
    [
        ([Status(401)], {}, 502, None),
        ([Status(404)], {}, 502, None),
        ([Status(503, retry_after="0")] * 3, {}, 502, None),
        ([Status(429, retry_after="120")], {}, 503, "120"),
        ([Delay(5.0)], {"timeout": 0.3}, 504, None),
    ],
)
async def test_carrierx_failures_map_to_gateway_statuses(
    fake, http, faults, options, status, retry_after
):
    for fault in faults:
        fake.add_fault(fault)
    app = make_app(token=TOKEN, base_url=fake.base_url, **options)
    async with serving(app) as url, http.get(url.with_path("/numbers")) as resp:
        assert resp.status == status
        assert resp.headers.get("Retry-After") == retry_after
        body = await resp.json()
    assert set(body) == {"error"}
    assert "CarrierX" in body["error"]
    assert TOKEN not in json.dumps(body)


async def test_failure_after_the_first_page_ends_with_an_error_line(fake, service, http):
    fake.add_fault(Delay(0))  # the first page is served normally
    fake.add_fault(Status(404))  # the second is not retried
    lines = await get_lines(http, service.with_path("/numbers").with_query(limit=1500))
    assert lines[:-1] == projected(fake.inventory[:1000])
    assert lines[-1] == {"error": "CarrierX request failed (NotFoundError)", "status": 502}


async def test_records_are_streamed_and_a_hang_up_stops_the_upstream_stream(fake, http):
    fake.add_fault(Delay(0))
    fake.add_fault(Delay(30.0))  # the second page hangs
    app = make_app(token=TOKEN, base_url=fake.base_url)
    async with asyncio.timeout(10), serving(app) as url:
        async with http.get(url.with_path("/numbers").with_query(limit=1500)) as resp:
            got = [json.loads(await resp.content.readline()) for _ in range(1000)]
            assert got == projected(fake.inventory[:1000])  # all sent while page 2 hangs
            while len(fake.requests) < 2:  # the prefetch of page 2 is under way
                await asyncio.sleep(0.01)
            resp.close()  # hang up
        client = app[CLIENT]
        while producer_tasks() or acquired_connections(client):
            await asyncio.sleep(0.01)
        assert not client.closed  # the shared client outlives the request
        lines = await get_lines(http, url.with_path("/numbers").with_query(limit=3))
        assert lines == projected(fake.inventory[:3])


def producer_tasks():
    """carrierx_async's prefetch tasks still running."""
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and "_Feed" in getattr(t.get_coro(), "__qualname__", "")
    ]


def acquired_connections(client):
    session = client._transport.session
    return 0 if session is None or session.connector is None else len(session.connector._acquired)


async def test_clean_shutdown_with_a_stream_in_flight(fake, http):
    baseline = asyncio.all_tasks()
    fake.add_fault(Delay(0))
    fake.add_fault(Delay(30.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = make_app(token=TOKEN, base_url=fake.base_url)
        async with asyncio.timeout(10):
            async with serving(app) as url:
                resp = await http.get(url.with_path("/numbers").with_query(limit=1500))
                await resp.content.readline()
                client = app[CLIENT]
            # serving() has shut the app down while page 2 was still pending
            assert client.closed
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
            resp.release()
            await settle(baseline)
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert our_tasks(baseline) == []


async def test_shared_client_serves_concurrent_requests(fake, service, http):
    urls = [service.with_path("/numbers").with_query(state=s, limit=30) for s in ["NY", "CA"] * 4]
    results = await asyncio.gather(*(get_lines(http, u) for u in urls))
    for url, lines in zip(urls, results, strict=True):
        state = url.query["state"]
        assert lines == projected([r for r in fake.inventory if r["state"] == state][:30])


async def test_python_m_runs_the_demo_service(http):
    env = {k: v for k, v in os.environ.items() if k != "CARRIERX_TOKEN"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "carrierx_async.examples.aiohttp_service",
        "--port",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(20):
            assert proc.stdout is not None
            assert proc.stderr is not None
            first = (await proc.stdout.readline()).decode()
            assert first.startswith("Serving on http://127.0.0.1:"), first
            url = URL(first.split()[-1])
            assert url.query == {"state": "NY", "limit": "5"}
            lines = await get_lines(http, url)
            assert [r["state"] for r in lines] == ["NY"] * 5
            proc.send_signal(signal.SIGTERM)
            assert await proc.wait() == 0
            err = (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert "CARRIERX_TOKEN is not set" in err
    assert "Traceback" not in err


# -- observability ------------------------------------------------------------------------


async def test_trace_config_hooks_see_every_attempt(fake):
    starts, ends = [], []

    async def on_start(session, ctx, params):
        ctx.url = params.url
        starts.append((params.method, params.url, dict(params.headers)))

    async def on_end(session, ctx, params):
        assert ctx.url == params.url  # one context per request
        ends.append((params.url, params.response.status))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    trace.on_request_end.append(on_end)
    fake.add_fault(Status(503, retry_after="0"))
    async with Client(TOKEN, base_url=fake.base_url, trace_configs=[trace]) as client:
        stream = client.available_dids(filter="state eq NY", page_size=100, max_items=250)
        dids = [d async for d in stream]
    assert len(dids) == 250
    assert len(starts) == len(ends) == len(fake.requests) >= 4
    assert [status for _, status in ends] == [503] + [200] * (len(ends) - 1)
    for (method, url, headers), request in zip(starts, fake.requests, strict=True):
        assert method == "GET"
        assert url.path == request.path
        assert url.query == request.query
        # The hooks see the credential (do not log headers); the library adds nothing else.
        assert headers == {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}


async def test_debug_log_has_method_url_status_attempt_and_never_the_token(fake, caplog):
    fake.add_fault(Status(503, retry_after="0"))
    with caplog.at_level(logging.DEBUG, logger="carrierx_async"):
        async with Client(TOKEN, base_url=fake.base_url) as client:
            dids = [d async for d in client.available_dids(page_size=1000, max_items=1500)]
    assert len(dids) == 1500
    attempts = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(attempts) == len(fake.requests) == 3
    for record, request, (status, attempt) in zip(
        attempts, fake.requests, [(503, 1), (200, 2), (200, 1)], strict=True
    ):
        message = record.getMessage()
        assert record.name.startswith("carrierx_async")
        assert message.startswith("GET ")
        assert str(URL(fake.base_url).with_path(request.path)) in message
        assert f"{status}" in message
        assert f"attempt {attempt}" in message
    retries = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(retries) == 1
    assert "503" in retries[0].getMessage()
    assert TOKEN not in caplog.text
    assert "Bearer" not in caplog.text
    assert "Authorization" not in caplog.text


async def test_a_rejected_token_appears_in_no_log_record_or_error(fake, caplog):
    secret = "wrong-secret-token-1234"
    with caplog.at_level(logging.DEBUG, logger="carrierx_async"):
        async with Client(secret, base_url=fake.base_url) as client:
            with pytest.raises(AuthenticationError) as info:
                await anext(client.available_dids())
    assert info.value.status == 401
    assert "401" in caplog.text
    for text in (caplog.text, str(info.value), repr(info.value), repr(client)):
        assert secret not in text
