"""An ``aiohttp.web`` service that shares one carrierx_async Client across requests.

``GET /numbers?state=NY&limit=50`` streams matching numbers as JSON lines
(``application/x-ndjson``): each record is written as its page arrives, nothing is
buffered. An optional ``filter=`` takes CarrierX filter text (``price le 1.00``) and is
ANDed with ``state``.

``GET /numbers/page?state=NY&limit=50[&cursor=...]`` answers one page as JSON,
``{"items": [...], "next": "<cursor>"}`` in phonenumber order (a keyset walk); pass ``next``
back as ``cursor`` for the page after it (``next`` is null on the last page). A cursor that
is damaged or belongs to other arguments answers 400.

- One Client per app, opened and closed by a cleanup context, shared by all requests.
- Bad arguments (``ConfigurationError``), filters the library refuses (``FilterError``)
  and bad cursors answer 400 ``{"error": ...}`` before any request to CarrierX.
- CarrierX failures before the first record: a missed deadline answers 504, rate limiting
  503 with ``Retry-After``, a closing client 503, anything else 502; the details go to
  this module's logger, not to the caller. Once records have been sent the status is
  gone, so a later failure ends the body with one ``{"error": ..., "status": ...}`` line.
- Serve it with ``handler_cancellation=True`` (as `main` does): a caller that hangs up
  then stops the upstream stream at once. On shutdown, streams in flight get
  ``shutdown_timeout`` seconds to finish, are then cancelled, and the Client closes last.

Run: ``python -m carrierx_async.examples.aiohttp_service [--host H] [--port P]``. Without
``CARRIERX_TOKEN`` it serves the demo numbers of the embedded fake CarrierX server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final

from aiohttp import web
from multidict import MultiMapping
from yarl import URL

from carrierx_async import (
    APITimeoutError,
    CarrierXError,
    Client,
    ClientClosedError,
    F,
    Filter,
    RateLimitError,
    parse_filter,
)

__all__ = [
    "CLIENT",
    "DEFAULT_LIMIT",
    "FIELDS",
    "MAX_LIMIT",
    "main",
    "make_app",
    "numbers",
    "numbers_page",
]

#: Where the app keeps its one shared Client.
CLIENT: Final = web.AppKey("carrierx_client", Client)
#: ``limit`` when the caller gives none, and the largest accepted.
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 10_000
#: The record fields the service asks CarrierX for and returns.
FIELDS: Final = ("did_sid", "phonenumber", "locality", "state", "price", "capabilities")

_ARGS: Final = frozenset({"state", "limit", "filter"})
_PAGE_ARGS: Final = _ARGS | {"cursor"}
_STATE: Final = re.compile(r"[A-Za-z]{2}")
_LIMIT: Final = re.compile(r"[0-9]{1,6}")
logger = logging.getLogger(__name__)


def make_app(
    *, token: str | None = None, base_url: str | URL | None = None, **client_options: Any
) -> web.Application:
    """The service; ``token`` and ``base_url`` default as Client's do (CARRIERX_TOKEN;
    CARRIERX_BASE_URL, else the production API), ``client_options`` go to Client."""

    async def client_context(app: web.Application) -> AsyncIterator[None]:
        async with Client(token, base_url=base_url, **client_options) as client:
            app[CLIENT] = client
            yield

    app = web.Application()
    app.cleanup_ctx.append(client_context)
    app.router.add_get("/numbers", numbers)
    app.router.add_get("/numbers/page", numbers_page)
    return app


async def numbers(request: web.Request) -> web.StreamResponse:
    """``GET /numbers?state=NY&limit=50[&filter=...]``: matching numbers as JSON lines."""
    try:
        flt, limit = _parse_args(request.query)
        stream = request.app[CLIENT].available_dids(
            filter=flt, max_items=limit, include_fields=FIELDS
        )
    except ValueError as exc:  # ConfigurationError and FilterError are ValueErrors
        return _json_error(400, str(exc))
    except CarrierXError as exc:
        return _upstream_error(exc)
    async with stream.dicts() as records:
        try:  # the first record decides the status
            record = await anext(records, None)
        except CarrierXError as exc:
            return _upstream_error(exc)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        try:
            await response.prepare(request)
            try:
                while record is not None:
                    await response.write(_line(record))
                    record = await anext(records, None)
            except CarrierXError as exc:
                status, message, _ = _describe(exc)
                await response.write(_line({"error": message, "status": status}))
            await response.write_eof()
        except ConnectionResetError:  # the caller hung up: leaving the block stops the stream
            logger.debug("caller of %s went away", request.path_qs)
    return response


async def numbers_page(request: web.Request) -> web.Response:
    """``GET /numbers/page?state=NY&limit=50[&filter=...][&cursor=...]``: one page, JSON."""
    try:
        flt, limit = _parse_args(request.query, _PAGE_ARGS)
        stream = request.app[CLIENT].available_dids(
            filter=flt,
            max_items=limit + 1,  # one more tells whether there is a next page
            include_fields=FIELDS,
            pagination="keyset",
            after=request.query.get("cursor") or None,  # a bad one: ConfigurationError, 400
        )
    except ValueError as exc:
        return _json_error(400, str(exc))
    except CarrierXError as exc:
        return _upstream_error(exc)
    items: list[dict[str, Any]] = []
    last = more = None
    try:
        async with stream.dicts() as records:
            async for record in records:
                if len(items) == limit:  # one more than the page: there is a next page
                    more = last
                    break
                items.append(record)
                last = records.cursor if len(items) == limit else None
    except CarrierXError as exc:
        return _upstream_error(exc)
    return web.json_response({"items": items, "next": more})


def _parse_args(
    query: MultiMapping[str], known: frozenset[str] = _ARGS
) -> tuple[Filter | None, int]:
    """Validate the query arguments; ValueError says what is wrong."""
    if unknown := sorted(set(query) - known):
        raise ValueError(f"unknown query argument {unknown[0]!r}; use {', '.join(sorted(known))}")
    for name in known:
        if len(query.getall(name, [])) > 1:
            raise ValueError(f"give {name} at most once")
    parts: list[Filter] = []
    if (state := query.get("state")) is not None:
        if not _STATE.fullmatch(state):
            raise ValueError(f"state must be a two-letter code like NY, got {state!r}")
        parts.append(F.state == state.upper())
    if text := query.get("filter", "").strip():
        parts.append(parse_filter(text))  # FilterError: a 400 as well
    limit_text = query.get("limit", str(DEFAULT_LIMIT))
    limit = int(limit_text) if _LIMIT.fullmatch(limit_text) else 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit_text!r}")
    flt = None
    for part in parts:
        flt = part if flt is None else flt & part
    return flt, limit


def _describe(exc: CarrierXError) -> tuple[int, str, dict[str, str]]:
    """Our status, a message for the caller, and headers for a CarrierX failure."""
    logger.warning("CarrierX request failed: %s", exc)
    if isinstance(exc, ClientClosedError):
        return 503, "the service is shutting down", {}
    if isinstance(exc, APITimeoutError):
        return 504, "CarrierX did not answer in time", {}
    if isinstance(exc, RateLimitError):
        wait = exc.retry_after
        headers = {} if wait is None else {"Retry-After": str(max(1, math.ceil(wait)))}
        return 503, "CarrierX is rate limiting this service; try again later", headers
    return 502, f"CarrierX request failed ({type(exc).__name__})", {}


def _upstream_error(exc: CarrierXError) -> web.Response:
    status, message, headers = _describe(exc)
    return _json_error(status, message, headers)


def _json_error(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _line(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


async def _serve(host: str, port: int, token: str | None) -> None:
    """Serve until SIGINT/SIGTERM; with no token, against an embedded FakeCarrierX."""
    async with contextlib.AsyncExitStack() as stack:
        if token:
            app = make_app(token=token)
        else:
            from carrierx_async.testing import FakeCarrierX

            fake = await stack.enter_async_context(FakeCarrierX())
            print(
                "CARRIERX_TOKEN is not set: serving demo numbers from the embedded fake "
                "CarrierX server, not real inventory",
                file=sys.stderr,
                flush=True,
            )
            app = make_app(token=fake.token, base_url=fake.base_url)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=5.0)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        url = URL.build(scheme="http", host=bound_host, port=bound_port, path="/numbers")
        print(f"Serving on {url.with_query(state='NY', limit=5)}", flush=True)
        stop = asyncio.Event()
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: ``python -m carrierx_async.examples.aiohttp_service``."""
    parser = argparse.ArgumentParser(
        prog="python -m carrierx_async.examples.aiohttp_service",
        description="Serve GET /numbers?state=NY&limit=50 as JSON lines from CarrierX.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    args = parser.parse_args(argv)
    token = os.environ.get("CARRIERX_TOKEN", "").strip() or None
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args.host, args.port, token))
    except OSError as exc:  # the port is taken, or the address is not ours
        parser.exit(1, f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: {exc}\n")


if __name__ == "__main__":
    main()
