"""Filters over the wire: each DSL construct selects exactly what the server selects.

Expected results are computed here from the fake's inventory dicts with plain Python,
not with Filter.matches, so the client and the fake cannot agree on a shared mistake.
"""

import asyncio
from decimal import Decimal

import pytest

from carrierx_async import (
    BadRequestError,
    Capability,
    Client,
    ConfigurationError,
    F,
    Filter,
    FilterError,
)
from carrierx_async._feed import PREFETCH_TASK
from carrierx_async.testing import EXTERNAL_SID_PREFIX, did_record

TOKEN = "fake-token-not-a-secret"


pytestmark = pytest.mark.carrierx_fake(token=TOKEN, size=3000)


@pytest.fixture
def fake(carrierx_fake):
    return carrierx_fake.server


@pytest.fixture
def client(carrierx_fake):
    return carrierx_fake.client


def price(d):
    return Decimal(d["price"])


def area(d, digits=3):
    """The NANP area code (or first six digits): only 11-digit numbers with country code 1."""
    p = d["phonenumber"]
    return p[1 : 1 + digits] if len(p) == 11 and p[0] == "1" else None


CASES = [
    (F.state == "NY", "state eq NY", lambda d: d["state"] == "NY"),
    (F.state != "NY", "state ne NY", lambda d: d["state"] is not None and d["state"] != "NY"),
    (
        F.locality == "SALT LAKE CITY",
        'locality eq "SALT LAKE CITY"',
        lambda d: d["locality"] == "SALT LAKE CITY",
    ),
    (F.price <= Decimal("0.6"), "price le 0.6", lambda d: price(d) <= Decimal("0.6")),
    (F.price < Decimal("0.75"), "price lt 0.75", lambda d: price(d) < Decimal("0.75")),
    (F.price > 1, "price gt 1", lambda d: price(d) > 1),
    (F.price >= Decimal("2.5"), "price ge 2.5", lambda d: price(d) >= Decimal("2.5")),
    (
        F.phonenumber.like("1516%"),
        "phonenumber like 1516%",
        lambda d: d["phonenumber"].startswith("1516"),
    ),
    (
        F.phonenumber.like("%77%"),
        "phonenumber like %77%",
        lambda d: "77" in d["phonenumber"],
    ),
    (
        F.capabilities.bit(Capability.VOICE | Capability.SMS_OUT),
        "capabilities bit 6",
        lambda d: d["capabilities"] & 6 == 6,
    ),
    (F.capabilities == Capability(31), "capabilities eq 31", lambda d: d["capabilities"] == 31),
    (F.npa == 516, "npa eq 516", lambda d: d["phonenumber"][:4] == "1516"),
    # "_" is exactly one character: "1_1%" is a 1 in third place, not a 1 anywhere later.
    (
        F.phonenumber.like("1_1%"),
        "phonenumber like 1_1%",
        lambda d: len(d["phonenumber"]) >= 3 and d["phonenumber"][::2][:2] == "11",
    ),
    (
        F.locality.like("SALT_LAKE CIT_"),
        'locality like "SALT_LAKE CIT_"',
        lambda d: d["locality"] == "SALT LAKE CITY",
    ),
    # The operator policy: every comparison applies to every field (text by code point).
    (F.state < "NY", "state lt NY", lambda d: d["state"] is not None and d["state"] < "NY"),
    (F.state >= "UT", "state ge UT", lambda d: d["state"] is not None and d["state"] >= "UT"),
    (
        F.phonenumber > "15160000000",
        "phonenumber gt 15160000000",
        lambda d: d["phonenumber"] > "15160000000",
    ),
    (F.capabilities >= 7, "capabilities ge 7", lambda d: d["capabilities"] >= 7),
    (F.capabilities < 4, "capabilities lt 4", lambda d: d["capabilities"] < 4),
    (
        F.active_capabilities != 0,
        "active_capabilities ne 0",
        lambda d: d["active_capabilities"] != 0,
    ),
    (F.npa > 500, "npa gt 500", lambda d: area(d) is not None and int(area(d)) > 500),
    (
        F.npa_nxx <= 303555,
        "npa_nxx le 303555",
        lambda d: area(d, 6) is not None and int(area(d, 6)) <= 303555,
    ),
    (
        Filter.nearby(npa=212),
        "phonenumber nearby npa:212",
        lambda d: d["phonenumber"][:4] == "1212",
    ),
    (
        Filter.nearby(zip="10025"),
        "phonenumber nearby zip:10025",
        lambda d: d["locality"] in {"NEW YORK", "BROOKLYN", "HEMPSTEAD"},
    ),
    (
        Filter.nearby(latlng=(34.05, -118.24)),
        "phonenumber nearby latlng:34.05,-118.24",
        lambda d: d["locality"] == "LOS ANGELES",
    ),
    (
        (F.state == "CA") & (F.price < 1) & F.capabilities.bit(Capability.VOICE),
        "state eq CA and price lt 1 and capabilities bit 4",
        lambda d: d["state"] == "CA" and price(d) < 1 and d["capabilities"] & 4 == 4,
    ),
]


