"""A big body parsed in pieces: the joined result is ``orjson.loads(body)`` or nothing.

The expected value is always ``orjson.loads`` of the whole body; the wire tests serve
pages built here from a small hostile ``aiohttp.web`` app and watch the loop turn between
the pieces.
"""

import asyncio
import itertools
import json

import orjson
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from carrierx_async import Client, ResponseDecodeError
from carrierx_async._json_slices import SLICE_BYTES, join, slices
from carrierx_async.testing import did_record

TOKEN = "test-token-not-real"

# Text that looks like JSON structure: a naive cut at "}, {" or "]" would break on it.
NASTY = ["}", "{", "]", "[", "},{", "}, {", '"items":[', "\\", '"', "é", "\u2028", ",", ":"]

texts = st.lists(st.sampled_from(NASTY) | st.text(max_size=3), max_size=4).map("".join)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
record_st = st.dictionaries(texts, values, min_size=1, max_size=4)
envelope_st = st.dictionaries(
    texts.filter(lambda k: k != "items"), values, max_size=3
)  # keys other than items, placed before and after it


def dumps(obj, style):
    if style == "orjson":
        return orjson.dumps(obj)
    if style == "spaced":
        return json.dumps(obj).encode()
    if style == "ascii-indented":
        return json.dumps(obj, indent=2).encode()
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


STYLES = st.sampled_from(["orjson", "spaced", "ascii-indented", "compact"])


def parse_pieces(docs):
    """What the transport does with the documents: None when one does not parse."""
    try:
        return join([orjson.loads(doc) for doc in docs])
    except orjson.JSONDecodeError:
        return None


def body_of(before, items, after, style):
    return dumps({**before, "items": items, **after}, style)


@settings(max_examples=400)
@given(envelope_st, st.lists(record_st, max_size=12), envelope_st, STYLES, st.integers(1, 300))
def test_pieces_join_to_the_whole_parse(before, items, after, style, size):
    body = body_of(before, items, after, style)
    docs = slices(body, size)
    if docs is None:
        return
    joined = parse_pieces(docs)
    if joined is not None:  # a cut inside a string or nested array: the body is parsed whole
        assert joined == orjson.loads(body)


@settings(max_examples=400)
@given(
    envelope_st,
    st.lists(record_st, min_size=2, max_size=12),
    envelope_st,
    STYLES,
    st.integers(1, 300),
    st.data(),
)
def test_a_broken_body_never_joins(before, items, after, style, size, data):
    """Bytes deleted, doubled or swapped in: the pieces join only to what orjson parses."""
    body = bytearray(body_of(before, items, after, style))
    at = data.draw(st.integers(0, len(body) - 1))
    how = data.draw(st.sampled_from(["delete", "insert", "replace"]))
    byte = data.draw(st.sampled_from(b'{}[],:"\\ x0'))
    if how == "delete":
        del body[at]
    elif how == "insert":
        body.insert(at, byte)
    else:
        body[at] = byte
    docs = slices(bytes(body), size)
    if docs is None:
        return
    joined = parse_pieces(docs)
    if joined is None:
        return
    assert joined == orjson.loads(bytes(body))  # raises if the broken body does not parse


@given(st.lists(st.integers(0, 10**6), min_size=50, max_size=200), STYLES)
def test_plain_records_are_cut_and_every_piece_parses(numbers, style):
    """The cut is not vacuous: ordinary records always take the pieces path."""
    items = [{"did_sid": f"sid-{n}", "phonenumber": str(n), "price": "0.5"} for n in numbers]
    body = body_of({"count": len(items), "has_more": True}, items, {"offset": 0}, style)
    docs = slices(body, 200)
    assert docs is not None and len(docs) > 2
    assert parse_pieces(docs) == orjson.loads(body)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"meta": {"items": [1]}, "items": [{"a": 1}, {"a": 2}]}', "nested items first"),
        (b'{"note": "[", "items": [{"a": 1}, {"a": 2}]}', "a bracket in a string before"),
        (b'[{"items": [{"a": 1}, {"a": 2}]}]', "not an object at the top"),
        (b'{"items": [{"a": 1}, {"a": 2}}', "no closing bracket after the records"),
        (b'{"items": [{"a": 1}]}', "one record: nothing to cut"),
        (b'{"items": {"a": 1}, "x": [{"a": 1}, {"a": 2}]}', "items is not an array"),
    ],
)
def test_bodies_the_cut_cannot_vouch_for_are_parsed_whole(body, why):
    assert slices(body, 1) is None, why


