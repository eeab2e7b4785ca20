"""A loopback aiohttp.web server, in its own process, that serves pre-serialized pages.

Each page body is built once per (dataset, offset, limit) and cached, so what is timed
is the client, not the server. The dataset is chosen by the path, so one server serves
every benchmark::

    /n<TOTAL>/d<DELAY_MS>/core/v2/phonenumber/available_dids?limit=..&offset=..
    /2010-04-01/Accounts/<SID>/AvailablePhoneNumbers/US/Local.json?PageSize=..&Page=..

``n`` is the number of records in the collection and ``d`` a latency added to each
response (reference 5.1 query arguments; the Twilio path is its public list endpoint).
"""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

from aiohttp import web

from ._payload import page_body, twilio_page_body

__all__ = ["TWILIO_RECORDS", "Server", "carrierx_base"]

#: Records behind the fake Twilio endpoint (its client stops at its own ``limit``).
TWILIO_RECORDS: Final = 1_000_000
_JSON: Final = "application/json"


def carrierx_base(port: int, total: int, delay_ms: int = 0) -> str:
    """The ``base_url`` of a dataset of ``total`` records with ``delay_ms`` latency."""
    return f"http://127.0.0.1:{port}/n{total}/d{delay_ms}/core/v2"


@functools.lru_cache(maxsize=512)
def _carrierx_page(total: int, offset: int, limit: int) -> bytes:
    return page_body(offset, limit, total)


@functools.lru_cache(maxsize=512)
def _twilio_page(page: int, size: int, account: str) -> bytes:
    return twilio_page_body(page, size, TWILIO_RECORDS, account)


async def _available_dids(request: web.Request) -> web.Response:
    total = int(request.match_info["total"])
    delay = int(request.match_info["delay"])
    query = request.rel_url.query
    limit = int(query.get("limit", "10"))
    offset = int(query.get("offset", "0"))
    body = _carrierx_page(total, offset, limit)
    if delay:
        await asyncio.sleep(delay / 1000)
    return web.Response(body=body, content_type=_JSON)


async def _twilio_local(request: web.Request) -> web.Response:
    query = request.rel_url.query
    size = int(query.get("PageSize", "50"))
    page = int(query.get("Page", "0"))
    body = _twilio_page(page, size, request.match_info["account"])
    return web.Response(body=body, content_type=_JSON)


def _make_app() -> web.Application:
    app = web.Application()
    app.router.add_get(
        r"/n{total:\d+}/d{delay:\d+}/core/v2/phonenumber/available_dids", _available_dids
    )
    app.router.add_get(
        "/2010-04-01/Accounts/{account}/AvailablePhoneNumbers/US/Local.json", _twilio_local
    )
    return app


async def _serve() -> None:
    """Serve until standard input closes; the first line written is the port."""
    runner = web.AppRunner(_make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


class Server:
    """The benchmark server in a child process: ``with Server() as port: ...``."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs (row 7 pins it to its own CPU)."""
        return None if self._proc is None else self._proc.pid

    def __enter__(self) -> int:
        root = Path(__file__).resolve().parent.parent
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
        )
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
            env=env,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.strip().isdigit():
            self.__exit__()
            raise RuntimeError("the benchmark server did not start")
        return int(line)

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    asyncio.run(_serve())