@pytest.mark.parametrize("as_text", [False, True], ids=["dsl", "text"])
@pytest.mark.parametrize(("flt", "wire", "predicate"), CASES, ids=[c[1] for c in CASES])
async def test_construct_selects_what_server_selects(client, fake, flt, wire, predicate, as_text):
    want = [d["did_sid"] for d in fake.inventory if predicate(d)]
    assert 0 < len(want) < len(fake.inventory), "the case must select something, not all"
    query = wire if as_text else flt
    got = [d.did_sid async for d in client.available_dids(filter=query, page_size=500)]
    assert got == want
    assert fake.requests[0].query["filter"] == wire


# A small inventory with what the generated one lacks: a non-NANP number whose digits 2-4
# look like an area code, 10- and 12-digit numbers, and custom attributes.
MIXED = [
    did_record(phonenumber="49301234567", country_code="DEU", state=None, locality="BERLIN"),
    did_record(phonenumber="19305550100", attributes={"tier": "gold", "n": 5}),
    did_record(phonenumber="19305550101", attributes={"tier": "silver", "vip": True}),
    did_record(phonenumber="1930555010", attributes={"tier": "gold"}),
    did_record(phonenumber="193055501000"),
    did_record(phonenumber="15165550100", attributes={"tier": "gold bar"}),
]


def attr(d, key):
    return (d["attributes"] or {}).get(key)


MIXED_CASES = [
    (F.npa == 930, "npa eq 930", lambda d: area(d) == "930"),
    (F.npa != 930, "npa ne 930", lambda d: area(d) not in (None, "930")),
    (F.npa_nxx == 930555, "npa_nxx eq 930555", lambda d: area(d, 6) == "930555"),
    (Filter.nearby(npa=930), "phonenumber nearby npa:930", lambda d: area(d) == "930"),
    (
        F.attributes["tier"] == "gold",
        "attributes.tier eq gold",
        lambda d: attr(d, "tier") == "gold",
    ),
    (
        F.attributes["tier"] != "gold",
        "attributes.tier ne gold",
        lambda d: attr(d, "tier") not in (None, "gold"),
    ),
    (
        F.attributes["tier"].like("gold%"),
        "attributes.tier like gold%",
        lambda d: (attr(d, "tier") or "").startswith("gold"),
    ),
    (F.attributes["n"] == "5", "attributes.n eq 5", lambda d: attr(d, "n") == 5),
    (F.attributes["vip"] == "true", "attributes.vip eq true", lambda d: attr(d, "vip") is True),
]


@pytest.mark.carrierx_fake(inventory=MIXED)
@pytest.mark.parametrize("as_text", [False, True], ids=["dsl", "text"])
@pytest.mark.parametrize(("flt", "wire", "predicate"), MIXED_CASES, ids=[c[1] for c in MIXED_CASES])
async def test_construct_selects_what_server_selects_on_odd_records(
    client, fake, flt, wire, predicate, as_text
):
    want = [d["did_sid"] for d in fake.inventory if predicate(d)]
    assert 0 < len(want) < len(fake.inventory), "the case must select something, not all"
    query = wire if as_text else flt
    got = [d.did_sid async for d in client.available_dids(filter=query)]
    assert got == want
    assert fake.requests[0].query["filter"] == wire


async def test_raw_filter_reaches_the_server_as_written(client, fake):
    text = "state  EQ  'NY'  and price le 0.60"
    want = [
        d["did_sid"] for d in fake.inventory if d["state"] == "NY" and price(d) <= Decimal("0.60")
    ]
    got = [d.did_sid async for d in client.available_dids(filter=Filter.raw(text))]
    assert fake.requests[0].query["filter"] == text  # not re-rendered
    assert got == want and got


async def test_raw_filter_combines_with_typed_filters(client, fake):
    flt = Filter.raw("state eq NY") & (F.price < 1)
    want = [d["did_sid"] for d in fake.inventory if d["state"] == "NY" and price(d) < 1]
    got = [d.did_sid async for d in client.available_dids(filter=flt)]
    assert got == want
    assert fake.requests[0].query["filter"] == "state eq NY and price lt 1"


async def test_raw_alternatives_fan_out(client, fake):
    flt = Filter.raw("state eq UT") | Filter.raw("state eq CO")
    want = {d["did_sid"] for d in fake.inventory if d["state"] in ("UT", "CO")}
    got = [d.did_sid async for d in client.available_dids(filter=flt)]
    assert sorted(got) == sorted(want)
    assert sorted(r.query["filter"] for r in fake.requests) == ["state eq CO", "state eq UT"]


