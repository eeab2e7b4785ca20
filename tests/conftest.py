"""Shared by the hostile-server tests: a loopback aiohttp.web server written in the test.

Suite-wide, hypothesis is derandomized, so every run checks the same examples.
"""

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from hypothesis import settings

# No deadline: on a loaded 2-core machine a slow example is not a failure.
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.load_profile("deterministic")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """``await serve(handler)``: run handler for every path on 127.0.0.1; get a base_url."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, handler_cancellation=True)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/core/v2"

    yield start
    for runner in runners:
        await runner.cleanup()


def records(start: int, stop: int) -> list[dict[str, str]]:
    """Ground-truth DID records, told apart by did_sid and phonenumber."""
    return [
        {"did_sid": f"00000000-0000-0000-0000-{i:012d}", "phonenumber": f"1516{i:07d}"}
        for i in range(start, stop)
    ]
