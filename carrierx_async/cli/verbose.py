"""What ``-v/--verbose`` shows on stderr: each request as it is sent, each response, retry
and wait, from the library's ``carrierx_async`` logger and an aiohttp trace hook.

Neither shows headers, and every line goes through the library's token scrubber
(``scrub_text``, the one errors use) before it is printed: a URL can carry server text (in
keyset mode the next page's filter holds the last phonenumber the server sent), so a
server that echoes the token cannot get it onto stderr. The trace hook learns the token
from the request's ``Authorization`` header it sees, and never prints that header.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from types import SimpleNamespace

import aiohttp

from .._errors import scrub_text
from .arguments import PROG

__all__ = ["verbose"]


class _Scrubber:
    """The tokens of the requests seen so far, and the text to print without them."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def learn(self, headers: Mapping[str, str]) -> None:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            self._secrets.add(token)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = scrub_text(text, secret)
        return text


class _StderrHandler(logging.Handler):
    def __init__(self, scrub: _Scrubber) -> None:
        super().__init__()
        self._scrub = scrub

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"{PROG}: {self._scrub(record.getMessage())}", file=sys.stderr, flush=True)
        except Exception:  # logging must never break the command
            self.handleError(record)


def _trace(scrub: _Scrubber) -> aiohttp.TraceConfig:
    """A trace config that prints each request's method and URL as it is sent."""

    async def on_request_start(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        scrub.learn(params.headers)
        print(f"{PROG}: {scrub(f'{params.method} {params.url}')} ...", file=sys.stderr, flush=True)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    return trace


@contextlib.contextmanager
def verbose(enabled: bool) -> Iterator[list[aiohttp.TraceConfig]]:
    """While open, log requests to stderr if ``enabled``; yields the Client's trace_configs."""
    if not enabled:
        yield []
        return
    scrub = _Scrubber()
    logger = logging.getLogger("carrierx_async")
    handler, level = _StderrHandler(scrub), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield [_trace(scrub)]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
