"""The ways out when the client knows less than the server: Filter.raw and extra_params.

A hostile aiohttp.web app written here serves a known list of records over offset pages,
fails one request with a 503 and hands out a ``pagination.next`` that drops every argument.
Every request must still carry the raw filter exactly as written and every extra argument,
and the records must arrive once each, none lost.
"""

from __future__ import annotations

import pytest
from aiohttp import web

from carrierx_async import Client, ConfigurationError, F, Filter

TOKEN = "test-token-not-real"
TRUTH = [
    {"did_sid": f"00000000-0000-4000-8000-{i:012d}", "phonenumber": f"1516555{i:04d}"}
    for i in range(57)
]
# Characters a query string must carry: %, +, &, =, #, quotes, non-ASCII, a tab-free run of spaces.
RAW = "phonenumber ilike \"1516%\" and attributes.x+y eq 'a&b=c#d'  and name eq München"
EXTRA = {"with_related": True, "x-custom": "a b&c=d+e", "level": 5, "empty": ""}
EXTRA_WIRE = {"with_related": "true", "x-custom": "a b&c=d+e", "level": "5", "empty": ""}


class Server:
    def __init__(self, port: int, seen: list[dict[str, str]]) -> None:
        self.base_url = f"http://127.0.0.1:{port}/core/v2"
        self.seen = seen


@pytest.fixture
async def server():
    seen: list[dict[str, str]] = []
    state = {"failed": False}

    async def listing(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        if offset and not state["failed"]:  # the second page fails once
            state["failed"] = True
            return web.json_response({"message": "busy"}, status=503)
        items = TRUTH[offset : offset + limit]
        more = offset + limit < len(TRUTH)
        # A next link that keeps nothing of the query: the client must not follow it.
        page = {
            "count": len(items),
            "has_more": more,
            "items": items,
            "limit": limit,
            "offset": offset,
            "pagination": {"next": str(request.url.with_query(offset=offset + limit))}
            if more
            else {},
            "total": None,
        }
        return web.json_response(page)

    async def one(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        return web.json_response(TRUTH[3])

    app = web.Application()
    app.router.add_get("/core/v2/phonenumber/available_dids", listing)
    app.router.add_get("/core/v2/phonenumber/available_dids/{sid}", one)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield Server(runner.addresses[0][1], seen)
    finally:
        await runner.cleanup()


def client_for(server: Server) -> Client:
    return Client(TOKEN, base_url=server.base_url, max_retries=2)


async def test_raw_filter_and_extra_params_travel_on_every_request(server):
    async with client_for(server) as client:
        stream = client.available_dids(filter=Filter.raw(RAW), page_size=10, extra_params=EXTRA)
        got = [d.did_sid async for d in stream]
    assert got == [d["did_sid"] for d in TRUTH]  # none lost, none duplicated
    assert len(server.seen) >= 7  # 6 pages + the failed attempt, plus overlap re-reads
    for query in server.seen:
        assert query["filter"] == RAW
        assert {k: query[k] for k in EXTRA_WIRE} == EXTRA_WIRE
        assert set(query) == {"filter", "limit", "offset", *EXTRA_WIRE}


async def test_raw_text_joins_typed_conditions_with_and(server):
    async with client_for(server) as client:
        flt = (F.state == "NY") & Filter.raw(RAW)
        got = [d async for d in client.available_dids(filter=flt, max_items=3)]
    assert len(got) == 3
    assert server.seen[0]["filter"] == f"state eq NY and {RAW}"


async def test_get_available_did_sends_extra_params(server):
    async with client_for(server) as client:
        did = await client.get_available_did(
            TRUTH[3]["did_sid"], include_fields=["phonenumber"], extra_params=EXTRA
        )
    assert did.phonenumber == TRUTH[3]["phonenumber"]
    assert server.seen == [{"include_fields": "phonenumber", **EXTRA_WIRE}]


OWNED = [
    "limit",
    "offset",
    "filter",
    "order",
    "include_fields",
    "exclude_fields",
    "include_external",
    "LIMIT",
    "includeFields",
    "include-external",
]


@pytest.mark.parametrize("key", OWNED)
async def test_keys_the_client_owns_are_refused_before_any_request(server, key):
    async with client_for(server) as client:
        with pytest.raises(
            ConfigurationError, match=rf"extra_params cannot set '{key}'.*=\s*argument"
        ):
            client.available_dids(extra_params={key: "1"})
        with pytest.raises(ConfigurationError, match=rf"cannot set '{key}'"):
            await client.get_available_did(TRUTH[0]["did_sid"], extra_params={key: "1"})
    assert server.seen == []


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"x": 1.5}, r"extra_params\['x'\] must be a str, int or bool, got float"),
        ({"x": None}, r"got NoneType"),
        ({"": "1"}, r"keys must be non-empty strings"),
        ({3: "1"}, r"keys must be non-empty strings, got 3"),
        ({"x": "a\nb"}, r"control character '\\n'"),
        ({"a\rb": "1"}, r"control character"),
        ({"x": "a\u2028b"}, r"control character '\\u2028'"),
        ([("x", "1")], r"must be a mapping, got list"),
    ],
)
async def test_bad_extra_params_are_refused_before_any_request(server, extra, match):
    async with client_for(server) as client:
        with pytest.raises(ConfigurationError, match=match):
            client.available_dids(extra_params=extra)
    assert server.seen == []


async def test_stream_repr_shows_the_query(server):
    async with client_for(server) as client:
        stream = client.available_dids(
            filter=(F.state == "NY") | Filter.raw("x eq 1"),
            order="price asc",
            extra_params={"a": 1},
        )
        text = repr(stream)
        assert text == (
            "<AvailableDidStream filter='(state eq NY) | (x eq 1)' order='price asc' "
            "extra_params={'a': '1'} (not started)>"
        )
        assert repr(stream.pages()).startswith("<PageIterator filter='(state eq NY) | (x eq 1)'")
        async with client.available_dids(max_items=2) as started:
            await anext(started)
            assert repr(started) == "<AvailableDidStream max_items=2 (started)>"
    assert TOKEN not in text
