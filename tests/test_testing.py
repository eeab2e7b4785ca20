"""The fake CarrierX server, exercised with a plain aiohttp client (not the library's)."""

from __future__ import annotations

import ast
import asyncio
import json
import math
import operator
import re
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from carrierx_async._convert import decode_did, decode_dids
from carrierx_async._models import DID_FIELDS
from carrierx_async.testing import (
    DEFAULT_CLASSIFICATION_SID,
    EAGER_SIZE,
    EXTERNAL_CLASSIFICATION_SID,
    EXTERNAL_SID_PREFIX,
    NEARBY_KM,
    Churn,
    Delay,
    Disconnect,
    EmptyHasMore,
    FakeCarrierX,
    ForeignNext,
    HtmlPage,
    MalformedJson,
    Raw,
    Reset,
    SlowDrip,
    Status,
    Stuck,
    Truncated,
    did_record,
)
from carrierx_async.testing.filtering import Rejected, compile_filter, parse
from carrierx_async.testing.geography import _near
from carrierx_async.testing.inventory import _generated

TESTING = Path(__file__).resolve().parent.parent / "carrierx_async" / "testing"

LIST = "/phonenumber/available_dids"
ENVELOPE_KEYS = {"count", "has_more", "items", "limit", "offset", "pagination", "total"}

Record = dict[str, Any]


@pytest.fixture
async def fake() -> AsyncIterator[FakeCarrierX]:
    async with FakeCarrierX() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer test-token"}) as s:
        yield s


async def call(
    session: aiohttp.ClientSession, url: str, **params: str
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    """GET url; return (status, decoded JSON, headers)."""
    async with session.get(url, params=params) as resp:
        return resp.status, await resp.json(), resp.headers


async def page(session: aiohttp.ClientSession, fake: FakeCarrierX, **params: str) -> Any:
    status, body, _ = await call(session, fake.base_url + LIST, **params)
    assert status == 200, body
    return body


def assert_error(body: Any, field: str | None) -> None:
    assert set(body) == {"message", "errors"}
    assert isinstance(body["message"], str)
    [error] = body["errors"]
    assert error["field"] == field
    assert isinstance(error["message"], str)
    assert error["reference_sid"] is None


def sids(items: list[Record]) -> list[str]:
    return [item["did_sid"] for item in items]


# -- envelope and pagination ---------------------------------------------------------------


async def test_envelope_has_the_documented_shape(fake, session):
    body = await page(session, fake, limit="3")
    assert set(body) == ENVELOPE_KEYS
    assert body["count"] == 3
    assert body["has_more"] is True
    assert body["limit"] == 3
    assert body["offset"] == 0
    assert body["total"] is None
    next_url = URL(body["pagination"]["next"])
    assert next_url.is_absolute()
    assert str(next_url.with_query(None)) == fake.base_url + LIST
    assert dict(next_url.query) == {"limit": "3", "offset": "3"}
    assert body["items"] == list(fake.inventory[:3])


async def test_did_objects_have_every_field_and_are_available(fake):
    for record in fake.inventory:
        assert set(record) == DID_FIELDS
        assert record["status"] == "available"
        assert record["partner_sid"] is None
        assert record["trunk_group_sid"] is None
        assert record["active_capabilities"] == (4 if record["capabilities"] & 4 else 0)
        assert isinstance(record["price"], str)
        Decimal(record["price"])
        assert record["phonenumber"].isdigit()
        assert record["international_format"].startswith("+")
    records = list(fake.inventory)
    assert len({r["did_sid"] for r in records}) == len(records) == 3000
    assert len({r["phonenumber"] for r in records}) == len(records)
    localities = {r["locality"] for r in records}
    assert {"NEW YORK", "LOS ANGELES", "SAN FRANCISCO", "SALT LAKE CITY"} <= localities
    assert {r["capabilities"] for r in records} >= {0, 4, 5, 7, 31}
    assert {r["state"] for r in records if r["country_code"] == "GBR"} == {None}
    assert len({r["state"] for r in records if r["country_code"] == "USA"}) >= 5


async def test_following_next_walks_the_whole_inventory(session):
    async with FakeCarrierX(size=2500) as fake:
        url: str | None = fake.base_url + LIST + "?limit=1000"
        seen: list[str] = []
        last: Any = None
        while url:
            status, last, _ = await call(session, url)
            assert status == 200
            seen += sids(last["items"])
            url = last["pagination"].get("next")
        assert seen == sids(list(fake.inventory))
        assert last["has_more"] is False
        assert last["pagination"] == {}
        assert last["count"] == 500


async def test_next_keeps_the_original_arguments(fake, session):
    args = {"limit": "2", "filter": 'locality eq "NEW YORK"', "order": "price desc"}
    body = await page(session, fake, **args)
    assert dict(URL(body["pagination"]["next"]).query) == {**args, "offset": "2"}


async def test_deprecated_alias_serves_the_same_list(fake, session):
    _, old, _ = await call(session, fake.base_url + "/dids/inventory", limit="5", offset="7")
    new = await page(session, fake, limit="5", offset="7")
    assert old["items"] == new["items"]


async def test_default_limit_is_10_and_offset_past_the_end_is_empty(fake, session):
    body = await page(session, fake)
    assert (body["count"], body["limit"]) == (10, 10)
    body = await page(session, fake, offset="5000")
    assert (body["count"], body["has_more"], body["items"]) == (0, False, [])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"order": "colour desc"}, "order"),
        ({"order": "price sideways"}, "order"),
        ({"order": "attributes"}, "order"),
        ({"filter": "state eq NY or state eq CA"}, "filter"),
        ({"filter": "colour eq red"}, "filter"),
        ({"filter": "state resembles NY"}, "filter"),
        ({"filter": 'locality eq "NEW YORK'}, "filter"),
        ({"include_fields": "phonenumber,colour"}, "include_fields"),
        ({"exclude_fields": "colour"}, "exclude_fields"),
        ({"include_fields": "price", "exclude_fields": "state"}, "include_fields"),
        ({"include_external": "maybe"}, "include_external"),
    ],
)
async def test_bad_arguments_get_400_naming_the_field(fake, session, params, field):
    status, body, _ = await call(session, fake.base_url + LIST, **params)
    assert status == 400
    assert_error(body, field)


async def test_limit_1000_is_accepted(fake, session):
    assert (await page(session, fake, limit="1000"))["count"] == 1000


