"""Everything raised is a CarrierXError, and odd but valid answers are still read."""

import asyncio
import inspect
import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from conftest import records

from carrierx_async import (
    CarrierXError,
    Client,
    ConfigurationError,
    F,
    FilterError,
    NotFoundError,
    ResponseDecodeError,
)

TOKEN = "test-token-not-real"
SID = "00000000-0000-0000-0000-000000000001"
README = (Path(__file__).parent.parent / "README.md").read_text()


def counting(hits, body, *, status=200, content_type="application/json"):
    async def handler(request):
        hits.append(request.path_qs)
        return web.Response(body=body, status=status, content_type=content_type)

    return handler


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"items": [], "has_more": false}', b'{"error": "gone", "status": "gone"}', b"[]"],
)
async def test_a_2xx_that_is_not_a_did_object_is_a_decode_error(serve, body):
    base_url = await serve(counting([], body))
    async with Client(TOKEN, base_url=base_url) as c:
        with pytest.raises(ResponseDecodeError):
            await c.get_available_did(SID)


async def test_a_did_object_without_did_sid_is_fine_when_field_filtering_left_it_out(serve):
    base_url = await serve(counting([], b'{"phonenumber": "15165550123"}'))
    async with Client(TOKEN, base_url=base_url) as c:
        did = await c.get_available_did(SID, include_fields=["phonenumber"])
    assert did.phonenumber == "15165550123" and did.did_sid is None


async def test_a_list_envelope_is_a_decode_error_even_when_did_sid_was_left_out(serve):
    # Without did_sid to look for, only the envelope's shape tells it is not one DID object.
    hits = []
    body = b'{"items": [{"phonenumber": "15165550123"}], "has_more": false}'
    base_url = await serve(counting(hits, body))
    async with Client(TOKEN, base_url=base_url) as c:
        with pytest.raises(ResponseDecodeError, match="list envelope") as info:
            await c.get_available_did(SID, include_fields=["phonenumber"])
    assert info.value.status == 200 and len(hits) == 1 and "include_fields=" in hits[0]


async def test_a_json_content_type_in_any_case_is_read(serve):
    async def handler(request):
        return web.Response(
            body=b'{"items": [], "has_more": false}',
            headers={"Content-Type": "Application/JSON; Charset=UTF-8"},
        )

    base_url = await serve(handler)
    async with Client(TOKEN, base_url=base_url) as c:
        assert [d async for d in c.available_dids()] == []


@pytest.mark.parametrize("fields", [b"did_sid", 5, [b"did_sid"], [None]])
async def test_field_lists_of_the_wrong_type_are_configuration_errors(serve, fields):
    hits = []
    base_url = await serve(counting(hits, b"{}"))
    async with Client(TOKEN, base_url=base_url) as c:
        with pytest.raises(ConfigurationError, match="include_fields"):
            c.available_dids(include_fields=fields)
        with pytest.raises(ConfigurationError, match="exclude_fields"):
            await c.get_available_did(SID, exclude_fields=fields)
    assert hits == []


@pytest.mark.parametrize(
    "filter",
    [
        lambda: F.locality == "NEW YORK\\",
        lambda: 'locality eq "a\\" or state eq NY',
        lambda: F.locality.like("a\\%"),
    ],
)
async def test_a_backslash_in_a_filter_value_is_refused_before_any_request(serve, filter):
    hits = []
    base_url = await serve(counting(hits, b"{}"))
    async with Client(TOKEN, base_url=base_url) as c:
        with pytest.raises(FilterError, match="backslash"):
            c.available_dids(filter=filter())
    assert hits == []


async def test_a_session_of_another_event_loop_is_a_configuration_error(serve):
    base_url = await serve(counting([], b"{}"))

    def other_loop_session():
        async def make():
            return aiohttp.ClientSession()

        loop = asyncio.new_event_loop()
        return loop, loop.run_until_complete(make())

    loop, session = await asyncio.to_thread(other_loop_session)
    try:
        c = Client(TOKEN, base_url=base_url, session=session)
        with pytest.raises(ConfigurationError, match="another event loop"):
            await anext(aiter(c.available_dids()))
        with pytest.raises(ConfigurationError, match="another event loop"):
            await c.get_available_did(SID)
        await c.close()
    finally:
        await asyncio.to_thread(lambda: (loop.run_until_complete(session.close()), loop.close()))


def test_a_base_url_with_a_fragment_is_refused():
    with pytest.raises(ConfigurationError, match="fragment"):
        Client(TOKEN, base_url="https://api.carrierx.com/core/v2#top")


def test_the_defaults_are_what_the_readme_says():
    defaults = {k: p.default for k, p in inspect.signature(Client).parameters.items()}
    assert re.search(r"`timeout` \((\d+) s\)", README)[1] == "30" == f"{defaults['timeout']:g}"
    assert "`prefetch=1`, the default" in README and defaults["prefetch"] == 1
    assert "`max_retries=2`" in README and defaults["max_retries"] == 2


async def test_the_default_prefetch_asks_for_exactly_one_page_ahead(serve):
    hits = []
    served = {15: asyncio.Event(), 30: asyncio.Event()}  # page 2 answered; a page 3 asked

    async def handler(request):
        offset = int(request.query["offset"])
        hits.append(offset)
        if offset == 30:
            served[30].set()
        items = records(offset, offset + 20)
        response = web.json_response({"items": items, "has_more": True, "offset": offset})
        await response.prepare(request)
        await response.write_eof()
        if offset == 15:
            served[15].set()
        return response

    base_url = await serve(handler)
    async with Client(TOKEN, base_url=base_url) as c, c.available_dids(page_size=20) as s:
        await anext(s)  # page 1 handed over; the loop body is "slow" from here on
        async with asyncio.timeout(5):
            await served[15].wait()  # the next page is fetched...
        # ...and no more: a third request would follow page 2 at once. An absence needs a
        # window to look in; it synchronises nothing (the passing run does not depend on it).
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(served[30].wait(), 0.2)
        assert hits == [0, 15]
        await anext(s)  # the consumer moves on within page 1: still no new request
        assert hits == [0, 15]


@pytest.mark.parametrize(
    ("status", "content_type", "kind"),
    [
        (404, "application/json", NotFoundError),
        (200, "text/html", ResponseDecodeError),
    ],
)
async def test_one_attempt_is_not_reported_as_after_1_attempts(serve, status, content_type, kind):
    base_url = await serve(counting([], b"<p>no</p>", status=status, content_type=content_type))
    async with Client(TOKEN, base_url=base_url) as c:
        with pytest.raises(kind) as info:
            await c.get_available_did(SID)
    assert info.value.attempts == 1
    assert "attempts" not in str(info.value)
    assert isinstance(info.value, CarrierXError)
