"""Resuming keyset walks: stream.cursor and available_dids(after=) over the wire."""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import random
import re
import signal
import socket
import sys
import weakref
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from carrierx_async import Client, ConfigurationError, F, PaginationError
from carrierx_async._cursor import encode_cursor, query_fingerprint
from carrierx_async.cli import EXIT_NETWORK, main
from carrierx_async.examples.aiohttp_service import FIELDS, make_app
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
        for _ in range(40):  # (ends after 26 or 27 clients)
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
        else:
            pytest.fail("40 clients did not reach the end: they do not resume")
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


async def test_the_cursor_keeps_no_record_alive():
    async with (
        FakeCarrierX(token=TOKEN, size=50) as fake,
        Client(TOKEN, base_url=fake.base_url) as client,
    ):
        stream = client.available_dids(pagination="keyset")
        first = await anext(stream)
        number, ref = first.phonenumber, weakref.ref(first)
        del first
        assert ref() is None  # the stream kept only the key
        resumed = client.available_dids(pagination="keyset", max_items=1, after=stream.cursor)
        assert [d.phonenumber async for d in resumed] == [
            min({r["phonenumber"] for r in fake.inventory} - {number})
        ]
        await stream.aclose()


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


# -- the example service's paged view ---------------------------------------------------


@contextlib.asynccontextmanager
async def page_service(fake):
    """The example app on 127.0.0.1 (any port) against ``fake``; yields a session and URL."""
    runner = web.AppRunner(make_app(token=TOKEN, base_url=fake.base_url), shutdown_timeout=0.5)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession() as http:
            yield http, URL.build(scheme="http", host=host, port=port, path="/numbers/page")
    finally:
        await runner.cleanup()


async def get_json(http, url, status=200):
    async with http.get(url) as resp:
        assert resp.status == status
        assert resp.content_type == "application/json"
        return await resp.json()