async def test_raw_filter_the_server_refuses_is_its_error(client, fake):
    with pytest.raises(BadRequestError):
        [d async for d in client.available_dids(filter=Filter.raw("state ilike NY"))]
    assert fake.requests[0].query["filter"] == "state ilike NY"


async def test_raw_filter_is_exempt_from_the_external_field_checks(client, fake):
    flt = Filter.raw("country_code eq USA and state ne NY")
    got = [d async for d in client.available_dids(filter=flt, include_external=True)]
    assert len(fake.requests) == 1 and 0 < len(got) <= 10
    assert fake.requests[0].query["filter"] == "country_code eq USA and state ne NY"
    # The typed part of a mixed filter is still checked.
    with pytest.raises(FilterError, match="'price le' is not allowed"):
        client.available_dids(filter=Filter.raw("x") & (F.price <= 1), include_external=True)
    assert len(fake.requests) == 1


async def test_external_accepts_the_boundary_of_ten(client, fake):
    flt = F.country_code == "USA"
    got = [d async for d in client.available_dids(filter=flt, include_external=True, max_items=10)]
    assert len(got) == 10
    stream = client.available_dids(filter=flt, include_external=True, page_size=10, max_items=10)
    assert len([d async for d in stream]) == 10
    assert [(r.query["offset"], r.query["limit"]) for r in fake.requests] == [("0", "10")] * 2


async def test_plain_string_filter_is_validated_and_sent_canonically(client, fake):
    got = [d async for d in client.available_dids(filter="state  EQ  NY AND price le 0.6")]
    assert fake.requests[0].query["filter"] == "state eq NY and price le 0.6"
    assert {d.state for d in got} == {"NY"}


async def test_misspelt_field_in_string_fails_before_request(client, fake):
    with pytest.raises(FilterError, match="state"):
        client.available_dids(filter="stat eq NY")
    assert fake.requests == []


async def test_in_fans_out_and_merges(client, fake):
    want = {d["did_sid"] for d in fake.inventory if d["state"] in ("UT", "CO")}
    got = [d.did_sid async for d in client.available_dids(filter=F.state.in_(["UT", "CO"]))]
    assert sorted(got) == sorted(want)
    assert sorted(r.query["filter"] for r in fake.requests) == ["state eq CO", "state eq UT"]


async def test_overlapping_alternatives_never_duplicate(client, fake):
    flt = (F.state == "NY") | F.capabilities.bit(Capability(31))
    want = {d["did_sid"] for d in fake.inventory if d["state"] == "NY" or d["capabilities"] == 31}
    got = [d.did_sid async for d in client.available_dids(filter=flt, page_size=200)]
    assert len(got) == len(set(got))
    assert set(got) == want


async def test_max_items_applies_to_merged_stream(client, fake):
    flt = (F.state == "NY") | (F.state == "CA")
    got = [d async for d in client.available_dids(filter=flt, max_items=50, page_size=20)]
    # The loop has ended: no alternative is still fetching.
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith(PREFETCH_TASK)] == []
    assert len(got) == 50
    assert len({d.did_sid for d in got}) == 50
    assert {d.state for d in got} <= {"NY", "CA"}


async def test_fields_accept_field_objects(client, fake):
    got = [
        d async for d in client.available_dids(include_fields=[F.phonenumber, F.price], max_items=2)
    ]
    # did_sid is always asked for (the walk tells records apart by it) and dropped again
    assert fake.requests[0].query["include_fields"] == "phonenumber,price,did_sid"
    assert got[0].present_fields == {"phonenumber", "price"}


