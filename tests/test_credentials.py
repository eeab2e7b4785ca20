"""The token never leaves in server text: hostile servers echo it into every error field."""

import asyncio
import json
import logging
import ssl
import traceback
from functools import partial
from urllib.parse import quote, quote_plus

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
from carrierx_async.cli.verbose import verbose

TOKEN = "not-real-token-Q7xZ"
PREFIXES = [TOKEN[:n] for n in range(4, len(TOKEN) + 1)]
#: Base64-style, so URL- and JSON-escaping change it; and one with JSON's own escapes.
ESCAPED = "fake+tok/en=Q7xZ"
QUOTED = 'fake"tok\\en=Q7xZ'


def forms(token: str) -> set[str]:
    """The token raw and in every escaped form a URL or JSON encoder gives it."""
    escaped = json.dumps(token)[1:-1]
    return {
        token,
        quote(token),  # keeps "/", as yarl does in a query
        quote(token, safe=""),
        quote_plus(token),
        escaped,
        escaped.replace("/", "\\/"),  # PHP's json_encode escapes "/"
        *(token[:n] for n in range(4, len(token))),
    }


def assert_no_form(text: str, token: str) -> None:
    leaked = [f for f in forms(token) if f in text]
    assert not leaked, (leaked, text)


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


async def fail_with(serve, handler, token=TOKEN, **options) -> CarrierXError:
    base_url = await serve(handler)
    async with Client(token, base_url=base_url, max_retries=0, **options) as c:
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


@pytest.mark.parametrize(
    "encode", [str, quote, partial(quote, safe=""), quote_plus], ids=["raw", "quote", "all", "plus"]
)
async def test_a_redirect_location_echoing_an_escaped_token_is_scrubbed(serve, encode):
    async def handler(request):
        location = f"https://elsewhere.example/?auth={encode(echo(request))}&next=1"
        return web.Response(status=302, headers={"Location": location})

    err = await fail_with(serve, handler, token=ESCAPED)
    assert isinstance(err, APIError) and err.status == 302
    assert "<redacted>" in err.message and "&next=1" in err.message
    assert_no_form(everything_about(err), ESCAPED)


@pytest.mark.parametrize("token", [ESCAPED, QUOTED])
@pytest.mark.parametrize("slashes", [False, True], ids=["json", "php"])
async def test_a_json_body_echoing_an_escaped_token_is_scrubbed(serve, token, slashes):
    # The body an error keeps is the server's JSON text, where the token is JSON-escaped.
    async def handler(request):
        text = json.dumps({"message": "bad token", "echo": echo(request), "n": 1})
        if slashes:
            text = text.replace("/", "\\/")
        return web.Response(status=401, text=text, content_type="application/json")

    err = await fail_with(serve, handler, token=token)
    assert isinstance(err, AuthenticationError) and err.message == "bad token"
    assert "<redacted>" in err.body and '"n": 1' in err.body
    assert_no_form(everything_about(err), token)


async def test_a_text_body_echoing_the_url_quoted_token_is_scrubbed(serve):
    async def handler(request):
        token = echo(request).removeprefix("Bearer ")
        return web.Response(status=500, text=f"a={quote(token)} b={quote_plus(token)} end")

    err = await fail_with(serve, handler, token=ESCAPED)
    assert isinstance(err, ServerError)
    assert err.body == "a=<redacted> b=<redacted> end"
    assert_no_form(everything_about(err), ESCAPED)


async def test_a_did_sid_echoing_the_token_is_scrubbed_from_a_decode_error(serve):
    async def handler(request):
        bad = {"did_sid": echo(request), "price": "not money"}
        return web.json_response({"items": [bad], "count": 1, "has_more": False})

    err = await fail_with(serve, handler)
    assert isinstance(err, ResponseDecodeError) and "did_sid" in err.message
    assert_clean(err)


async def test_transport_error_text_echoing_the_token_is_scrubbed(caplog):
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

    caplog.set_level(logging.DEBUG, logger="carrierx_async")
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
    failed = [r.getMessage() for r in caplog.records if "attempt 1 failed" in r.getMessage()]
    assert len(failed) == 1 and "Bad status line" in failed[0] and "<redacted>" in failed[0]
    assert not [p for p in PREFIXES if p in caplog.text]


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