async def test_the_paged_view_follows_next_links_to_the_end():
    async with FakeCarrierX(token=TOKEN, size=1000) as fake, page_service(fake) as (http, url):
        ny = sorted(
            ({k: r[k] for k in FIELDS} for r in fake.inventory if r["state"] == "NY"),
            key=lambda r: r["phonenumber"],
        )
        assert len(ny) > 150
        seen, cursor, pages = [], None, 0
        while True:
            query = {"state": "ny", "limit": "50"} | ({"cursor": cursor} if cursor else {})
            body = await get_json(http, url.with_query(query))
            assert set(body) == {"items", "next"}
            seen += body["items"]
            pages += 1
            cursor = body["next"]
            if cursor is None:
                break
            assert CURSOR.fullmatch(cursor) and len(body["items"]) == 50
        assert seen == ny and pages == -(-len(ny) // 50)
        # A page that ends exactly at the last number says there is no next one.
        whole = await get_json(http, url.with_query(state="NY", limit=str(len(ny))))
        assert whole == {"items": ny, "next": None}
        short = await get_json(http, url.with_query(state="NY", limit=str(len(ny) - 1)))
        assert short["items"] == ny[:-1] and short["next"] is not None
        last = await get_json(http, url.with_query(state="NY", limit="5", cursor=short["next"]))
        assert last == {"items": ny[-1:], "next": None}


async def test_the_paged_view_answers_a_bad_cursor_400_without_asking_carrierx():
    async with FakeCarrierX(token=TOKEN, size=300) as fake, page_service(fake) as (http, url):
        first = await get_json(http, url.with_query(state="NY", limit="3"))
        ca_cursor = (await get_json(http, url.with_query(state="CA", limit="3")))["next"]
        sent = len(fake.requests)
        for bad, says in (
            (first["next"][:-2], "damaged or truncated"),
            ('state eq "NY"', "characters other than"),
            ("A" * 5000, "at most 200"),
            (ca_cursor, "different filter"),
        ):
            body = await get_json(http, url.with_query(state="NY", cursor=bad), status=400)
            assert says in body["error"] and "A" * 20 not in body["error"]
        # The cursor also belongs to the filter= text: another one is refused.
        other = url.with_query(state="NY", filter="price le 5", cursor=first["next"])
        assert "different filter" in (await get_json(http, other, status=400))["error"]
        assert len(fake.requests) == sent


# -- the command line: carrierx-dids --after ------------------------------------------------

#: The installed console script (what a user runs), started with this interpreter.
SCRIPT = Path(sys.executable).with_name("carrierx-dids")
RESUME = re.compile(r"carrierx-dids: resume with --after ([A-Za-z0-9_-]+)")


def child_env():
    """This environment without CARRIERX_*, every warning shown on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARRIERX_")}
    return env | {"PYTHONWARNINGS": "default"}


def default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # in the child: Ctrl-C as a terminal sends


async def carrierx_dids(*args, token_file, base_url, interruptible=False):
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        *args,
        "--base-url",
        base_url,
        "--token-file",
        str(token_file),
        "--format",
        "jsonl",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(),
        preexec_fn=default_sigint if interruptible else None,
    )


async def run_cli(*args, **where):
    proc = await carrierx_dids(*args, **where)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert "Traceback" not in err.decode() and TOKEN not in (out + err).decode()
    return proc.returncode, [json.loads(line)["phonenumber"] for line in out.splitlines()], err


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


async def test_cli_prints_the_cursor_at_max_and_after_continues(token_file):
    assert SCRIPT.is_file()
    async with FakeCarrierX(token=TOKEN, size=500) as fake:
        where = {"token_file": token_file, "base_url": fake.base_url}
        ny = sorted(r["phonenumber"] for r in fake.inventory if r["state"] == "NY")
        code, first, err = await run_cli("--keyset", "--state", "NY", "--max", "5", **where)
        assert code == 0 and first == ny[:5]
        (line,) = err.decode().splitlines()
        cursor = RESUME.fullmatch(line)[1]
        code, rest, err = await run_cli("--after", cursor, "--state", "NY", "--max", "6", **where)
        assert code == 0 and rest == ny[5:11]
        assert fake.requests[-1].query["filter"] == f"state eq NY and phonenumber gt {ny[4]}"
        assert fake.requests[-1].query["order"] == "phonenumber asc"  # --keyset implied
        code, last, err = await run_cli("--after", cursor, "--state", "NY", "--all", **where)
        assert code == 0 and last == ny[5:] and err == b""  # the end: nothing to resume


def test_cli_refuses_an_after_it_cannot_resume(token_file, capsys):
    # In process, against a port nobody listens on: a request would exit 4, not 2.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{s.getsockname()[1]}/core/v2"
    fp = query_fingerprint(
        filter_text="state eq NY", descending=False, include_fields=None, exclude_fields=None
    )
    cursor = encode_cursor("12125550100", fp)
    where = ["--base-url", nowhere, "--token-file", str(token_file)]
    assert main(["--after", cursor, "--state", "NY", "--max", "1", "--demo"]) == 0
    capsys.readouterr()
    for args, says in (
        (["--state", "CA"], "--after: the cursor was made for a different filter"),
        (["--state", "NY", "--state", "CA"], "--after cannot continue a search with a repeated"),
        (["--country", "US", "--external"], "--after cannot be combined with --external"),
        (["--state", "NY", "--order", "price"], "--keyset walks in phonenumber order"),
        (["--state", "NY", "--fields", "phonenumber"], "--after: the cursor was made for a"),
    ):
        assert main(["--after", cursor, *args, *where]) == 2
        out, err = capsys.readouterr()
        (line,) = err.splitlines()
        assert out == "" and line.startswith(f"carrierx-dids: error: {says}"), line
    assert main(["--after", cursor[:-2], "--state", "NY", *where]) == 2
    line = capsys.readouterr().err
    assert "--after cursor" in line and "damaged or truncated" in line


@pytest.fixture
async def first_page_then_hang():
    """A hostile server: the first request answers 7 NY numbers and has_more; the first one
    seeking past them never answers (Ctrl-C); later ones find nothing more."""
    first = sorted((did_record(state="NY") for _ in range(7)), key=lambda r: r["phonenumber"])
    filters, hanging = [], asyncio.Event()

    async def handler(request):
        text = request.query.get("filter", "")
        filters.append(text)
        items = [] if "phonenumber gt" in text else first
        if not items and not hanging.is_set():
            hanging.set()
            await asyncio.sleep(3600)
        body = {"count": len(items), "has_more": bool(items), "items": items, "limit": 7}
        return web.json_response(body | {"offset": 0, "total": None, "pagination": {}})

    app = web.Application()
    app.router.add_get("/core/v2/phonenumber/available_dids", handler)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.25)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        numbers = [r["phonenumber"] for r in first]
        yield numbers, filters, hanging, f"http://{host}:{port}/core/v2"
    finally:
        await runner.cleanup()


async def test_cli_prints_the_cursor_when_interrupted(first_page_then_hang, token_file):
    numbers, filters, hanging, base_url = first_page_then_hang
    where = {"token_file": token_file, "base_url": base_url}
    args = ("--keyset", "--state", "NY", "--all", "--page-size", "7")
    proc = await carrierx_dids(*args, interruptible=True, **where)
    lines = [await asyncio.wait_for(proc.stdout.readline(), 20) for _ in numbers]
    assert [json.loads(line)["phonenumber"] for line in lines] == numbers
    await asyncio.wait_for(hanging.wait(), 20)  # the request after them is in flight
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 130 and out == b""
    interrupted, resume = err.decode().splitlines()
    assert interrupted == "carrierx-dids: interrupted after 7 numbers; the output is incomplete"
    code, rest, err = await run_cli(
        "--after", RESUME.fullmatch(resume)[1], "--state", "NY", **where
    )
    assert code == 0 and rest == [] and err == b""
    seek = f"state eq NY and phonenumber gt {numbers[-1]}"
    assert filters == ["state eq NY", seek, seek]


async def test_cli_prints_the_cursor_when_a_failure_stops_the_search(
    first_page_then_hang, token_file
):
    numbers, filters, _, base_url = first_page_then_hang
    where = {"token_file": token_file, "base_url": base_url}
    args = ("--keyset", "--state", "NY", "--all", "--page-size", "7", "--timeout", "0.3")
    code, got, err = await run_cli(*args, "--retries", "0", **where)
    assert code == EXIT_NETWORK and got == numbers  # a timeout's code, after what came
    stopped, resume, error = err.decode().splitlines()
    assert stopped == "carrierx-dids: stopped after 7 numbers; the output is incomplete"
    assert error.startswith("carrierx-dids: error: ") and "--timeout" in error
    code, rest, err = await run_cli(
        "--after", RESUME.fullmatch(resume)[1], "--state", "NY", **where
    )
    assert code == 0 and rest == [] and err == b""
    assert filters[1:] == [f"state eq NY and phonenumber gt {numbers[-1]}"] * 2