async def test_exclude_fields(client, fake):
    got = [d async for d in client.available_dids(exclude_fields=["attributes"], max_items=1)]
    assert fake.requests[0].query["exclude_fields"] == "attributes"
    assert "attributes" not in got[0].present_fields and got[0].attributes is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"filter": F.state == "NY"}, "country_code eq"),
        ({"filter": None}, "country_code eq"),
        ({"filter": (F.country_code == "USA") & (F.price <= 1)}, "'price le' is not allowed"),
        ({"filter": (F.country_code == "USA") & (F.state != "NY")}, "'state ne' is not allowed"),
        ({"filter": F.country_code.in_(["USA", "GBR"])}, "cannot be combined"),
    ],
)
async def test_external_rules_fire_before_any_request(client, fake, kwargs, match):
    with pytest.raises(FilterError, match=match):
        client.available_dids(include_external=True, **kwargs)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"filter": F.country_code == "USA", "page_size": 11}, "page_size must be at most 10"),
        ({"filter": F.country_code == "USA", "max_items": 11}, "max_items must be at most 10"),
    ],
)
async def test_external_sizes_are_configuration_errors(client, fake, kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        client.available_dids(include_external=True, **kwargs)
    assert fake.requests == []


async def test_external_search_is_exactly_one_request(client, fake):
    flt = (F.country_code == "USA") & (F.state == "NY")
    got = [d async for d in client.available_dids(filter=flt, include_external=True)]
    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request.query["include_external"] == "true"
    assert (request.query["offset"], request.query["limit"]) == ("0", "10")
    assert len(got) == 10
    assert all(d.state == "NY" for d in got)


async def test_external_numbers_come_after_internal(client, fake):
    flt = (F.country_code == "USA") & (F.npa == 303) & (F.capabilities == Capability(31))
    internal = [
        d["did_sid"]
        for d in fake.inventory
        if d["phonenumber"][:4] == "1303" and d["capabilities"] == 31
    ]
    assert 0 < len(internal) < 10
    got = [d.did_sid async for d in client.available_dids(filter=flt, include_external=True)]
    assert len(fake.requests) == 1  # the fake says has_more; the client asks nothing more
    assert got[: len(internal)] == internal
    external = got[len(internal) :]
    assert external and all(sid.startswith(EXTERNAL_SID_PREFIX) for sid in external)
    assert len(external) <= 10  # up to limit internal, then up to 10 external (4.1)


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        (("prize", "le"), "unknown field 'prize'"),
        (("price", "like"), "does not apply"),
        ("x", "external_filters entry"),
    ],
)
def test_external_filters_entries_are_checked(entry, match):
    with pytest.raises(ConfigurationError, match=match):
        Client(TOKEN, base_url="http://127.0.0.1:9/core/v2", external_filters=[entry])


async def test_external_filters_can_be_widened_per_client(fake):
    async with Client(TOKEN, base_url=fake.base_url, external_filters=[("price", "le")]) as c:
        flt = (F.country_code == "USA") & (F.price <= 1)
        got = [d async for d in c.available_dids(filter=flt, include_external=True)]
    assert len(fake.requests) == 1 and 0 < len(got) <= 10
    with pytest.raises(FilterError):
        Client(TOKEN, base_url=fake.base_url).available_dids(filter=flt, include_external=True)


async def test_extra_params_and_the_filter_travel_on_every_keyset_seek(client, fake):
    # Keyset adds its own phonenumber seek to each page's filter; the caller's filter and
    # extra arguments must ride along on every request, not only the first.
    want = sorted(d["phonenumber"] for d in fake.inventory if d["state"] == "NY")
    stream = client.available_dids(
        filter=F.state == "NY", pagination="keyset", page_size=7, extra_params={"x_tag": "a"}
    )
    got = [d.phonenumber async for d in stream]
    assert got == want
    assert len(fake.requests) >= len(want) // 7
    for i, request in enumerate(fake.requests):
        assert request.query["x_tag"] == "a"
        assert request.query["filter"].startswith("state eq NY")
        if i:
            assert " and phonenumber gt " in request.query["filter"]


# -- include_external against a server written from the API reference (4.1) --------------


def reference_external_server(seen):
    """Answers as reference 4.1 reads: up to ``limit`` internal numbers first, then up to 10
    external ones, so more records than ``limit``; ``has_more`` says nothing useful."""
    from aiohttp import web

    async def handler(request):
        seen.append(dict(request.query))
        limit = int(request.query["limit"])
        internal = [
            {"did_sid": f"00000000-0000-4000-8000-{i:012d}", "phonenumber": f"1516555{i:04d}"}
            for i in range(limit)
        ]
        external = [
            {"did_sid": f"ext-{i:04d}", "phonenumber": f"1212555{i:04d}"} for i in range(10)
        ]
        items = internal + external
        body = {"items": items, "count": len(items), "limit": limit, "offset": 0}
        return web.json_response({**body, "has_more": True, "pagination": {}, "total": None})

    return handler


@pytest.mark.parametrize(
    ("page_size", "max_items", "want"), [(10, None, 20), (4, None, 14), (10, 3, 3)]
)
async def test_an_external_answer_of_limit_plus_ten_is_taken_whole_in_one_request(
    serve, page_size, max_items, want
):
    seen = []
    base = await serve(reference_external_server(seen))
    flt = F.country_code == "USA"
    async with Client(TOKEN, base_url=base) as c:
        stream = c.available_dids(
            filter=flt, include_external=True, page_size=page_size, max_items=max_items
        )
        got = [d.phonenumber async for d in stream]
    internal = [f"1516555{i:04d}" for i in range(page_size)]
    external = [f"1212555{i:04d}" for i in range(10)]
    assert got == (internal + external)[:want]  # all, in the server's order
    assert len(seen) == 1 and seen[0]["include_external"] == "true"
    assert seen[0]["limit"] == str(min(page_size, max_items or page_size))
    assert stream.stats.complete