# -- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong", "test-token", "Basic dGVzdA=="])
async def test_requests_without_the_token_get_401(fake, header):
    headers = {} if header is None else {"Authorization": header}
    async with aiohttp.ClientSession(headers=headers) as s:
        status, body, _ = await call(s, fake.base_url + LIST)
    assert status == 401
    assert_error(body, None)
    [recorded] = fake.requests
    assert recorded.authorized is False
    if header is not None:
        assert recorded.headers["Authorization"] == "<redacted>"


async def test_requests_are_recorded_with_the_token_redacted(fake, session):
    await page(session, fake, limit="2", filter="state eq NY")
    [recorded] = fake.requests
    assert recorded.method == "GET"
    assert recorded.path == "/core/v2" + LIST
    assert dict(recorded.query) == {"limit": "2", "filter": "state eq NY"}
    assert recorded.authorized is True
    assert recorded.headers["Authorization"] == "<redacted>"
    assert "test-token" not in repr(recorded)
    assert recorded.fault is None


# -- order ---------------------------------------------------------------------------------


async def test_order_by_price_desc_and_bare_field_ascending(fake, session):
    desc = (await page(session, fake, limit="1000", order="price desc"))["items"]
    prices = [Decimal(r["price"]) for r in desc]
    assert prices == sorted(prices, reverse=True)
    asc = (await page(session, fake, limit="50", order="phonenumber"))["items"]
    expected = sorted(fake.inventory, key=lambda r: r["phonenumber"])[:50]
    assert asc == expected


async def test_order_pages_are_consistent(fake, session):
    whole = (await page(session, fake, limit="30", order="locality asc"))["items"]
    second = (await page(session, fake, limit="10", offset="10", order="locality asc"))["items"]
    assert second == whole[10:20]


async def test_shuffle_is_a_deterministic_permutation(fake, session):
    first = sids((await page(session, fake, limit="1000", order="shuffle"))["items"])
    again = sids((await page(session, fake, limit="1000", order="shuffle"))["items"])
    plain = sids((await page(session, fake, limit="1000"))["items"])
    assert first == again
    assert first != plain
    assert len(set(first)) == 1000
    assert set(first) <= {r["did_sid"] for r in fake.inventory}


# -- filters: expected results computed from the inventory dicts ---------------------------


def km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


CITY = {
    "NEW YORK": (40.7128, -74.0060),
    "BROOKLYN": (40.6782, -73.9442),
    "HEMPSTEAD": (40.7062, -73.6187),
    "LOS ANGELES": (34.0522, -118.2437),
}


def within(lat: float, lng: float) -> Callable[[Record], bool]:
    def test(r: Record) -> bool:
        where = CITY.get(r["locality"])
        return where is not None and km(lat, lng, *where) <= NEARBY_KM

    return test


FILTERS: list[tuple[str, Callable[[Record], bool]]] = [
    ("state eq NY", lambda r: r["state"] == "NY"),
    ('locality eq "SALT LAKE CITY"', lambda r: r["locality"] == "SALT LAKE CITY"),
    ("locality eq 'SAN FRANCISCO'", lambda r: r["locality"] == "SAN FRANCISCO"),
    ("capabilities bit 4", lambda r: r["capabilities"] & 4 == 4),
    ("capabilities bit 5", lambda r: r["capabilities"] & 5 == 5),
    ("capabilities eq 31", lambda r: r["capabilities"] == 31),
    ('phonenumber like "1212%"', lambda r: r["phonenumber"].startswith("1212")),
    ("phonenumber like %55%", lambda r: "55" in r["phonenumber"]),
    (
        "price lt 0.7 and country_code eq USA",
        lambda r: Decimal(r["price"]) < Decimal("0.7") and r["country_code"] == "USA",
    ),
    ("price ge 2.5", lambda r: Decimal(r["price"]) >= Decimal("2.5")),
    ("state ne NY", lambda r: r["state"] is not None and r["state"] != "NY"),
    ("country_code eq GBR", lambda r: r["country_code"] == "GBR"),
    ("npa eq 516", lambda r: r["phonenumber"].startswith("1516")),
    ("phonenumber nearby npa:415", lambda r: r["phonenumber"].startswith("1415")),
    ("phonenumber nearby zip:10025", within(40.7128, -74.0060)),
    ("phonenumber nearby latlng:34.05,-118.25", within(34.05, -118.25)),
    (
        "state eq CA and capabilities bit 1 and price le 1",
        lambda r: r["state"] == "CA" and r["capabilities"] & 1 and Decimal(r["price"]) <= 1,
    ),
]


@pytest.mark.parametrize(("text", "predicate"), FILTERS, ids=[f[0] for f in FILTERS])
async def test_filter_semantics(fake, session, text, predicate):
    expected = [r for r in fake.inventory if predicate(r)]
    assert 0 < len(expected) < 3000, "the inventory should exercise this filter"
    body = await page(session, fake, limit="1000", filter=text)
    assert body["items"] == expected[:1000]
    assert body["has_more"] == (len(expected) > 1000)


async def test_nearby_zip_spans_the_metro_area(fake, session):
    body = await page(session, fake, limit="1000", filter="phonenumber nearby zip:10025")
    assert {r["locality"] for r in body["items"]} == {"NEW YORK", "BROOKLYN", "HEMPSTEAD"}


async def test_unknown_zip_matches_nothing(fake, session):
    body = await page(session, fake, filter="phonenumber nearby zip:99999")
    assert body["items"] == []


async def test_filtered_pages_continue_where_the_last_stopped(fake, session):
    expected = sids([r for r in fake.inventory if r["state"] == "CA"])
    first = await page(session, fake, limit="100", filter="state eq CA")
    _, second, _ = await call(session, first["pagination"]["next"])
    assert sids(first["items"] + second["items"]) == expected[:200]


# -- field filtering -----------------------------------------------------------------------


async def test_include_fields_keeps_only_those(fake, session):
    body = await page(session, fake, limit="3", include_fields="phonenumber, price")
    assert [set(r) for r in body["items"]] == [{"phonenumber", "price"}] * 3
    assert set(body) == ENVELOPE_KEYS


async def test_exclude_fields_drops_those(fake, session):
    body = await page(session, fake, limit="3", exclude_fields="attributes,transformations")
    assert [set(r) for r in body["items"]] == [DID_FIELDS - {"attributes", "transformations"}] * 3


# -- one DID by SID ------------------------------------------------------------------------


async def test_get_one_did_by_sid(fake, session):
    record = fake.inventory[42]
    url = f"{fake.base_url}{LIST}/{record['did_sid']}"
    status, body, _ = await call(session, url)
    assert (status, body) == (200, record)
    status, body, _ = await call(session, url, include_fields="did_sid,state")
    assert body == {"did_sid": record["did_sid"], "state": record["state"]}


