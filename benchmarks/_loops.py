"""The hand-written loops and the peer clients carrierx_async is measured against.

* ``bare_pages`` / ``bare_dicts``: aiohttp GET page after page, ``orjson.loads`` each.
* ``bare_typed``: the same loop decoding each page with one ``msgspec.json.Decoder`` into
  msgspec Structs of the DID's field types (``Decimal`` price, ``IntFlag`` bitmasks): the
  fastest typed decode a hand-written loop can do, "the typed limit".
* ``PydanticClient``: a client in the style of generated SDKs (httpx.AsyncClient, a
  pydantic v2 model of the DID with the same field types, ``model_validate_json``).
* ``twilio_stream`` / ``bare_twilio``: twilio-python's ``stream_async`` of available
  local numbers pointed at the loopback server, and the bare loop over its payload.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import orjson

from ._server import TWILIO_ACCOUNT, did_record

__all__ = [
    "PydanticClient",
    "bare_dicts",
    "bare_pages",
    "bare_twilio",
    "bare_typed",
    "missing",
    "twilio_client",
    "twilio_stream",
]

_HEADERS = {"Authorization": "Bearer bench-token", "Accept": "application/json"}


class Capability(enum.IntFlag):
    SMS_IN = 1
    SMS_OUT = 2
    VOICE = 4
    MMS_IN = 8
    MMS_OUT = 16


# The DID's fields and types as carrierx_async's AvailableDid declares them.
FIELDS: dict[str, Any] = dict.fromkeys(did_record(0), str | None) | {
    "active_capabilities": Capability | None,
    "capabilities": Capability | None,
    "attributes": dict[str, Any] | None,
    "price": Decimal | None,
    "transformations": list[dict[str, Any]] | None,
}
Did = msgspec.defstruct("Did", [(k, t, None) for k, t in FIELDS.items()], frozen=True)


class DidPage(msgspec.Struct):
    count: int
    has_more: bool
    items: list[Did]  # type: ignore[valid-type]
    limit: int | None = None
    offset: int | None = None
    pagination: dict[str, str] = {}
    total: int | None = None


async def bare_pages(
    session: aiohttp.ClientSession, base: str, *, page_size: int
) -> AsyncIterator[dict[str, Any]]:
    """aiohttp + orjson, page by page."""
    url = f"{base}/phonenumber/available_dids"
    offset = 0
    while True:
        async with session.get(f"{url}?limit={page_size}&offset={offset}", headers=_HEADERS) as r:
            page = orjson.loads(await r.read())
        yield page
        if not page["has_more"]:
            return
        offset += page["count"]


async def bare_dicts(
    session: aiohttp.ClientSession, base: str, *, page_size: int
) -> AsyncIterator[dict[str, Any]]:
    """aiohttp + orjson, record by record (dicts)."""
    async for page in bare_pages(session, base, page_size=page_size):
        for item in page["items"]:
            yield item


async def bare_typed(
    session: aiohttp.ClientSession, base: str, *, page_size: int
) -> AsyncIterator[Any]:
    """aiohttp + one msgspec decoder into typed Structs: the typed limit."""
    decode = msgspec.json.Decoder(DidPage).decode
    url = f"{base}/phonenumber/available_dids"
    offset = 0
    while True:
        async with session.get(f"{url}?limit={page_size}&offset={offset}", headers=_HEADERS) as r:
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
            return f"not installed ({exc}; pip install '.[bench]')"
    return None


class PydanticClient:
    """A generated-SDK-style client: httpx.AsyncClient + pydantic v2 models."""

    def __init__(self, base_url: str) -> None:
        import httpx
        import pydantic

        PydanticDid = pydantic.create_model(  # type: ignore[call-overload]
            "PydanticDid",
            __config__=pydantic.ConfigDict(frozen=True, extra="ignore"),
            **{name: (kind, None) for name, kind in FIELDS.items()},
        )

        class PydanticPage(pydantic.BaseModel):
            count: int
            has_more: bool
            items: list[PydanticDid]  # type: ignore[valid-type]
            limit: int | None = None
            offset: int | None = None
            pagination: dict[str, str] = {}
            total: int | None = None

        self._page = PydanticPage
        self._http = httpx.AsyncClient(base_url=base_url + "/", headers=_HEADERS)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def available_dids(self, *, page_size: int) -> AsyncIterator[Any]:
        offset = 0
        while True:
            response = await self._http.get(
                "phonenumber/available_dids", params={"limit": page_size, "offset": offset}
            )
            response.raise_for_status()
            page = self._page.model_validate_json(response.content)
            for item in page.items:
                yield item
            if not page.has_more:
                return
            offset += page.count


def twilio_client(port: int) -> Any:
    """A twilio-python async client whose API domain is the loopback server."""
    from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped]
    from twilio.rest import Client as TwilioClient  # type: ignore[import-untyped]

    client = TwilioClient(
        "bench-user",
        "bench-password",
        account_sid=TWILIO_ACCOUNT,
        http_client=AsyncTwilioHttpClient(),
    )
    client.api.base_url = f"http://127.0.0.1:{port}"
    return client


async def twilio_stream(client: Any, *, limit: int, page_size: int) -> AsyncIterator[Any]:
    """twilio-python's own async stream of available US local numbers."""
    local = client.api.v2010.accounts(TWILIO_ACCOUNT).available_phone_numbers("US").local
    async for number in await local.stream_async(limit=limit, page_size=page_size):
        yield number


async def bare_twilio(
    session: aiohttp.ClientSession, port: int, *, limit: int, page_size: int
) -> AsyncIterator[dict[str, Any]]:
    """aiohttp + orjson over Twilio's payload, following ``next_page_uri``."""
    uri = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT}/AvailablePhoneNumbers/US/Local.json"
    url = f"http://127.0.0.1:{port}{uri}?PageSize={page_size}&Page=0"
    auth = {"Authorization": "Basic " + base64.b64encode(b"bench-user:bench-password").decode()}
    left = limit
    while left > 0:
        async with session.get(url, headers=auth) as resp:
            page = orjson.loads(await resp.read())
        for item in page["available_phone_numbers"][:left]:
            yield item
        left -= len(page["available_phone_numbers"])
        url = f"http://127.0.0.1:{port}{page['next_page_uri']}"