def test_a_later_items_key_wins_as_in_the_whole_parse():
    body = b'{"items": [{"a": 1}, {"a": 2}], "items": 5}'
    assert orjson.loads(body)["items"] == 5
    docs = slices(body, 1)
    assert docs is not None
    assert parse_pieces(docs) is None  # the envelope's items is 5, not []: parse whole


def test_a_cut_inside_a_string_does_not_join():
    body = b'{"items": [{"a": "x}, {y"}, {"a": 2}]}'
    docs = slices(body, 1)
    assert docs is not None
    assert parse_pieces(docs) is None  # the first run ends in an open string
    assert orjson.loads(body)["items"][0] == {"a": "x}, {y"}


def test_small_bodies_are_not_cut():
    items = [did_record() for _ in range(10)]
    body = orjson.dumps({"items": items})
    assert len(body) < 2 * SLICE_BYTES
    assert slices(body) is None
    assert slices(body, len(body) // 2) is not None


# -- on the wire -------------------------------------------------------------------------


async def serve_body(serve, body, content_type="application/json"):
    async def handler(request):
        return web.Response(body=body, content_type=content_type)

    return await serve(handler)


def big_page(n, **changes):
    items = [did_record(**changes) for _ in range(n)]
    return items, {"count": n, "has_more": False, "items": items, "offset": 0}


async def watched_fetch(client, counter):
    """The first page of a walk, with the ticker's count at every orjson.loads call."""
    seen = []
    loads = orjson.loads

    def counting(data):
        seen.append(counter[0])
        return loads(data)

    orjson.loads = counting
    try:
        page = await client.available_dids(page_size=1000, prefetch=0).dicts().__anext__()
    finally:
        orjson.loads = loads
    return page, seen


async def ticker(counter):
    while True:
        counter[0] += 1
        await asyncio.sleep(0)


@pytest.mark.parametrize("style", ["orjson", "spaced"])
async def test_a_big_page_is_parsed_in_pieces_with_loop_turns_between(serve, style):
    _, envelope = big_page(1000)
    body = dumps(envelope, style)
    expected = len(slices(body))  # type: ignore[arg-type]
    assert expected >= 4  # a page of 1000 records (~600 KB) is several pieces
    base = await serve_body(serve, body)
    counter = [0]
    task = asyncio.create_task(ticker(counter))
    try:
        async with Client(token=TOKEN, base_url=base, max_concurrency=1) as client:
            first, seen = await watched_fetch(client, counter)
    finally:
        task.cancel()
    assert first == orjson.loads(body)["items"][0]
    assert len(seen) == expected  # every piece parsed once, the body never whole
    assert all(b > a for a, b in itertools.pairwise(seen))  # a turn before each


async def test_every_record_arrives_once_in_order_from_pieces(serve):
    # Strings that look like the separator, in every other record: those cuts fail and
    # their pages are parsed whole.
    truth = [did_record(locality="A}, {B" if i % 2 else "Plain") for i in range(2500)]

    async def handler(request):
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        items = truth[offset : offset + limit]
        more = offset + len(items) < len(truth)
        envelope = {"count": len(items), "has_more": more, "items": items, "offset": offset}
        return web.Response(body=json.dumps(envelope), content_type="application/json")

    base = await serve(handler)
    async with Client(token=TOKEN, base_url=base) as client:
        got = [d async for d in client.available_dids(page_size=1000).dicts()]
    assert got == truth


async def test_a_broken_big_body_fails_as_the_whole_parse_does(serve):
    _, envelope = big_page(1000)
    body = orjson.dumps(envelope)
    at = body.index(b"},{", len(body) // 2) + 1
    broken = body[:at] + b"}" + body[at:]  # one stray brace between two records
    with pytest.raises(orjson.JSONDecodeError) as whole:
        orjson.loads(broken)
    base = await serve_body(serve, broken)
    async with Client(token=TOKEN, base_url=base) as client:
        with pytest.raises(ResponseDecodeError) as caught:
            await client.available_dids(page_size=1000).__anext__()
    assert str(whole.value) in str(caught.value)  # the whole body's error, not a piece's


async def test_a_big_body_whose_pieces_do_not_join_is_parsed_whole(serve):
    # Every piece parses, but a later "items" key wins in the whole parse, as in orjson.
    _, envelope = big_page(1000)
    body = orjson.dumps(envelope)[:-1] + b',"items":5}'
    assert orjson.loads(body)["items"] == 5
    assert slices(body) is not None
    base = await serve_body(serve, body)
    async with Client(token=TOKEN, base_url=base) as client:
        with pytest.raises(ResponseDecodeError, match="no 'items' array"):
            await client.available_dids(page_size=1000).__anext__()