@pytest.mark.parametrize("sid", ["00000000-0000-4000-8000-000000000000", "nonsense"])
async def test_unknown_sid_is_404_with_an_error_body(fake, session, sid):
    status, body, _ = await call(session, f"{fake.base_url}{LIST}/{sid}")
    assert status == 404
    assert_error(body, "did_sid")


async def test_unknown_path_is_404_json(fake, session):
    status, body, _ = await call(session, fake.base_url + "/phonenumber/coverage")
    assert status == 404
    assert_error(body, None)


# -- include_external (reference 4.1) ------------------------------------------------------


async def test_include_external_needs_offset_0(fake, session):
    status, body, _ = await call(
        session,
        fake.base_url + LIST,
        include_external="true",
        offset="10",
        filter="country_code eq USA",
    )
    assert status == 400
    assert_error(body, "offset")


@pytest.mark.parametrize("text", [None, "state eq NY", "npa eq 518"])
async def test_include_external_needs_a_country_code_condition(fake, session, text):
    params = {"include_external": "true"} | ({} if text is None else {"filter": text})
    status, body, _ = await call(session, fake.base_url + LIST, **params)
    assert status == 400
    assert_error(body, "filter")


def is_external(record: Record) -> bool:
    return record["did_sid"].startswith(EXTERNAL_SID_PREFIX)


@pytest.mark.parametrize("limit", [1, 5, 100, 1000])
async def test_include_external_adds_up_to_10_after_the_internal_numbers(fake, session, limit):
    # Reference 4.1: internal numbers first; when they cannot satisfy the request, at most
    # 10 external ones follow: so a page holds up to limit + 10 records.
    text = "country_code eq USA and npa eq 518 and capabilities bit 4"
    internal = [
        r for r in fake.inventory if r["phonenumber"].startswith("1518") and r["capabilities"] & 4
    ]
    assert 5 < len(internal) < 100
    body = await page(session, fake, limit=str(limit), filter=text, include_external="true")
    items = body["items"]
    shown = internal[:limit]
    assert items[: len(shown)] == shown
    external = items[len(shown) :]
    assert len(external) == (10 if len(internal) < limit else 0)
    assert body["count"] == len(items)
    for record in external:
        assert record["classification_sid"] == EXTERNAL_CLASSIFICATION_SID
        assert is_external(record)
        assert record["phonenumber"].startswith("1518")
        assert record["capabilities"] & 4
        assert set(record) == DID_FIELDS
    assert not {r["phonenumber"] for r in external} & {r["phonenumber"] for r in fake.inventory}
    again = await page(session, fake, limit=str(limit), filter=text, include_external="true")
    assert again["items"] == items


async def test_include_external_pages_can_hold_more_than_limit(fake, session):
    body = await page(
        session, fake, limit="2", filter="country_code eq GBR and npa_nxx eq 000000",
        include_external="true",
    )  # fmt: skip
    # No internal GBR number has a NANP exchange, and external GBR ones neither: none match.
    assert body["items"] == []
    body = await page(
        session, fake, limit="3", filter="country_code eq USA and price gt 2 and state eq FL",
        include_external="true",
    )  # fmt: skip
    internal = [
        r
        for r in fake.inventory
        if r["country_code"] == "USA" and Decimal(r["price"]) > 2 and r["state"] == "FL"
    ]
    assert len(internal) >= 3  # internal numbers suffice: no external ones
    assert not any(map(is_external, body["items"]))
    body = await page(
        session, fake, limit="2", filter="country_code eq USA and locality eq ALBANY and "
        "capabilities eq 31 and price ge 2.5", include_external="true",
    )  # fmt: skip
    assert body["count"] == len(body["items"]) > 2
    assert all(r["locality"] == "ALBANY" and r["capabilities"] == 31 for r in body["items"])
    # A rare combination still finds 10 external numbers where it asks (the area code).
    text = "country_code eq USA and npa eq 303 and capabilities eq 31"
    internal = [
        r for r in fake.inventory if r["phonenumber"][:4] == "1303" and r["capabilities"] == 31
    ]
    assert 0 < len(internal) < 10
    body = await page(session, fake, limit="10", filter=text, include_external="true")
    assert body["items"][: len(internal)] == internal
    assert body["count"] == len(internal) + 10 > 10


async def test_include_external_is_not_needed_when_internal_suffices(fake, session):
    body = await page(
        session, fake, limit="5", filter="country_code eq USA", include_external="true"
    )
    expected = [r for r in fake.inventory if r["country_code"] == "USA"][:5]
    assert body["items"] == expected
    # Pagination is not supported in this mode; has_more/next may still appear.
    assert body["has_more"] is True


async def test_include_external_unknown_country_gives_no_external(fake, session):
    body = await page(
        session, fake, limit="5", filter="country_code eq FRA", include_external="true"
    )
    assert (body["items"], body["has_more"]) == ([], False)


async def test_include_external_with_any_country_code_condition(fake, session):
    body = await page(
        session, fake, limit="1", filter="country_code ne USA and npa eq 212",
        include_external="true",
    )  # fmt: skip
    # Only NANP numbers have an npa and all of them are USA here: nothing can match.
    assert body["items"] == []


# -- faults --------------------------------------------------------------------------------


async def test_status_fault_with_retry_after(fake, session):
    fake.add_fault(Status(503, retry_after="2"))
    status, body, headers = await call(session, fake.base_url + LIST)
    assert (status, headers["Retry-After"]) == (503, "2")
    assert_error(body, None)
    status, _, _ = await call(session, fake.base_url + LIST)
    assert status == 200
    assert [r.fault for r in fake.requests] == [Status(503, retry_after="2"), None]


@pytest.mark.parametrize("code", [400, 408, 429, 500, 502, 504])
async def test_status_fault_codes(fake, session, code):
    fake.add_fault(Status(code))
    status, body, headers = await call(session, fake.base_url + LIST)
    assert status == code
    assert "Retry-After" not in headers
    assert_error(body, None)


async def test_status_fault_applies_before_auth(fake):
    fake.add_fault(Status(429, retry_after="1"))
    async with aiohttp.ClientSession() as s:
        status, _, _ = await call(s, fake.base_url + LIST)
    assert status == 429


