"""Resuming keyset walks: stream.cursor and available_dids(after=) over the wire."""

import base64
import hashlib
import random
import re

import pytest

from carrierx_async import Client, ConfigurationError, F, PaginationError
from carrierx_async.testing import FakeCarrierX, did_record

TOKEN = "resume-test-token"
CURSOR = re.compile(r"[A-Za-z0-9_-]{20,200}")


def filters(fake):
    return [r.query.get("filter") for r in fake.requests]


# -- the walk: fresh clients, each resuming the one before, through churn -----------------


async def test_fresh_clients_resume_a_churning_walk_exactly_once_in_order():
    rng = random.Random(27)
    async with FakeCarrierX(token=TOKEN, size=2700, seed=11) as fake:
        # Ground truth, counted here: the US numbers present from start to end.
        start = {r["phonenumber"] for r in fake.inventory if r["country_code"] == "USA"}
        assert len(start) >= 2500
        ever = {r["phonenumber"] for r in fake.inventory}
        rented, added = set(), set()
        got, cursors, pages = [], [], []
        while True:
            # Before every request: 6 numbers rented and 6 added, anywhere in the order.
            gone = rng.sample([r for r in fake.inventory], 6)
            fake.remove(*(r["did_sid"] for r in gone))
            rented |= {r["phonenumber"] for r in gone}
            new = []
            while len(new) < 6:
                phone = str(rng.randrange(12_000_000_000, 19_999_999_999))
                if phone not in ever:
                    ever.add(phone)
                    new.append(phone)
            fake.add(*(did_record(phonenumber=p) for p in new))
            added |= set(new)
            before = len(fake.requests)
            async with Client(TOKEN, base_url=fake.base_url) as client:
                stream = client.available_dids(
                    filter=F.country_code == "USA",
                    pagination="keyset",
                    page_size=100,
                    max_items=100,
                    after=cursors[-1] if cursors else None,
                )
                page = [did.phonenumber async for did in stream]
                cursor = stream.cursor
            assert len(fake.requests) == before + 1  # one request per client
            pages.append(page)
            got += page
            if not page:
                assert cursor is None
                break
            assert CURSOR.fullmatch(cursor)
            cursors.append(cursor)
        present = start - rented
    assert len(got) == len(set(got)) and got == sorted(got)  # once each, in order
    assert [p for p in got if p in present] == sorted(present)  # every one present throughout
    assert set(got) - present <= rented | added  # the rest came and went during the walk
    assert set(got) & added and rented - set(got)  # the churn reached ahead of the walk
    assert len(pages) >= 26 and all(len(p) == 100 for p in pages[:25])
    # The wire: the caller's filter, then it with only the seek past the last number yielded.
    expected = ["country_code eq USA"] + [
        f"country_code eq USA and phonenumber gt {page[-1]}" for page in pages[:-1]
    ]
    assert filters(fake) == expected
    assert {r.query["offset"] for r in fake.requests} == {"0"}


async def test_descending_walks_resume_below_the_cursor():
    async with (
        FakeCarrierX(token=TOKEN, size=300) as fake,
        Client(TOKEN, base_url=fake.base_url) as client,
    ):
        ny = sorted((r["phonenumber"] for r in fake.inventory if r["state"] == "NY"), reverse=True)
        args = dict(filter='state eq "NY"', pagination="keyset", order="phonenumber desc")
        first = client.available_dids(**args, max_items=5)
        assert [d.phonenumber async for d in first] == ny[:5]
        rest = client.available_dids(**args, page_size=1000, after=first.cursor)
        assert [d.phonenumber async for d in rest] == ny[5:]
        assert filters(fake)[-1] == f"state eq NY and phonenumber lt {ny[4]}"


# -- what stream.cursor is ------------------------------------------------------------------


async def test_cursor_is_the_last_record_handed_out_in_every_view():
    async with (
        FakeCarrierX(token=TOKEN, size=200) as fake,
        Client(TOKEN, base_url=fake.base_url) as client,
    ):
        numbers = sorted(r["phonenumber"] for r in fake.inventory)
        stream = client.available_dids(pagination="keyset", page_size=30, max_items=45)

        async def after(cursor):  # where a resumed walk starts: its first number
            resumed = client.available_dids(pagination="keyset", max_items=1, after=cursor)
            return [d.phonenumber async for d in resumed].pop()

        assert stream.cursor is None  # before the first record
        async for did in stream:
            if did.phonenumber == numbers[9]:
                assert await after(stream.cursor) == numbers[10]  # not the page's end
        assert await after(stream.cursor) == numbers[45]  # after the max_items cut
        # .pages(): the last record of the last page handed out; a fresh walk each time.
        pages = stream.pages()
        assert pages.cursor is None
        page = await anext(pages)
        assert [d.phonenumber for d in page.items] == numbers[:30]
        assert await after(pages.cursor) == numbers[30]
        await pages.aclose()
        dicts = stream.dicts()
        assert [r["phonenumber"] async for r in dicts][-1] == numbers[44]
        assert await after(dicts.cursor) == numbers[45]


async def test_a_resumed_stream_walks_afresh_from_the_same_cursor():
    async with (
        FakeCarrierX(token=TOKEN, size=200) as fake,
        Client(TOKEN, base_url=fake.base_url) as client,
    ):
        numbers = sorted(r["phonenumber"] for r in fake.inventory)
        first = client.available_dids(pagination="keyset", max_items=50)
        assert len([d async for d in first]) == 50
        resumed = client.available_dids(pagination="keyset", max_items=20, after=first.cursor)
        assert resumed.cursor is None  # nothing handed out yet
        assert [d.phonenumber async for d in resumed] == numbers[50:70]
        pages = [p async for p in resumed.pages()]
        assert [d.phonenumber for p in pages for d in p.items] == numbers[50:70]
        assert [r["phonenumber"] async for r in resumed.dicts()] == numbers[50:70]
        assert set(filters(fake)[1:]) == {f"phonenumber gt {numbers[49]}"}


