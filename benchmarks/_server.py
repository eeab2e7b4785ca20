"""A loopback aiohttp.web server in a child process, serving deterministic cached pages.

Each page body is built once per (collection size, offset, limit) and cached, so what is
timed is the client, not the server. The path picks the collection, so one server serves
every row::

    /n<TOTAL>/core/v2/phonenumber/available_dids?limit=..&offset=..
    /2010-04-01/Accounts/<SID>/AvailablePhoneNumbers/US/Local.json?PageSize=..&Page=..

Records have the 26 fields of the API reference's DID object, a unique ``did_sid`` and
``phonenumber`` from their index, and some variety (capabilities, price, city).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson
from aiohttp import web

__all__ = ["TWILIO_ACCOUNT", "carrierx_base", "page_body", "server"]

TWILIO_ACCOUNT: Final = "AC" + "0" * 32
_CITIES: Final = (
    ("NEW YORK", "NY", "516", "132"),
    ("LOS ANGELES", "CA", "213", "730"),
    ("CHICAGO", "IL", "312", "358"),
    ("HOUSTON", "TX", "713", "560"),
    ("MIAMI", "FL", "305", "460"),
)
_PRICES: Final = ("0.6", "0.75", "1.0", "0.005", "2.5")
_CAPS: Final = (7, 5, 31, 4, 23)
_NULLS: Final = "callback_url campaign_sid did_group_sid lrn_sid partner_sid porting_pin"
_NULLS2: Final = "string_key_1 string_key_2 trunk_group_sid"


def carrierx_base(port: int, total: int) -> str:
    """The ``base_url`` of a collection of ``total`` records."""
    return f"http://127.0.0.1:{port}/n{total}/core/v2"


def did_record(i: int) -> dict[str, Any]:
    """The i-th DID object, every documented field present."""
    city, state, npa, lata = _CITIES[i % 5]
    line = f"{i % 10_000_000:07d}"
    return dict.fromkeys(f"{_NULLS} {_NULLS2}".split()) | {
        "active_capabilities": 4,
        "attributes": {},
        "capabilities": _CAPS[i % 5],
        "classification_sid": "17f4d954-d635-4cda-912b-c2a2fa3a6860",
        "country_code": "USA",
        "did_sid": f"07e3dee3-2f0d-4254-b635-{i:012x}",
        "in_country_format": f"({npa}) {line[:3]}-{line[3:]}",
        "international_format": f"+1 {npa}-{line[:3]}-{line[3:]}",
        "lata": lata,
        "locality": city,
        "name": "N/A",
        "ocn": f"{(i * 7919) % 10000:04d}",
        "phonenumber": f"1{npa}{line}",
        "price": _PRICES[i % 5],
        "state": state,
        "status": "available",
        "transformations": [],
    }


@functools.lru_cache(maxsize=256)
def page_body(offset: int, limit: int, total: int) -> bytes:
    """One serialized page of the available_dids list envelope."""
    end = min(offset + limit, total)
    more = end < total
    url = f"https://api.carrierx.com/core/v2/phonenumber/available_dids?limit={limit}&offset={end}"
    return orjson.dumps(
        {
            "count": end - offset,
            "has_more": more,
            "items": [did_record(i) for i in range(offset, end)],
            "limit": limit,
            "offset": offset,
            "pagination": {"next": url} if more else {},
            "total": None,
        }
    )


@functools.lru_cache(maxsize=256)
def twilio_body(page: int, size: int) -> bytes:
    """One page of Twilio's AvailablePhoneNumbers/US/Local list (endless)."""
    uri = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT}/AvailablePhoneNumbers/US/Local.json"
    numbers = []
    for i in range(page * size, (page + 1) * size):
        city, state, npa, lata = _CITIES[i % 5]
        line = f"{i % 10_000_000:07d}"
        caps = {"voice": True, "SMS": True, "MMS": i % 2 == 0, "fax": False}
        numbers.append(
            dict(
                friendly_name=f"({npa}) {line[:3]}-{line[3:]}",
                phone_number=f"+1{npa}{line}",
                lata=lata,
                locality=city.title(),
                rate_center=city.replace(" ", "")[:10],
                latitude="40.718100",
                longitude="-74.005100",
                region=state,
                postal_code="10013",
                iso_country="US",
                address_requirements="none",
                beta=False,
                capabilities=caps,
            )
        )
    at = f"{uri}?PageSize={size}&Page="
    return orjson.dumps(
        dict(
            available_phone_numbers=numbers,
            uri=f"{at}{page}",
            first_page_uri=f"{at}0",
            next_page_uri=f"{at}{page + 1}",
            previous_page_uri=None,
            page=page,
            page_size=size,
            start=page * size,
            end=(page + 1) * size - 1,
        )
    )


async def _available_dids(request: web.Request) -> web.Response:
    query = request.rel_url.query
    body = page_body(
        int(query.get("offset", "0")),
        int(query.get("limit", "10")),
        int(request.match_info["total"]),
    )
    return web.Response(body=body, content_type="application/json")


async def _twilio_local(request: web.Request) -> web.Response:
    query = request.rel_url.query
    body = twilio_body(int(query.get("Page", "0")), int(query.get("PageSize", "50")))
    return web.Response(body=body, content_type="application/json")


async def _serve() -> None:
    """Serve until standard input closes; the first line written is the port."""
    app = web.Application()
    app.router.add_get(r"/n{total:\d+}/core/v2/phonenumber/available_dids", _available_dids)
    app.router.add_get(
        "/2010-04-01/Accounts/{account}/AvailablePhoneNumbers/US/Local.json", _twilio_local
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


@contextlib.contextmanager
def server() -> Iterator[int]:
    """The server in a child process: ``with server() as port: ...``."""
    root = Path(__file__).resolve().parent.parent
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "benchmarks._server"]
    env = dict(os.environ, PYTHONPATH=path)
    pipe = subprocess.PIPE
    with subprocess.Popen(command, stdin=pipe, stdout=pipe, text=True, cwd=root, env=env) as proc:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())  # closing its stdin on the way out ends it


if __name__ == "__main__":
    asyncio.run(_serve())