async def test_faults_are_consumed_in_order_with_times_and_path(fake, session):
    fake.add_fault(Status(500), times=2, path=LIST + "/nope")
    fake.add_fault(Status(502), path="/dids/inventory")
    fake.add_fault(Status(503), times=2)
    codes = []
    for path in [LIST, "/dids/inventory", LIST + "/nope", LIST, LIST + "/nope", LIST]:
        async with session.get(fake.base_url + path) as resp:
            await resp.read()
            codes.append(resp.status)
    assert codes == [503, 502, 500, 503, 500, 200]
    with pytest.raises(ValueError, match="times"):
        fake.add_fault(Status(500), times=0)


async def test_delay_fault_holds_the_headers(fake, session):
    fake.add_fault(Delay(0.3))
    started = time.monotonic()
    body = await page(session, fake)
    assert time.monotonic() - started >= 0.3
    assert body["count"] == 10


async def test_delay_fault_lets_a_client_time_out(fake, session):
    fake.add_fault(Delay(30))
    with pytest.raises(asyncio.TimeoutError):
        await session.get(fake.base_url + LIST, timeout=aiohttp.ClientTimeout(total=0.2))
    assert (await page(session, fake))["count"] == 10


async def test_slow_drip_sends_the_real_page_slowly(fake, session):
    expected = await page(session, fake, limit="2")
    fake.add_fault(SlowDrip(chunk_size=200, interval=0.02))
    started = time.monotonic()
    async with session.get(fake.base_url + LIST, params={"limit": "2"}) as resp:
        headers_at = time.monotonic() - started
        raw = await resp.read()
    total = time.monotonic() - started
    chunks = math.ceil(len(raw) / 200)
    assert json.loads(raw) == expected
    assert int(resp.headers["Content-Length"]) == len(raw)
    assert total >= chunks * 0.02 * 0.9
    assert headers_at < total


async def test_truncated_body_raises_a_payload_error(fake, session):
    fake.add_fault(Truncated(0.5))
    async with session.get(fake.base_url + LIST) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    assert (await page(session, fake))["count"] == 10


async def test_reset_mid_body(fake, session):
    fake.add_fault(Reset(0.3))
    with pytest.raises(aiohttp.ClientError):  # payload error, or OS error if headers lost
        async with session.get(fake.base_url + LIST) as resp:
            await resp.read()
    assert (await page(session, fake))["count"] == 10


