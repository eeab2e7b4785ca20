"""What ``-v/--verbose`` shows on stderr: each request as it is sent, each response, retry
and wait, from the library's ``carrierx_async`` logger and an aiohttp trace hook.

Neither shows headers, so the token never appears: the trace hook prints only the method
and URL (the client builds URLs from the base URL and query; credentials are refused in
a base URL), and the library's log records never carry credentials.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import aiohttp

from .arguments import PROG

__all__ = ["verbose"]


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"{PROG}: {record.getMessage()}", file=sys.stderr, flush=True)
        except Exception:  # logging must never break the command
            self.handleError(record)


async def _on_request_start(
    session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams
) -> None:
    print(f"{PROG}: {params.method} {params.url} ...", file=sys.stderr, flush=True)


@contextlib.contextmanager
def verbose(enabled: bool) -> Iterator[list[aiohttp.TraceConfig]]:
    """While open, log requests to stderr if ``enabled``; yields the Client's trace_configs."""
    if not enabled:
        yield []
        return
    logger = logging.getLogger("carrierx_async")
    handler, level = _StderrHandler(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(_on_request_start)
    try:
        yield [trace]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