def keyset_server_echoing_the_token_as_a_phonenumber():
    """Keyset mode: page 1 ends with the token as its phonenumber; the next page is a 503.

    The client writes that phonenumber into the next request's filter, so the URL of every
    later request (and of its log lines) carries the token.
    """
    seen = []

    async def handler(request):
        seen.append(request.query.get("filter", ""))
        if len(seen) > 1:
            return web.Response(status=503, text="busy")
        token = echo(request).removeprefix("Bearer ")
        items = [
            {"did_sid": "00000000-0000-0000-0000-000000000001", "phonenumber": "15160000001"},
            {"did_sid": "00000000-0000-0000-0000-000000000002", "phonenumber": token},
        ]
        return web.json_response({"items": items, "has_more": True, "offset": 0})

    return handler, seen


async def walk_keyset(base_url, **options):
    async with Client(ESCAPED, base_url=base_url, max_retries=1, **options) as c:
        c._transport._sleep = lambda delay: asyncio.sleep(0)
        with pytest.raises(ServerError) as info:
            async for _ in c.available_dids(pagination="keyset", page_size=2):
                pass
    return info.value


async def test_no_log_record_carries_a_token_the_server_put_in_the_url(serve, caplog):
    handler, seen = keyset_server_echoing_the_token_as_a_phonenumber()
    caplog.set_level(logging.DEBUG, logger="carrierx_async")
    err = await walk_keyset(await serve(handler))
    assert len(seen) == 3 and ESCAPED in seen[1]  # the token really went into the URL
    assert err.attempts == 2 and "<redacted>" in err.url
    assert_no_form(everything_about(err), ESCAPED)
    later = [
        r for r in caplog.records if r.getMessage().startswith("GET") and "gt" in r.getMessage()
    ]
    assert len(later) >= 3  # the 503 twice at DEBUG, the retry at INFO
    for record in caplog.records:
        assert_no_form(record.getMessage(), ESCAPED)
        assert_no_form(repr(record.args), ESCAPED)
    assert all("<redacted>" in r.getMessage() for r in later)


async def test_verbose_stderr_never_shows_a_token_the_server_put_in_the_url(serve, capsys):
    handler, seen = keyset_server_echoing_the_token_as_a_phonenumber()
    base_url = await serve(handler)
    with verbose(True) as traces:
        await walk_keyset(base_url, trace_configs=traces)
        # Any record of the library's logger, not only the transport's, is scrubbed too.
        logging.getLogger("carrierx_async").warning("server said %s", quote(ESCAPED))
    err = capsys.readouterr().err
    assert "carrierx-dids: server said <redacted>" in err.splitlines()
    assert len(seen) == 3 and ESCAPED in seen[2]
    sent = [line for line in err.splitlines() if line.endswith(" ...")]
    assert len(sent) == 3 and "<redacted>" in sent[1] and "<redacted>" in sent[2]
    assert_no_form(err, ESCAPED)


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


# -- tokens too short to scrub ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "length"), [("t", 1), ("200", 3), ("http", 4), ("1234567", 7), (" 1234567 ", 7)]
)
def test_a_token_under_eight_characters_is_refused_without_being_echoed(token, length):
    with pytest.raises(ConfigurationError) as info:
        Client(token)
    assert str(info.value) == (
        f"the token has {length} characters; a CarrierX token has at least 8 (they are UUIDs)"
    )


def test_an_eight_character_token_is_accepted():
    assert not Client("12345678", base_url="http://127.0.0.1:9/core/v2").closed


@pytest.mark.parametrize("text", ["", "plain words", "<redacted> and % and \\u0041 and +"])
def test_scrubbing_with_no_secret_changes_nothing(text):
    assert scrub_text(text, "") == text


async def test_a_number_in_a_log_record_that_spells_the_token_is_scrubbed(caplog):
    # Status codes and attempt numbers are formatted into the message like any text.
    caplog.set_level(logging.DEBUG, logger="carrierx_async")
    c = Client("20000000", base_url="http://127.0.0.1:9/core/v2")
    c._transport._log(logging.DEBUG, "-> %d (attempt %d, %.1fs)", 20000000, 3, 20000000.0)
    [record] = caplog.records
    assert record.getMessage() == "-> <redacted> (attempt 3, <redacted>.0s)"
    assert "20000000" not in repr(record.args)