async def test_disconnect_before_answering(fake, session):
    # aiohttp silently resends an idempotent request once after a disconnect: fault it twice.
    fake.add_fault(Disconnect(), times=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await session.get(fake.base_url + LIST)
    assert [r.fault for r in fake.requests] == [Disconnect(), Disconnect()]
    assert (await page(session, fake))["count"] == 10


async def test_malformed_json_is_200_application_json(fake, session):
    fake.add_fault(MalformedJson())
    async with session.get(fake.base_url + LIST) as resp:
        assert (resp.status, resp.content_type) == (200, "application/json")
        with pytest.raises(json.JSONDecodeError):
            json.loads(await resp.read())


@pytest.mark.parametrize("code", [200, 502])
async def test_html_page_has_the_wrong_content_type(fake, session, code):
    fake.add_fault(HtmlPage(code))
    async with session.get(fake.base_url + LIST) as resp:
        assert (resp.status, resp.content_type) == (code, "text/html")
        assert (await resp.text()).startswith("<html>")


async def test_raw_fault(fake, session):
    fake.add_fault(Raw(b'{"items": 5}', status=201, content_type="application/x-thing"))
    async with session.get(fake.base_url + LIST) as resp:
        assert (resp.status, resp.content_type) == (201, "application/x-thing")
        assert await resp.read() == b'{"items": 5}'


async def test_foreign_next(fake, session):
    fake.add_fault(ForeignNext())
    body = await page(session, fake, limit="2")
    next_url = URL(body["pagination"]["next"])
    assert (next_url.host, next_url.port) == ("evil.example", 1)
    assert next_url.path == "/core/v2" + LIST
    assert dict(next_url.query) == {"limit": "2", "offset": "2"}
    assert len(body["items"]) == 2


async def test_churn_removes_the_front_of_the_result_set(fake, session):
    text = "state eq NY"
    before = sids([r for r in fake.inventory if r["state"] == "NY"])
    fake.add_fault(Churn(remove=3))
    first = await page(session, fake, limit="5", filter=text)
    assert sids(first["items"]) == before[:5]  # served before the churn
    second = await page(session, fake, limit="5", offset="5", filter=text)
    assert sids(second["items"]) == before[8:13]  # three numbers went missing
    assert len(fake.inventory) == 2997
    status, _, _ = await call(session, f"{fake.base_url}{LIST}/{before[0]}")
    assert status == 404


async def test_churn_adds_numbers_in_front_of_the_result_set(fake, session):
    text = "state eq NY"
    before = [r for r in fake.inventory if r["state"] == "NY"]
    fake.add_fault(Churn(remove=2, add=2))
    await page(session, fake, limit="5", filter=text)
    after = (await page(session, fake, limit="5", filter=text))["items"]
    assert sids(after[2:]) == sids(before[2:5])  # two rented, two new in front of the next
    neighbour = before[2]
    for added in after[:2]:
        assert added["did_sid"] not in sids(before)
        assert added["phonenumber"] < neighbour["phonenumber"]
        assert added["state"] == "NY" and added["price"] == neighbour["price"]
        assert added["international_format"].replace(" ", "").replace("-", "") == (
            "+" + added["phonenumber"]
        )
    assert len(fake.inventory) == 3000
    fake.add_fault(Churn(remove=2, add=1))  # again, now that the list is held in memory
    await page(session, fake, limit="5", filter=text)
    again = (await page(session, fake, limit="5", filter=text))["items"]
    assert sids(again[1:]) == sids(after[2:]) + sids(before[5:6])
    assert again[0]["phonenumber"] < after[2]["phonenumber"]
    sorted_page = await page(session, fake, limit="1000", order="phonenumber", filter=text)
    numbers = [r["phonenumber"] for r in sorted_page["items"]]
    assert numbers.index(again[0]["phonenumber"]) < numbers.index(neighbour["phonenumber"])


async def test_churn_at_random_is_seeded_and_stays_before_the_cursor(session):
    def run_once() -> Any:
        return FakeCarrierX(size=500)

    results = []
    for _ in range(2):
        async with run_once() as fake:
            original = sids(fake.inventory)
            fake.add_fault(Churn(remove=7, add=4, at="random", seed=3))
            await page(session, fake, limit="50", offset="50")
            now = sids(fake.inventory)
            results.append(now)
            rented = set(original) - set(now)
            added = set(now) - set(original)
            assert len(rented) == 7 and len(added) == 4
            # Only the part served so far (offsets 0..99) changed.
            assert {original.index(sid) for sid in rented} <= set(range(100))
            assert now[-400:] == original[-400:]
    assert results[0] == results[1]


async def test_churn_anywhere_reaches_past_the_page(session):
    async with FakeCarrierX(size=500) as fake:
        original = sids(fake.inventory)
        fake.add_fault(Churn(remove=40, add=40, at="anywhere", seed=5))
        await page(session, fake, limit="10")
        now = sids(fake.inventory)
        rented = set(original) - set(now)
        assert len(rented) == 40 and len(now) == 500
        assert max(original.index(sid) for sid in rented) > 100  # not only what was served


def test_churn_checks_its_arguments():
    with pytest.raises(ValueError, match=">= 0"):
        Churn(remove=-1)
    with pytest.raises(ValueError, match="'front', 'random' or 'anywhere'"):
        Churn(at="middle")  # type: ignore[arg-type]


async def test_add_puts_numbers_in_the_inventory(fake, session):
    mine = did_record(state="NY")
    assert fake.add(mine, at=0) == 3001
    first = (await page(session, fake, limit="1"))["items"][0]
    assert first == mine
    assert fake.add(did_record()) == 3002
    with pytest.raises(ValueError, match="did_sid"):
        fake.add(mine)
    assert fake.remove(mine["did_sid"]) == 1


async def test_large_inventory_churns_too(session):
    async with FakeCarrierX(size=20_000) as fake:
        original = sids(fake.inventory[:10])
        fake.add_fault(Churn(remove=1, add=1))
        await page(session, fake, limit="10")
        now = sids(fake.inventory[:10])
        assert now[0].startswith("ad000000-") and now[1:] == original[1:]


async def test_keyset_seek_condition_is_served(fake, session):
    ordered = sorted(r["phonenumber"] for r in fake.inventory if r["state"] == "NY")
    body = await page(
        session,
        fake,
        limit="3",
        order="phonenumber desc",
        filter=f"state eq NY and phonenumber lt {ordered[10]}",
    )
    assert [r["phonenumber"] for r in body["items"]] == ordered[9:6:-1]
    body = await page(session, fake, limit="2", filter=f"phonenumber gt {ordered[-1]}")
    assert all(r["phonenumber"] > ordered[-1] for r in body["items"])


async def test_stuck_serves_the_first_page_whatever_the_offset(fake, session):
    first = await page(session, fake, limit="4")
    fake.add_fault(Stuck(), times=2)
    assert await page(session, fake, limit="4", offset="4") == first
    assert await page(session, fake, limit="4", offset="8") == first
    assert (await page(session, fake, limit="4", offset="8"))["offset"] == 8


async def test_empty_has_more(fake, session):
    fake.add_fault(EmptyHasMore())
    body = await page(session, fake, limit="4", offset="8")
    assert (body["count"], body["items"], body["has_more"]) == (0, [], True)
    assert dict(URL(body["pagination"]["next"]).query)["offset"] == "8"


async def test_latency_applies_to_every_response(session):
    async with FakeCarrierX(latency=0.2, size=10) as fake:
        started = time.monotonic()
        await page(session, fake)
        await call(session, fake.base_url + LIST + "/nope")
        assert time.monotonic() - started >= 0.4


# -- inventory -----------------------------------------------------------------------------


def test_same_seed_same_inventory_and_other_seed_differs():
    a, b, c = (
        FakeCarrierX(seed=3, size=500),
        FakeCarrierX(seed=3, size=500),
        FakeCarrierX(seed=4, size=500),
    )
    assert list(a.inventory) == list(b.inventory)
    assert list(a.inventory) != list(c.inventory)


def test_large_inventory_records_match_small_ones():
    small, large = FakeCarrierX(size=100), FakeCarrierX(size=1_000_000)
    assert list(small.inventory) == large.inventory[:100]


async def test_explicit_inventory(session):
    records = FakeCarrierX(size=3, seed=1).inventory[:]
    records[1] = {**records[1], "locality": "NOWHERE", "price": "9.99"}
    async with FakeCarrierX(inventory=records) as fake:
        body = await page(session, fake, filter="price gt 5")
        assert body["items"] == [records[1]]
        assert len(fake.inventory) == 3


def test_explicit_inventory_must_decode_and_have_unique_sids():
    record = FakeCarrierX(size=1).inventory[0]
    with pytest.raises(ValueError, match="unique"):
        FakeCarrierX(inventory=[record, record])
    with pytest.raises(ValueError):
        FakeCarrierX(inventory=[{**record, "price": "cheap"}])
    with pytest.raises(ValueError, match="size"):
        FakeCarrierX(size=-1)


# -- did_record: an inventory of your own --------------------------------------------------

OWNER_FIELDS = (
    "callback_url",
    "campaign_sid",
    "did_group_sid",
    "lrn_sid",
    "partner_sid",
    "porting_pin",
    "string_key_1",
    "string_key_2",
    "trunk_group_sid",
)


def test_did_record_defaults_are_a_complete_did_that_decodes_strictly():
    record = did_record()
    assert list(record) == sorted(DID_FIELDS)  # every field, in the generated records' order
    assert list(record) == list(FakeCarrierX(size=1).inventory[0])
    did = decode_did(record, strict=True)
    assert did.present_fields == DID_FIELDS
    assert (record["status"], record["country_code"], record["price"]) == (
        "available",
        "USA",
        "0.6",
    )
    assert (record["capabilities"], record["active_capabilities"]) == (7, 4)
    assert (record["attributes"], record["transformations"]) == ({}, [])
    assert record["classification_sid"] == DEFAULT_CLASSIFICATION_SID
    assert all(record[name] is None for name in OWNER_FIELDS)
    number = record["phonenumber"]
    assert len(number) == 11 and number.isdigit() and number.startswith("1212")
    npa, nxx, line = number[1:4], number[4:7], number[7:]
    assert nxx[0] in "23456789"  # a valid NANP exchange
    assert record["in_country_format"] == f"({npa}) {nxx}-{line}"
    assert record["international_format"] == f"+1 {npa}-{nxx}-{line}"
    assert did.price == Decimal("0.6")
    # A page of them decodes strictly just the same.
    page_of = [did_record() for _ in range(3)]
    assert [d.did_sid for d in decode_dids([dict(r) for r in page_of], strict=True)] == sids(
        page_of
    )


def test_did_record_overrides_apply_and_derived_fields_follow():
    record = did_record(
        state="CA",
        locality="LOS ANGELES",
        lata="730",
        price="0.5",
        capabilities=5,
        phonenumber="13105550123",
        attributes={"tier": "gold"},
        did_sid="5e1ec7ed-0000-4000-8000-000000000001",
    )
    assert record["state"] == "CA"
    assert (record["locality"], record["lata"], record["price"]) == ("LOS ANGELES", "730", "0.5")
    assert (record["capabilities"], record["active_capabilities"]) == (5, 4)
    assert record["phonenumber"] == "13105550123"
    assert record["in_country_format"] == "(310) 555-0123"
    assert record["international_format"] == "+1 310-555-0123"
    assert record["attributes"] == {"tier": "gold"}
    assert record["did_sid"] == "5e1ec7ed-0000-4000-8000-000000000001"
    assert set(record) == DID_FIELDS
    # Derived fields follow their source, unless given themselves.
    assert did_record(capabilities=1)["active_capabilities"] == 0
    assert did_record(capabilities=0)["active_capabilities"] == 0
    assert did_record(capabilities=None)["active_capabilities"] is None
    assert did_record(capabilities=1, active_capabilities=1)["active_capabilities"] == 1
    mixed = did_record(phonenumber="13105550123", in_country_format="310.555.0123")
    assert (mixed["in_country_format"], mixed["international_format"]) == (
        "310.555.0123",
        "+1 310-555-0123",
    )
    uk = did_record(phonenumber="442071234567", country_code="GBR", state=None)
    assert (uk["in_country_format"], uk["international_format"]) == (
        "02071234567",
        "+44 2071234567",
    )
    assert did_record(phonenumber=None)["international_format"] is None


@pytest.mark.parametrize("name", sorted(DID_FIELDS))
def test_did_record_any_field_can_be_overridden(name):
    record = did_record(**{name: None})
    assert record[name] is None
    assert set(record) == DID_FIELDS


def test_did_record_sids_and_numbers_are_unique_and_defaults_are_not_shared():
    records = [did_record() for _ in range(500)]
    assert len(set(sids(records))) == 500
    assert len({r["phonenumber"] for r in records}) == 500
    for sid in sids(records[:3]):
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}", sid)
        assert not sid.startswith(EXTERNAL_SID_PREFIX)
    records[0]["attributes"]["mine"] = 1
    records[0]["transformations"].append({})
    assert (records[1]["attributes"], records[1]["transformations"]) == ({}, [])


