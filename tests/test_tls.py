"""TLS verification is always on for the connector the client creates."""

import ssl

import aiohttp
import pytest
import trustme
from aiohttp import web

from carrierx_async import APIConnectionError, Client

TOKEN = "fake-token-not-a-secret"


@pytest.fixture
def ca():
    return trustme.CA()


@pytest.fixture
async def https_base_url(ca):
    seen = []

    async def handler(request):
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"items": [], "has_more": False})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"https://127.0.0.1:{port}/core/v2", seen
    finally:
        await runner.cleanup()


async def test_untrusted_certificate_is_refused_without_retry(https_base_url):
    base_url, seen = https_base_url
    async with Client(TOKEN, base_url=base_url) as client:
        with pytest.raises(APIConnectionError, match=r"(?i)certificate") as info:
            await anext(aiter(client.available_dids()))
    assert info.value.attempts == 1  # retrying cannot fix a certificate
    assert TOKEN not in str(info.value)
    assert seen == []  # the token never left the client


async def test_the_same_server_works_when_its_ca_is_trusted(https_base_url, ca):
    # The control: the failure above is verification, not a broken test server.
    base_url, seen = https_base_url
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ctx)) as session,
        Client(TOKEN, base_url=base_url, session=session) as client,
    ):
        assert [d async for d in client.available_dids()] == []
    assert seen == [f"Bearer {TOKEN}"]
