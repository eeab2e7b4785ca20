"""The token never leaves in server text: hostile servers echo it into every error field."""

import asyncio
import logging
import ssl
import traceback
from urllib.parse import quote

import aiohttp
import pytest
import trustme
from aiohttp import web

from carrierx_async import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    CarrierXError,
    Client,
    ConfigurationError,
    NotFoundError,
    ResponseDecodeError,
    ServerError,
)
from carrierx_async._errors import scrub_text

TOKEN = "not-real-token-Q7xZ"
PREFIXES = [TOKEN[:n] for n in range(4, len(TOKEN) + 1)]


def everything_about(err: BaseException) -> str:
    """Every text an error shows or keeps."""
    parts = [str(err), repr(err), "".join(traceback.format_exception(err)), repr(err.args)]
    for name in ("message", "body", "excerpt", "url", "errors"):
        parts.append(repr(getattr(err, name, "")))
    return "\n".join(parts)


def assert_clean(err: BaseException) -> None:
    text = everything_about(err)
    assert not [p for p in PREFIXES if p in text], text


def echo(request: web.Request) -> str:
    return request.headers["Authorization"]


async def fail_with(serve, handler, **options) -> CarrierXError:
    base_url = await serve(handler)
    async with Client(TOKEN, base_url=base_url, max_retries=0, **options) as c:
        with pytest.raises(CarrierXError) as info:
            await anext(aiter(c.available_dids()))
    return info.value


async def test_an_error_json_echoing_the_token_is_scrubbed(serve):
    async def handler(request):
        auth = echo(request)
        return web.json_response(
            {
                "message": f"token {auth} is not valid",
                "errors": [{"field": "Authorization", "message": auth, "nested": {auth: [auth]}}],
            },
            status=401,
        )

    err = await fail_with(serve, handler)
    assert isinstance(err, AuthenticationError)
    assert "<redacted>" in err.message and "<redacted>" in str(err.errors)
    assert_clean(err)


@pytest.mark.parametrize(("status", "kind"), [(404, NotFoundError), (500, ServerError)])
async def test_a_text_error_body_echoing_the_token_is_scrubbed(serve, status, kind):
    async def handler(request):
        return web.Response(status=status, text=f"<html>you sent {echo(request)}</html>")

    err = await fail_with(serve, handler)
    assert isinstance(err, kind)
    assert "<redacted>" in err.body
    assert_clean(err)


async def test_a_2xx_html_excerpt_echoing_the_token_is_scrubbed(serve):
    async def handler(request):
        return web.Response(text=f"<p>hello {echo(request)}</p>", content_type="text/html")

    err = await fail_with(serve, handler)
    assert isinstance(err, ResponseDecodeError) and "<redacted>" in err.excerpt
    assert_clean(err)


async def test_an_excerpt_cut_partway_through_the_token_is_scrubbed(serve):
    # The excerpt keeps the first 120 characters: put the token across that edge.
    async def handler(request):
        return web.Response(text="x" * 105 + echo(request), content_type="text/html")

    err = await fail_with(serve, handler)
    assert isinstance(err, ResponseDecodeError)
    assert err.excerpt.endswith("<redacted>")
    assert_clean(err)


@pytest.mark.parametrize("encode", [str, quote])
async def test_a_redirect_location_echoing_the_token_is_scrubbed(serve, encode):
    async def handler(request):
        location = f"https://elsewhere.example/?auth={encode(echo(request))}"
        return web.Response(status=302, headers={"Location": location})

    err = await fail_with(serve, handler)
    assert isinstance(err, APIError) and err.status == 302
    assert "redirect" in err.message and "<redacted>" in err.message
    assert_clean(err)


async def test_a_did_sid_echoing_the_token_is_scrubbed_from_a_decode_error(serve):
    async def handler(request):
        bad = {"did_sid": echo(request), "price": "not money"}
        return web.json_response({"items": [bad], "count": 1, "has_more": False})

    err = await fail_with(serve, handler)
    assert isinstance(err, ResponseDecodeError) and "did_sid" in err.message
    assert_clean(err)


async def test_transport_error_text_echoing_the_token_is_scrubbed():
    # A status line aiohttp refuses to parse: its error text quotes the line, token and all.
    async def raw(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        auth = next(
            line.split(b": ", 1)[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"authorization")
        )
        writer.write(b"HTTP/1.1 2x0 " + auth + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(raw, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with Client(TOKEN, base_url=f"http://127.0.0.1:{port}/core/v2") as c:
            with pytest.raises(APIConnectionError) as info:
                await anext(aiter(c.available_dids()))
    finally:
        server.close()
        await server.wait_closed()
    assert "Bad status line" in info.value.message and "<redacted>" in info.value.message
    assert info.value.attempts == 1  # a response aiohttp cannot parse is not retried
    assert_clean(info.value)


async def test_no_log_record_carries_the_token(serve, caplog):
    async def handler(request):
        return web.Response(status=503, text=f"busy, {echo(request)}")

    caplog.set_level(logging.DEBUG, logger="carrierx_async")
    base_url = await serve(handler)
    async with Client(TOKEN, base_url=base_url, max_retries=1) as c:
        c._transport._sleep = lambda delay: asyncio.sleep(0)
        with pytest.raises(ServerError) as info:
            await anext(aiter(c.available_dids()))
    assert info.value.attempts == 2 and caplog.records
    assert not [p for p in PREFIXES if p in caplog.text]
    assert_clean(info.value)


@pytest.mark.parametrize(
    "text",
    [
        f"a {TOKEN} b {TOKEN}",
        f"{quote(TOKEN)}",
        f"x{TOKEN[:4]}",
        TOKEN[:-1],
    ],
)
def test_scrub_text_leaves_no_part_of_the_secret(text):
    assert not [p for p in PREFIXES if p in scrub_text(text, TOKEN)]


def test_scrub_text_keeps_other_text():
    assert scrub_text("no secret here", TOKEN) == "no secret here"
    assert scrub_text("ends with not", TOKEN) == "ends with not"  # under 4 characters


# --- the token itself ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\x00", "\x7f", "\t", "\x1b", "\r\n", "é"])
def test_a_token_with_a_control_character_is_refused_without_echo(bad):
    token = f"{TOKEN}{bad}tail"
    with pytest.raises(ConfigurationError, match="position 19") as info:
        Client(token)
    assert TOKEN not in str(info.value) + repr(info.value)


# --- TLS of a borrowed session ---------------------------------------------------------------


async def test_a_borrowed_sessions_tls_settings_are_used_as_they_are():
    # README: "a session you pass in is used with its own TLS settings". With ssl=False
    # the caller switched verification off, and the client does not switch it back on.
    ca = trustme.CA()
    seen = []

    async def handler(request):
        seen.append(request.headers["Authorization"])
        return web.json_response({"items": [], "has_more": False})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    base_url = f"https://127.0.0.1:{runner.addresses[0][1]}/core/v2"
    try:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session,
            Client(TOKEN, base_url=base_url, session=session) as c,
        ):
            assert [d async for d in c.available_dids()] == []
        async with Client(TOKEN, base_url=base_url) as c:  # the client's own: verified
            with pytest.raises(APIConnectionError, match=r"(?i)certificate"):
                await anext(aiter(c.available_dids()))
    finally:
        await runner.cleanup()
    assert seen == [f"Bearer {TOKEN}"]