def test_did_record_unknown_field_is_a_type_error_naming_the_valid_ones():
    with pytest.raises(TypeError) as info:
        did_record(state="NY", prize="0.5")
    message = str(info.value)
    assert "'prize' (did you mean 'price'?)" in message
    assert "valid fields: " + ", ".join(sorted(DID_FIELDS)) in message


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"state": 5}, "state"),
        ({"price": "cheap"}, "price"),
        ({"price": 0.6}, "price"),
        ({"capabilities": True}, "capabilities"),
        ({"capabilities": 32}, "capabilities"),
        ({"active_capabilities": -1}, "active_capabilities"),
        ({"phonenumber": 12125550100}, "phonenumber"),
        ({"attributes": []}, "attributes"),
        ({"transformations": [1]}, "transformations"),
        ({"transformations": {}}, "transformations"),
    ],
)
def test_did_record_bad_values_fail_naming_the_field(fields, field):
    with pytest.raises(ValueError, match=rf"^did_record\(\): {field} must be ") as info:
        did_record(**fields)
    assert repr(fields[field]) in str(info.value)


def test_did_record_values_must_be_json():
    with pytest.raises(ValueError, match="not JSON"):
        did_record(attributes={"when": {1, 2}})
    with pytest.raises(ValueError, match="not JSON"):
        did_record(attributes={"ratio": math.nan})


async def test_a_fake_seeded_with_did_records_serves_exactly_them(session):
    records = [
        did_record(state="NY", price="0.5"),
        did_record(state="CA", locality="LOS ANGELES", lata="730", phonenumber="13105550123"),
        did_record(state="TX", capabilities=0),
    ]
    async with FakeCarrierX(inventory=records) as fake:
        body = await page(session, fake, limit="1000")
        assert (body["count"], body["has_more"], body["items"]) == (3, False, records)
        assert list(fake.inventory) == records
        for record in records:
            status, one, _ = await call(session, f"{fake.base_url}{LIST}/{record['did_sid']}")
            assert (status, one) == (200, record)
        assert (await page(session, fake, filter="state eq CA"))["items"] == [records[1]]
        assert (await page(session, fake, filter="price lt 0.6"))["items"] == [records[0]]
        assert (await page(session, fake, filter="phonenumber nearby npa:310"))["items"] == [
            records[1]
        ]
        voice = await page(session, fake, filter="capabilities bit 4")
        assert sids(voice["items"]) == sids(records[:2])


def test_full_dicts_and_did_records_mix_in_one_inventory():
    generated = FakeCarrierX(size=2, seed=9).inventory[:]
    records = [*generated, did_record(), {**did_record(), "locality": "ALBANY"}]
    assert list(FakeCarrierX(inventory=records).inventory) == records
    with pytest.raises(ValueError, match="unique"):
        FakeCarrierX(inventory=[records[2], records[2]])


async def test_lazy_million_serves_the_end_quickly(session):
    started = time.monotonic()
    async with FakeCarrierX(size=1_000_000) as fake:
        body = await page(session, fake, offset="999990")
        record = body["items"][-1]
        status, one, _ = await call(session, f"{fake.base_url}{LIST}/{record['did_sid']}")
        assert fake.remove(body["items"][0]["did_sid"]) == 1
        after = await page(session, fake, offset="999990", limit="20")
    assert time.monotonic() - started < 2
    assert (body["count"], body["has_more"], body["pagination"]) == (10, False, {})
    assert (status, one) == (200, record)
    assert after["items"] == body["items"][1:]
    assert len(fake.inventory) == 999_999


async def test_remove_takes_numbers_out(fake, session):
    gone = fake.inventory[0]["did_sid"]
    assert fake.remove(gone, "not-a-sid") == 1
    assert fake.remove(gone) == 0
    assert gone not in sids((await page(session, fake))["items"])


# -- lifecycle -----------------------------------------------------------------------------


async def test_start_and_close_explicitly(session):
    fake = FakeCarrierX(size=5)
    with pytest.raises(RuntimeError):
        _ = fake.base_url
    await fake.start()
    try:
        assert fake.base_url.startswith("http://127.0.0.1:")
        assert fake.base_url.endswith("/core/v2")
        assert (await page(session, fake))["count"] == 5
    finally:
        await fake.close()
    await fake.close()  # idempotent
    with pytest.raises(RuntimeError):
        _ = fake.base_url


