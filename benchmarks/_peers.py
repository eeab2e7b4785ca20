"""The clients carrierx_async is measured against.

* ``raw_dicts``: the raw limit, a hand-written aiohttp GET loop + orjson, yielding dicts.
* ``PydanticClient``: a small client in the style of generated SDKs (httpx.AsyncClient,
  a pydantic v2 model of the DID with the same field types, a page loop). It validates
  with ``model_validate_json``, pydantic's fastest path, to be fair to it.
* ``twilio_stream`` / ``raw_twilio``: twilio-python's ``stream_async`` of available
  local numbers, pointed at the loopback server, and the bare aiohttp loop over the
  same Twilio payload.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import orjson

__all__ = [
    "PydanticClient",
    "pydantic_available",
    "raw_dicts",
    "raw_pages",
    "raw_twilio",
    "twilio_available",
    "twilio_client",
    "twilio_stream",
]

_PATH = "/phonenumber/available_dids"
TWILIO_ACCOUNT = "AC" + "0" * 32


async def raw_pages(
    session: aiohttp.ClientSession, base_url: str, *, page_size: int
) -> AsyncIterator[dict[str, Any]]:
    """The raw limit: GET page after page, parse each with orjson (request-rate benchmark)."""
    url = base_url + _PATH
    headers = {"Authorization": "Bearer bench-token", "Accept": "application/json"}
    offset = 0
    while True:
        async with session.get(f"{url}?limit={page_size}&offset={offset}", headers=headers) as resp:
            body = await resp.read()
        page = orjson.loads(body)
        yield page
        if not page["has_more"]:
            return
        offset += page["count"]


async def raw_dicts(
    session: aiohttp.ClientSession, base_url: str, *, page_size: int
) -> AsyncIterator[dict[str, Any]]:
    """The raw limit record by record: the item dicts of raw_pages (one more step per page)."""
    async for page in raw_pages(session, base_url, page_size=page_size):
        for item in page["items"]:
            yield item


# --- httpx + pydantic v2, the generated-SDK style -------------------------------------


def _pydantic_models() -> tuple[type[Any], type[Any]]:
    import pydantic

    class Capabilities(enum.IntFlag):
        SMS_IN = 1
        SMS_OUT = 2
        VOICE = 4
        MMS_IN = 8
        MMS_OUT = 16

    class Did(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(frozen=True, extra="ignore")

        active_capabilities: Capabilities | None = None
        attributes: dict[str, Any] | None = None
        callback_url: str | None = None
        campaign_sid: str | None = None
        capabilities: Capabilities | None = None
        classification_sid: str | None = None
        country_code: str | None = None
        did_group_sid: str | None = None
        did_sid: str | None = None
        in_country_format: str | None = None
        international_format: str | None = None
        lata: str | None = None
        locality: str | None = None
        lrn_sid: str | None = None
        name: str | None = None
        ocn: str | None = None
        partner_sid: str | None = None
        phonenumber: str | None = None
        porting_pin: str | None = None
        price: Decimal | None = None
        state: str | None = None
        status: str | None = None
        string_key_1: str | None = None
        string_key_2: str | None = None
        transformations: list[dict[str, Any]] | None = None
        trunk_group_sid: str | None = None

    class DidPage(pydantic.BaseModel):
        count: int
        has_more: bool
        items: list[Did]
        limit: int | None = None
        offset: int | None = None
        pagination: dict[str, str] = {}
        total: int | None = None

    return Did, DidPage


def pydantic_available() -> str | None:
    """None if the httpx + pydantic peer can run here, else why not."""
    try:
        import httpx  # noqa: F401
        import pydantic  # noqa: F401
    except ImportError as exc:
        return f"not installed ({exc})"
    return None


class PydanticClient:
    """A generated-SDK-style client: httpx.AsyncClient + pydantic v2 models."""

    def __init__(self, base_url: str, token: str) -> None:
        import httpx

        self.Did, self._page_model = _pydantic_models()
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def available_dids(self, *, page_size: int = 1000) -> AsyncIterator[Any]:
        """Every DID, page by page."""
        offset = 0
        while True:
            response = await self._http.get(
                "phonenumber/available_dids", params={"limit": page_size, "offset": offset}
            )
            response.raise_for_status()
            page = self._page_model.model_validate_json(response.content)
            for item in page.items:
                yield item
            if not page.has_more:
                return
            offset += page.count


# --- twilio ---------------------------------------------------------------------------


def twilio_available() -> str | None:
    """None if twilio-python can run here, else why not."""
    try:
        import twilio  # noqa: F401
        from twilio.http.async_http_client import AsyncTwilioHttpClient  # noqa: F401
    except ImportError as exc:
        return f"twilio not installed ({exc})"
    return None


def twilio_client(port: int) -> Any:
    """A twilio-python async client whose API domain is the loopback server."""
    from twilio.http.async_http_client import AsyncTwilioHttpClient
    from twilio.rest import Client as TwilioClient

    client = TwilioClient(
        "bench-user",
        "bench-password",
        account_sid=TWILIO_ACCOUNT,
        http_client=AsyncTwilioHttpClient(),
        edge=None,
        region=None,
    )
    client.api.base_url = f"http://127.0.0.1:{port}"
    return client


async def twilio_stream(client: Any, *, limit: int, page_size: int) -> AsyncIterator[Any]:
    """twilio-python's own async stream of available US local numbers."""
    local = client.api.v2010.accounts(TWILIO_ACCOUNT).available_phone_numbers("US").local
    async for number in await local.stream_async(limit=limit, page_size=page_size):
        yield number


async def raw_twilio(
    session: aiohttp.ClientSession, port: int, *, limit: int, page_size: int
) -> AsyncIterator[dict[str, Any]]:
    """The bare aiohttp + orjson loop over Twilio's payload, following next_page_uri."""
    uri: str | None = (
        f"/2010-04-01/Accounts/{TWILIO_ACCOUNT}/AvailablePhoneNumbers/US/Local.json"
        f"?PageSize={page_size}&Page=0"
    )
    auth = aiohttp.BasicAuth("bench-user", "bench-password")
    left = limit
    while uri is not None and left > 0:
        async with session.get(f"http://127.0.0.1:{port}{uri}", auth=auth) as resp:
            body = await resp.read()
        page = orjson.loads(body)
        for item in page["available_phone_numbers"][:left]:
            yield item
        left -= len(page["available_phone_numbers"])
        uri = page["next_page_uri"]
