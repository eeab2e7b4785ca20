"""The hand-written loops and the peer clients carrierx_async is measured against.

Each is an async generator of records (or pages) that opens and closes its own client:

* ``bare_pages`` / ``bare_dicts``: aiohttp GET page after page, ``orjson.loads`` each.
* ``bare_typed``: the same loop decoding each page with one ``msgspec.json.Decoder`` into
  Structs of the DID's field types (``Decimal`` price, ``IntFlag`` bitmasks): the fastest
  typed decode a hand-written loop can do, "the typed limit".
* ``pydantic_dids``: a client in the style of generated SDKs (httpx.AsyncClient, a
  pydantic v2 model with the same field types, ``model_validate_json``).
* ``twilio_numbers`` / ``bare_twilio``: twilio-python's ``stream_async`` of available
  local numbers pointed at the loopback server, and the bare loop over its payload.
"""

from __future__ import annotations

import base64
import enum
import warnings
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import orjson

from ._server import TWILIO_ACCOUNT, did_record

__all__ = [
    "bare_dicts",
    "bare_pages",
    "bare_twilio",
    "bare_typed",
    "missing",
    "pydantic_dids",
    "twilio_numbers",
]

_HEADERS = {"Authorization": "Bearer bench-token", "Accept": "application/json"}
_PATH = "/phonenumber/available_dids"


class Capability(enum.IntFlag):
    SMS_IN = 1
    SMS_OUT = 2
    VOICE = 4
    MMS_IN = 8
    MMS_OUT = 16


def _bitmask_type() -> Any:
    """IntFlag where this msgspec decodes combined flags (0.18.0 refuses 7), else int."""
    try:
        msgspec.json.decode(b"7", type=Capability)
    except msgspec.ValidationError:
        return int
    return Capability


# The DID's fields and types as carrierx_async's AvailableDid declares them.
FIELDS: dict[str, Any] = dict.fromkeys(did_record(0), str | None) | {
    "active_capabilities": _bitmask_type() | None,
    "capabilities": _bitmask_type() | None,
    "attributes": dict[str, Any] | None,
    "price": Decimal | None,
    "transformations": list[dict[str, Any]] | None,
}
Did = msgspec.defstruct("Did", [(k, t, None) for k, t in FIELDS.items()], frozen=True)


class DidPage(msgspec.Struct):
    count: int
    has_more: bool
    items: list[Did]  # type: ignore[valid-type]


async def bare_pages(base: str, *, page_size: int) -> AsyncIterator[dict[str, Any]]:
    """aiohttp + orjson, page by page."""
    async with aiohttp.ClientSession(headers=_HEADERS) as session:
        offset = 0
        while True:
            async with session.get(f"{base}{_PATH}?limit={page_size}&offset={offset}") as r:
                page = orjson.loads(await r.read())
            yield page
            if not page["has_more"]:
                return
            offset += page["count"]


async def bare_dicts(base: str, *, page_size: int) -> AsyncIterator[dict[str, Any]]:
    """aiohttp + orjson, record by record (dicts)."""
    async for page in bare_pages(base, page_size=page_size):
        for item in page["items"]:
            yield item


async def bare_typed(base: str, *, page_size: int) -> AsyncIterator[Any]:
    """aiohttp + one msgspec decoder into typed Structs: the typed limit."""
    decode = msgspec.json.Decoder(DidPage).decode
    async with aiohttp.ClientSession(headers=_HEADERS) as session:
        offset = 0
        while True:
            async with session.get(f"{base}{_PATH}?limit={page_size}&offset={offset}") as r:
                page = decode(await r.read())
            for item in page.items:
                yield item
            if not page.has_more:
                return
            offset += page.count


def missing(*modules: str) -> str | None:
    """None if every module imports, else why a peer is skipped."""
    for name in modules:
        try:
            __import__(name)
        except ImportError as exc:
            return f"not installed ({exc}); pip install '.[bench]'"
    return None


async def pydantic_dids(base: str, *, page_size: int) -> AsyncIterator[Any]:
    """A generated-SDK-style client: httpx.AsyncClient + pydantic v2 models."""
    import httpx
    import pydantic

    did = pydantic.create_model(  # type: ignore[call-overload]
        "PydanticDid",
        __config__=pydantic.ConfigDict(frozen=True, extra="ignore"),
        **{name: (kind, None) for name, kind in FIELDS.items()},
    )
    page_model = pydantic.create_model(
        "PydanticPage",
        count=int,
        has_more=bool,
        items=list[did],  # type: ignore[valid-type]
    )
    async with httpx.AsyncClient(base_url=base + "/", headers=_HEADERS) as http:
        offset = 0
        while True:
            params = {"limit": page_size, "offset": offset}
            response = await http.get(_PATH[1:], params=params)
            response.raise_for_status()
            page: Any = page_model.model_validate_json(response.content)
            for item in page.items:
                yield item
            if not page.has_more:
                return
            offset += page.count


async def twilio_numbers(port: int, *, limit: int, page_size: int) -> AsyncIterator[Any]:
    """twilio-python's own async stream of available US local numbers."""
    from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped]
    from twilio.rest import Client  # type: ignore[import-untyped]

    http = AsyncTwilioHttpClient()
    client = Client("bench-user", "bench-password", TWILIO_ACCOUNT, http_client=http)
    client.api.base_url = f"http://127.0.0.1:{port}"
    local = client.api.v2010.accounts(TWILIO_ACCOUNT).available_phone_numbers("US").local
    try:  # twilio-python uses aiohttp.BasicAuth, deprecated in aiohttp 3.14
        with warnings.catch_warnings(action="ignore", category=DeprecationWarning):
            async for number in await local.stream_async(limit=limit, page_size=page_size):
                yield number
    finally:
        await http.close()


async def bare_twilio(port: int, *, limit: int, page_size: int) -> AsyncIterator[Any]:
    """aiohttp + orjson over Twilio's payload, following ``next_page_uri``."""
    uri = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT}/AvailablePhoneNumbers/US/Local.json"
    url = f"http://127.0.0.1:{port}{uri}?PageSize={page_size}&Page=0"
    auth = "Basic " + base64.b64encode(b"bench-user:bench-password").decode()
    async with aiohttp.ClientSession(headers={"Authorization": auth}) as session:
        left = limit
        while left > 0:
            async with session.get(url) as resp:
                page = orjson.loads(await resp.read())
            for item in page["available_phone_numbers"][:left]:
                yield item
            left -= len(page["available_phone_numbers"])
            url = f"http://127.0.0.1:{port}{page['next_page_uri']}"