async def test_close_while_a_slow_response_is_in_flight(session):
    fake = FakeCarrierX(size=20)
    await fake.start()
    fake.add_fault(SlowDrip(chunk_size=1, interval=0.05))
    async with session.get(fake.base_url + LIST) as resp:  # the headers are in: in flight
        assert resp.status == 200
        await fake.close()
        with pytest.raises(aiohttp.ClientError):
            await resp.read()


def test_fakes_share_a_built_inventory_but_not_changes_to_it():
    first, second = FakeCarrierX(size=50, seed=11), FakeCarrierX(size=50, seed=11)
    _generated.cache_clear()
    fresh = FakeCarrierX(size=50, seed=11)  # built again, not from the cache
    assert list(first.inventory) == list(fresh.inventory)
    first.inventory[0]["state"] = "ZZ"
    first.inventory[0]["attributes"]["changed"] = True
    first.inventory[0]["transformations"].append({})
    assert second.inventory[0]["state"] != "ZZ"
    assert second.inventory[0]["attributes"] == {}
    assert second.inventory[0]["transformations"] == []
    assert list(second.inventory) == list(fresh.inventory)
    # Inserting and removing in one fake touch neither another fake nor the cache.
    first.add(did_record(state="NY"), at=0)
    first.remove(first.inventory[5]["did_sid"])
    assert len(first.inventory) == 50
    assert list(FakeCarrierX(size=50, seed=11).inventory) == list(fresh.inventory)
    assert list(second.inventory) == list(fresh.inventory)


# -- the fake's own filter language (reference 6.1, 6.2, 4.2, 4.4): hand-written tables ----

NY = {
    "did_sid": "a0000000-0000-4000-8000-000000000001",
    "phonenumber": "15165550123",
    "country_code": "USA",
    "state": "NY",
    "locality": "NEW YORK",
    "lata": None,
    "capabilities": 7,
    "active_capabilities": 4,
    "price": "0.6",
    "attributes": {"tier": "gold", "n": 5, "ok": True, "gone": None, "deep": {"a": 1}},
}
UK = {
    "did_sid": "a0000000-0000-4000-8000-000000000002",
    "phonenumber": "442071234567",
    "country_code": "GBR",
    "state": None,
    "locality": "LONDON",
    "lata": "99",
    "capabilities": 20,
    "active_capabilities": 4,
    "price": "10.5",
    "attributes": {},
}

# (filter text, matches NY, matches UK)
MATCHES = [
    ("state eq NY", True, False),
    ("state EQ NY", True, False),  # operators in any case
    ("state eq ny", False, False),  # values are case-sensitive
    ("state ne NY", False, False),  # a null state matches nothing, not even ne
    ("state ne CA", True, False),
    ("lata eq 99", False, True),
    ("lata ne 99", False, False),
    ('locality eq "NEW YORK"', True, False),
    ("locality eq 'NEW YORK'", True, False),
    ('locality like "NEW%"', True, False),
    ('locality like "%YORK"', True, False),
    ("locality like NEW_YORK", True, False),  # _ is one character
    ("locality like YORK", False, False),  # like covers the whole value
    ("locality like NE_YORK", False, False),
    ("locality like %ON%", False, True),
    ("locality like new%", False, False),
    ("capabilities bit 4", True, True),
    ("capabilities bit 5", True, False),  # every bit of the mask
    ("capabilities bit 16", False, True),
    ("capabilities eq 7", True, False),
    ("capabilities gt 7", False, True),
    ("active_capabilities le 4", True, True),
    ("price lt 0.7", True, False),
    ("price eq 0.60", True, False),  # prices compare as numbers...
    ("price gt 9", False, True),  # ...not as text ("10.5" < "9")
    ("price ge 10.5 and price le 10.5", False, True),
    ("phonenumber gt 15165550122", True, True),
    ("phonenumber gt 15165550123", False, True),
    ("phonenumber ge 15165550123", True, True),
    ("phonenumber lt 2", True, False),  # text compares by code point
    ('phonenumber like "1516%"', True, False),
    ("npa eq 516", True, False),
    ("npa ne 516", False, False),  # not a NANP number: no npa at all
    ("npa_nxx eq 516555", True, False),
    ("npa like 5%", True, False),
    ("phonenumber nearby npa:516", True, False),
    ("phonenumber nearby npa:207", False, False),
    ("phonenumber nearby zip:11550", True, False),  # Hempstead, 33 km from New York
    ("phonenumber nearby zip:90001", False, False),
    ("phonenumber nearby zip:99999", False, False),  # an unknown ZIP is nowhere
    ("phonenumber nearby latlng:40.71,-74.0", True, False),
    ("phonenumber nearby latlng:51.5,-0.12", False, True),
    ("attributes.tier eq gold", True, False),
    ("attributes.n eq 5", True, False),  # a number compares as its JSON text
    ("attributes.ok eq true", True, False),
    ("attributes.gone eq null", False, False),  # null and objects match nothing
    ("attributes.deep ne x", False, False),
    ("attributes.missing ne x", False, False),
    ("state eq NY and capabilities bit 4 and price lt 1", True, False),
    ("state eq NY and state eq CA", False, False),
    ("state \t eq  NY   AND npa eq 516", True, False),  # any whitespace, and in any case
    ("country_code eq GBR and locality eq LONDON", False, True),
]


@pytest.mark.parametrize(("text", "ny", "uk"), MATCHES, ids=[m[0] for m in MATCHES])
def test_filter_evaluation_table(text, ny, uk):
    match = compile_filter(parse(text), _near)
    assert (match(NY), match(UK)) == (ny, uk)


REJECTED = [
    "state",
    "state eq",
    "state eq NY and",
    "state eq NY or state eq CA",
    "not state eq NY",
    "(state eq NY)",
    "state eq NY and (npa eq 516)",
    "state eq NY npa eq 516",
    '"state" eq NY',
    "state 'eq' NY",
    'state eq "NY"and npa eq 516',
    'locality eq "NEW YORK',
    "colour eq red",
    "STATE eq NY",  # field names are exact
    "state resembles NY",
    "state bit 4",
    "state nearby npa:516",
    "capabilities eq seven",
    "capabilities like 4",
    "capabilities eq -1",
    "price eq cheap",
    "price like 0.%",
    "price bit 1",
    "npa eq 51",
    "npa eq 5160",
    "npa_nxx eq 516",
    "phonenumber nearby npa:5160",
    "phonenumber nearby city:NYC",
    "phonenumber nearby latlng:91,0",
    "phonenumber nearby latlng:40.7",
    "phonenumber nearby zip:",
    "attributes eq x",
    "transformations eq x",
    "attributes.a.b eq x",
    "attributes. eq x",
]