async def test_offset_walks_and_alternatives_have_no_cursor():
    async with (
        FakeCarrierX(token=TOKEN, size=100) as fake,
        Client(TOKEN, base_url=fake.base_url) as client,
    ):
        for stream in (
            client.available_dids(max_items=5),
            client.available_dids(pagination="keyset", filter=(F.state == "NY") | (F.npa == 212)),
            client.available_dids(
                pagination="keyset", filter=F.state.in_(["NY", "CA"]), max_items=5
            ),
        ):
            assert [d async for d in stream]
            assert stream.cursor is None


async def test_a_number_that_is_not_1_to_15_digits_has_no_cursor():
    odd = [did_record(phonenumber="1234567890123456"), did_record(phonenumber="15551230000x")]
    for record in odd:
        async with (
            FakeCarrierX(token=TOKEN, inventory=[record]) as fake,
            Client(TOKEN, base_url=fake.base_url) as client,
        ):
            stream = client.available_dids(pagination="keyset")
            assert [d.phonenumber async for d in stream] == [record["phonenumber"]]
            with pytest.raises(PaginationError, match="not 1 to 15 digits"):
                stream.cursor  # noqa: B018


# -- cursors from strangers ---------------------------------------------------------------


def fp_bytes(cursor):
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    return raw[1:10]


def forge(key, like, version=1):
    """A cursor in the documented layout (_cursor's docstring) with a valid checksum."""
    body = bytes([version]) + fp_bytes(like) + key
    check = hashlib.blake2b(body, digest_size=4, person=b"cxcursor").digest()
    return base64.urlsafe_b64encode(body + check).rstrip(b"=").decode()


async def test_hostile_cursors_are_refused_before_any_request():
    async with FakeCarrierX(token=TOKEN, size=100) as fake:
        ny = {"filter": F.state == "NY", "pagination": "keyset"}
        async with Client(TOKEN, base_url=fake.base_url) as client:
            good = client.available_dids(**ny, max_items=3)
            assert len([d async for d in good]) == 3
            cursor = good.cursor
            others = []
            for args in ({"filter": F.state == "CA"}, {**ny, "order": "phonenumber desc"}):
                stream = client.available_dids(**{"pagination": "keyset", **args}, max_items=1)
                assert len([d async for d in stream]) == 1
                others.append(stream.cursor)
        fake.requests.clear()
        hostile = {
            "filter text": 'state eq "NY" or 1 eq 1',
            "quotes": "1'\"",
            "and": "15551234567 and state eq NY",
            "control characters": "AAAA\x00\r\nBBBB",
            "huge": "A" * 100_000,
            "truncated": cursor[:-3],
            "one character changed": cursor[:-1] + ("A" if cursor[-1] != "A" else "B"),
            "padding": cursor + "==",
            "non-ASCII": cursor[:-1] + "é",
            "another filter's": others[0],
            "another order's": others[1],
            "another filter's, forged": forge(b"15551234567", others[0]),
            "version 2": forge(b"15551234567", cursor, version=2),
            "filter text as the key": forge(b'1 or state eq "NJ"', cursor),
            "a quote in the key": forge(b'1" or "1', cursor),
            "a 16-digit key": forge(b"1234567890123456", cursor),
            "an empty key": forge(b"", cursor),
            "non-ASCII digits": forge("١٢٣".encode(), cursor),
            "a NUL in the key": forge(b"1555\x001234", cursor),
            "a negative key": forge(b"-1", cursor),
            "empty": "",
            "bytes": cursor.encode(),
            "a number": 15551234567,
        }
        async with Client(TOKEN, base_url=fake.base_url) as client:
            for kind, bad in hostile.items():
                with pytest.raises(ConfigurationError) as info:
                    client.available_dids(**ny, after=bad)
                message = str(info.value)
                assert len(message) < 300 and not re.search(r"[\x00-\x1f]", message), kind
                assert "A" * 20 not in message and "state eq" not in message, kind
            # A good cursor with arguments no cursor can resume: each says why.
            for args, why in (
                ({"filter": F.state == "NY"}, "pass pagination='keyset'"),
                ({"pagination": "keyset", "include_external": True}, "external provider"),
                ({"include_external": True, "filter": F.country_code == "USA"}, "external"),
                ({"pagination": "keyset", "filter": F.state.in_(["NY", "NJ"])}, "alternative"),
                ({**ny, "order": "phonenumber desc"}, "different filter/order/fields"),
                ({**ny, "include_fields": ["phonenumber"]}, "different filter/order/fields"),
            ):
                with pytest.raises(ConfigurationError, match=why):
                    client.available_dids(**args, after=cursor)
        assert fake.requests == []


def test_the_forger_matches_the_library():
    # forge() must build real cursors, or the "refused" cases above prove nothing.
    from carrierx_async._cursor import decode_cursor, encode_cursor, query_fingerprint

    fp = query_fingerprint(
        filter_text="", descending=False, include_fields=None, exclude_fields=None
    )
    cursor = encode_cursor("15551234567", fp)
    assert forge(b"15551234567", cursor) == cursor
    assert decode_cursor(forge(b"15550000000", cursor), fp) == "15550000000"