@pytest.mark.parametrize("text", REJECTED)
def test_filter_rejection_table(text):
    with pytest.raises(Rejected):
        parse(text)


@pytest.mark.parametrize("text", REJECTED[::4])
async def test_rejected_filters_get_400(fake, session, text):
    status, body, _ = await call(session, fake.base_url + LIST, filter=text)
    assert status == 400
    assert_error(body, "filter")


def private_imports(source: str) -> list[str]:
    """What a module under carrierx_async/testing imports from the library's private parts."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:
                continue  # the testing package itself
            base = node.module or "" if node.level == 0 else "carrierx_async"
            if node.level > 1 and node.module:
                base += "." + node.module
            modules = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "carrierx_async" and any(p.startswith("_") for p in parts[1:]):
                found.append(module)
    return found


def test_the_fake_imports_nothing_private_from_the_library():
    sources = {p.name: p.read_text() for p in TESTING.rglob("*.py")}
    assert {"server.py", "filtering.py", "fields.py", "records.py"} <= set(sources)
    assert {name: private_imports(text) for name, text in sources.items()} == {
        name: [] for name in sources
    }
    # The check itself sees each way of reaching a private module.
    assert private_imports("from .._filters import Filter") == ["carrierx_async._filters.Filter"]
    assert private_imports("from .. import _models") == ["carrierx_async._models"]
    assert private_imports("import carrierx_async._convert") == ["carrierx_async._convert"]
    assert private_imports("from carrierx_async._errors import E") == ["carrierx_async._errors.E"]
    assert private_imports("from carrierx_async import Client\nfrom .fields import x") == []


# -- ordered pages and keyset seeks ----------------------------------------------------------


def ordered_truth(records: list[Record], field: str, *, descending: bool) -> list[Record]:
    """Nulls last ascending and first descending; ties in inventory order (a stable sort)."""
    key = (lambda r: Decimal(r[field])) if field == "price" else (lambda r: r[field])
    nulls = [r for r in records if r[field] is None]
    values = sorted((r for r in records if r[field] is not None), key=key, reverse=descending)
    return nulls + values if descending else values + nulls


SEEK_RECORDS = [
    did_record(phonenumber=p, state=s, price=c)
    for p, s, c in [
        ("15165550105", "NY", "1.5"),
        ("15165550101", "CA", "0.6"),
        (None, "NY", "10"),
        ("15165550109", None, "2"),
        ("15165550103", "CA", "0.6"),
        ("15165550107", "NY", "9.5"),
        ("15165550102", "CA", "1.5"),
    ]
]


def where(field: str, op: str, value: str) -> Callable[[Record], bool]:
    """A ground-truth test, in Python: nulls match nothing; price compares as a number."""
    compare = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}[op]
    if field == "price":
        return lambda r: r[field] is not None and compare(Decimal(r[field]), Decimal(value))
    return lambda r: r[field] is not None and compare(r[field], value)


SEEKS = [
    ("phonenumber", "gt", "15165550103"),
    ("phonenumber", "ge", "15165550103"),
    ("phonenumber", "gt", "15165550104"),  # just inserted
    ("phonenumber", "gt", "15165550107"),  # just removed
    ("phonenumber", "gt", "1"),
    ("phonenumber", "gt", "2"),
    ("phonenumber", "lt", "15165550105"),
    ("phonenumber", "le", "15165550105"),
    ("price", "gt", "1.5"),
    ("price", "ge", "1.5"),
    ("price", "le", "1.5"),
    ("price", "lt", "0.6"),
    ("state", "lt", "NY"),
    ("state", "ge", "CA"),
]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(("field", "op", "value"), SEEKS)
async def test_ordered_pages_and_seeks_match_a_sorted_ground_truth(
    session, field, op, value, descending
):
    order = f"{field} desc" if descending else field
    async with FakeCarrierX(inventory=SEEK_RECORDS) as fake:
        await page(session, fake, order=order)  # sorted once...
        fake.remove(SEEK_RECORDS[5]["did_sid"])  # ...removed numbers drop out of it
        fake.add(did_record(phonenumber="15165550104", state="CA", price="3"), at=1)  # re-sorted
        truth = ordered_truth(list(fake.inventory), field, descending=descending)
        for text, keep in [
            (f"{field} {op} {value}", where(field, op, value)),
            (f"state eq CA and {field} {op} {value}", lambda r: r["state"] == "CA"),
        ]:
            expected = [r for r in truth if keep(r) and where(field, op, value)(r)]
            for limit in ("1000", "2"):
                body = await page(session, fake, limit=limit, order=order, filter=text)
                assert body["items"] == expected[: int(limit)], (text, limit)
                assert body["has_more"] == (len(expected) > int(limit))


async def test_a_keyset_walk_reads_every_match_once_in_order(session):
    async with FakeCarrierX(size=EAGER_SIZE + 2000) as fake:  # generated on demand
        expected = sorted(r["phonenumber"] for r in fake.inventory if r["state"] == "CA")
        got: list[str] = []
        text = "state eq CA"
        while True:
            body = await page(session, fake, limit="100", order="phonenumber", filter=text)
            got += [r["phonenumber"] for r in body["items"]]
            if not body["has_more"]:
                break
            text = f"state eq CA and phonenumber gt {got[-1]}"
        assert got == expected


@pytest.mark.parametrize(("order", "op"), [("phonenumber", "gt"), ("phonenumber desc", "lt")])
async def test_a_seek_reads_only_the_records_of_its_page(session, order, op):
    # A keyset seek bisects into the sorted inventory: the records it reads are the page's
    # (and the one after it), not the ones before the key: a walk costs what its pages cost.
    async with FakeCarrierX(size=3000) as fake:
        middle = sorted(r["phonenumber"] for r in fake.inventory)[1500]
        await page(session, fake, order=order)  # the sorted order is built once, here
        reads = 0
        wire = fake._inv.wire

        def counting(i: int) -> Record:
            nonlocal reads
            reads += 1
            return wire(i)

        fake._inv.wire = counting  # type: ignore[method-assign]
        body = await page(
            session, fake, limit="10", order=order, filter=f"phonenumber {op} {middle}"
        )
        assert body["count"] == 10
        assert reads <= 2 * 11
