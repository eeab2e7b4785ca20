"""Live inventory over the wire: a hostile loopback server IN THIS TEST mutates its list
between requests, and every walk is counted against a ground truth (the numbers present
throughout): lost = ground truth not yielded, duplicated = yielded more than once.

The server here is written from scratch (not the shipped fake): it serves ``offset``/
``limit`` over a Python list, understands ``order=phonenumber asc|desc`` and the filter
conditions ``phonenumber gt|lt <n>`` and ``state eq <s>``, honours field filtering, and
calls a per-test ``mutate(live, request_number)`` before answering each request.
"""

import asyncio
import logging
import random
import re
from collections import Counter

import pytest
from aiohttp import web

from carrierx_async import ConfigurationError, F, PaginationError
from carrierx_async._pagination import OVERLAP, STALL_PAGES

TOKEN = "test-token-not-real"
STATES = ("NY", "CA", "TX")
_COND = re.compile(r"^(\w+) (eq|gt|lt) (\S+)$")


class Live:
    """The server's list: records in order, with helpers to rent and add numbers."""

    def __init__(self, n, *, rng, spacing=1000):
        self.rng = rng
        self.records = [self.make(1_000_000_000 + i * spacing) for i in range(n)]
        self.initial = {r["phonenumber"] for r in self.records}
        self.removed = set()
        self.served_end = 0  # the end of the last page served: the client's cursor
        self.numbers = set(self.initial)

    def make(self, n):
        number = f"1{n:010d}"
        return {
            "did_sid": f"00000000-0000-4000-8000-{n:012x}",
            "phonenumber": number,
            "state": STATES[n % 3],
            "price": "0.6",
        }

    def rent(self, positions):
        for pos in sorted(set(positions), reverse=True):
            record = self.records.pop(pos)
            self.removed.add(record["phonenumber"])

    def rent_before_cursor(self, k):
        end = min(self.served_end, len(self.records))
        self.rent(self.rng.sample(range(end), min(k, end)))

    def rent_just_before_cursor(self, k):
        end = min(self.served_end, len(self.records))
        self.rent(range(max(0, end - k), end))

    def add_at(self, pos, k):
        """k new numbers at list position pos, with numbers that sort there too."""
        room = 20 * (k + 1)
        numbers = [int(r["phonenumber"][1:]) for r in self.records[max(0, pos - 1) : pos + 1]]
        low = numbers[0] if pos > 0 else numbers[0] - room
        high = numbers[-1] if pos < len(self.records) else low + room
        fresh = sorted(
            n
            for n in self.rng.sample(range(low + 1, high), min(k, high - low - 1))
            if f"1{n:010d}" not in self.numbers
        )
        new = [self.make(n) for n in fresh]
        self.numbers.update(r["phonenumber"] for r in new)
        self.records[pos:pos] = new

    def add_random(self, k):
        for _ in range(k):
            self.add_at(self.rng.randrange(len(self.records) + 1), 1)

    def truth(self):
        return self.initial - self.removed


async def start_live_server(mutate, live, *, envelope_hook=None):
    """Start the hostile app; returns (runner, base_url, requests list)."""
    seen = []

    async def handle(request):
        q = request.query
        seen.append(dict(q))
        if mutate is not None:
            mutate(live, len(seen))
        offset, limit = int(q.get("offset", 0)), int(q.get("limit", 10))
        rows = live.records
        if order := q.get("order"):
            field, _, direction = order.partition(" ")
            assert field == "phonenumber"
            rows = sorted(rows, key=lambda r: r["phonenumber"], reverse=direction == "desc")
        for text in filter(None, q.get("filter", "").split(" and ")):
            field, op, value = _COND.match(text).groups()
            if op == "eq":
                rows = [r for r in rows if r[field] == value]
            elif op == "gt":
                rows = [r for r in rows if r[field] > value]
            else:
                rows = [r for r in rows if r[field] < value]
        items = rows[offset : offset + limit]
        if "order" not in q:
            live.served_end = offset + len(items)
        if fields := q.get("include_fields"):
            keep = set(fields.split(","))
            items = [{k: v for k, v in r.items() if k in keep} for r in items]
        if fields := q.get("exclude_fields"):
            drop = set(fields.split(","))
            items = [{k: v for k, v in r.items() if k not in drop} for r in items]
        body = {
            "count": len(items),
            "has_more": offset + limit < len(rows),
            "items": items,
            "limit": limit,
            "offset": offset,
            "pagination": {},
            "total": None,
        }
        if envelope_hook is not None:
            body = envelope_hook(body, len(seen))
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/core/v2/phonenumber/available_dids", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/core/v2", seen


@pytest.fixture
async def hostile():
    """start_live_server(...), cleaned up after the test."""
    runners = []

    async def start(mutate, live, **kw):
        runner, base, seen = await start_live_server(mutate, live, **kw)
        runners.append(runner)
        return base, seen

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def make_client():
    from carrierx_async import Client

    clients = []

    def make(base, **kw):
        c = Client(TOKEN, base_url=base, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.close()


def tally(got, live):
    """(lost, duplicated) against the numbers present throughout."""
    counts = Counter(got)
    lost = len(live.truth() - counts.keys())
    duplicated = sum(c - 1 for c in counts.values())
    return lost, duplicated


async def walk(client, **kw):
    stream = client.available_dids(**kw)
    got = [d.phonenumber async for d in stream]
    return got, stream.stats


def once(before_request, change):
    """A mutation applied once, just before request number ``before_request``."""

    def mutate(live, n):
        if n == before_request:
            change(live)

    return mutate


# -- the table, offset mode: 0 lost, 0 duplicated ------------------------------------

TABLE = [
    # (page size, records, mutation, id)
    (1000, 5000, once(2, lambda live: live.rent_before_cursor(15)), "1000-rent-15"),
    (1000, 5000, once(2, lambda live: live.rent_before_cursor(50)), "1000-rent-50"),
    (1000, 5000, once(2, lambda live: live.rent_before_cursor(500)), "1000-rent-500"),
    (1000, 5000, once(2, lambda live: live.add_at(0, 1500)), "1000-add-1500-front"),
    (10, 300, once(2, lambda live: live.rent_before_cursor(3)), "10-rent-3"),
    (10, 300, once(2, lambda live: live.rent_before_cursor(5)), "10-rent-5"),
    (10, 300, once(2, lambda live: live.add_at(0, 15)), "10-add-15-front"),
    (10, 3000, once(2, lambda live: live.add_at(0, 8)), "10-add-8-front"),
]


@pytest.mark.parametrize(
    ("page_size", "size", "mutate"), [t[:3] for t in TABLE], ids=[t[3] for t in TABLE]
)
async def test_offset_walk_heals_every_row_of_the_table(
    hostile, make_client, page_size, size, mutate, caplog
):
    live = Live(size, rng=random.Random(11))
    base, _ = await hostile(mutate, live)
    client = make_client(base)
    with caplog.at_level(logging.WARNING, logger="carrierx_async"):
        got, stats = await walk(client, page_size=page_size)
    assert tally(got, live) == (0, 0)
    assert stats.possible_gaps == 0 and stats.complete
    assert stats.windows_healed >= 1  # the slip was seen, not missed by luck
    assert stats.records_yielded == len(got)
    assert caplog.records == []  # healed: nothing to warn about


@pytest.mark.parametrize("k", [3, 5, 9])
async def test_offset_walk_heals_numbers_rented_before_every_request(hostile, make_client, k):
    # Up to a page's worth rented before the cursor between every two requests, page 10.
    live = Live(400, rng=random.Random(k))
    base, _ = await hostile(lambda live, n: n > 1 and live.rent_before_cursor(k), live)
    got, stats = await walk(make_client(base), page_size=10)
    assert tally(got, live) == (0, 0)
    assert stats.windows_healed > 0
    # At 9 of 10 the previous page's records themselves get rented: nothing left to re-find
    # the place by, which the walk reports (nothing was lost, but it cannot know that).
    assert (stats.possible_gaps == 0) is (k < 9)


@pytest.mark.parametrize("k", [6, 8])
async def test_offset_walk_heals_rentals_before_two_requests_in_a_row(hostile, make_client, k):
    # The k records just served are rented before two requests in a row (page 10, overlap
    # 2): a slip, then more numbers rented before the request that steps back. One page
    # back is not far enough (2k >= page + overlap); two pages are.
    live = Live(600, rng=random.Random(k))
    base, _ = await hostile(
        lambda live, n: n % 6 in (2, 3) and live.rent_just_before_cursor(k), live
    )
    got, stats = await walk(make_client(base), page_size=10)
    assert tally(got, live) == (0, 0)
    # Every step back lands before records it yielded that are now rented: the walk keeps
    # them "ahead" of its cursor (they could have been pushed ahead by additions) until
    # twelve pages' worth pile up, then forgets them and counts that as a possible gap.
    assert stats.windows_healed > 0 and stats.possible_gaps == 1


@pytest.mark.parametrize(
    ("page_size", "size", "k"),
    [(10, 600, 2), (10, 600, 5), (1000, 8000, 2), (1000, 12_000, 250), (1000, 12_000, 500)],
)
async def test_offset_walk_heals_rentals_just_behind_the_cursor_before_every_request(
    hostile, make_client, page_size, size, k
):
    # The k records just served are rented before every request: the offset stops moving,
    # each step back lands on the same early records, and they must stay known (not be
    # forgotten by the age of their yield and yielded again as "new").
    live = Live(size, rng=random.Random(k))
    base, seen = await hostile(lambda live, n: n > 1 and live.rent_just_before_cursor(k), live)
    async with asyncio.timeout(60):
        got, stats = await walk(make_client(base), page_size=page_size)
    assert tally(got, live) == (0, 0)
    # Far more yielded than the walk's window holds (fewer than six pages' worth), nothing
    # twice; the numbers present throughout are the early ones it kept stepping back to.
    assert len(got) > 6 * page_size
    # (pages of 10: the rented records kept "ahead" pile up past twelve pages, see above)
    assert stats.possible_gaps == (2 if page_size == 10 else 0)
    assert stats.windows_healed > 0
    # The server never sent a record twice: what the walk re-read, it re-read on purpose.
    assert stats.duplicates_dropped == 0
    assert stats.requests == len(seen)


async def test_offset_walk_heals_random_rentals_over_100k_records(hostile, make_client):
    # 0-20 numbers rented at random positions before every request (table row 2).
    live = Live(100_000, rng=random.Random(5))

    def mutate(live, n):
        live.rent(live.rng.sample(range(len(live.records)), live.rng.randint(0, 20)))

    base, seen = await hostile(mutate, live)
    got, stats = await walk(make_client(base), page_size=1000)
    assert tally(got, live) == (0, 0)
    assert stats.requests == len(seen) and stats.possible_gaps == 0
    assert stats.windows_healed > 0 and stats.duplicates_dropped == 0  # re-reads are not dups


async def test_offset_walk_heals_random_additions_before_every_request(hostile, make_client):
    live = Live(20_000, rng=random.Random(6))
    base, _ = await hostile(lambda live, n: live.add_random(live.rng.randint(0, 50)), live)
    got, stats = await walk(make_client(base), page_size=500)
    assert tally(got, live) == (0, 0)
    assert stats.duplicates_dropped > 0  # re-read records were dropped, not yielded


async def test_beyond_healing_warns_once_and_counts(hostile, make_client, caplog):
    # Three pages' worth rented before the cursor, twice: a gap the walk cannot bridge.
    live = Live(3000, rng=random.Random(3))
    base, _ = await hostile(
        lambda live, n: (n in (2, 6) and live.rent_before_cursor(3000)) or None, live
    )
    with caplog.at_level(logging.WARNING, logger="carrierx_async"):
        got, stats = await walk(make_client(base), page_size=100)
    lost, duplicated = tally(got, live)
    assert lost > 0 and duplicated == 0  # it really lost records...
    assert stats.possible_gaps == 2 and not stats.complete  # ...and said so
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "records may be missing" in warnings[0].getMessage()


async def test_stats_count_requests_and_records(hostile, make_client):
    live = Live(250, rng=random.Random(1))
    base, seen = await hostile(None, live)
    client = make_client(base)
    stream = client.available_dids(page_size=100)
    assert stats_tuple(stream.stats) == (0, 0, 0, 0, 0, 0)  # readable before it starts
    got = [d async for d in stream]
    assert len(got) == 250
    # 100 new, then 90 new per page (OVERLAP re-read): 0, 90, 180 -> three requests.
    assert stats_tuple(stream.stats) == (len(seen), 0, 250, 0, 0, 0) == (3, 0, 250, 0, 0, 0)


def stats_tuple(s):
    return (
        s.requests,
        s.retries,
        s.records_yielded,
        s.duplicates_dropped,
        s.windows_healed,
        s.possible_gaps,
    )


async def test_stats_count_retries(hostile, make_client):
    live = Live(30, rng=random.Random(1))

    def hook(body, n):
        if n <= 2:  # two 503s before the server answers: three attempts, two retries
            raise web.HTTPServiceUnavailable()
        return body

    async def no_sleep(_):
        pass

    base, seen = await hostile(None, live, envelope_hook=hook)
    client = make_client(base)
    client._transport._sleep = no_sleep  # backoff without real waiting
    stream = client.available_dids(page_size=100)
    got = [d async for d in stream]
    assert len(got) == 30 and len(seen) == 3
    assert (stream.stats.requests, stream.stats.retries) == (3, 2)


# -- identity rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"exclude_fields": ["did_sid"]},
        {"include_fields": ["phonenumber", "price"]},
    ],
    ids=["exclude-did_sid", "include-phonenumber-price"],
)
async def test_phonenumber_is_the_identity_without_did_sid(hostile, make_client, fields):
    # Numbers added at the front (duplicates without an identity) and rented before the
    # cursor (losses without an overlap) while a 200-record walk runs.
    live = Live(200, rng=random.Random(2))

    def mutate(live, n):
        if n % 2:
            live.add_at(0, 4)
        else:
            live.rent_before_cursor(4)

    base, _ = await hostile(mutate, live)
    got, stats = await walk(make_client(base), page_size=20, **fields)
    assert tally(got, live) == (0, 0)
    assert stats.possible_gaps == 0


async def test_duplicate_later_in_a_page_than_the_overlap_is_dropped(hostile, make_client):
    live = Live(60, rng=random.Random(4))

    def hook(body, n):
        if n == 2:  # a record of page 1 shows up again in the middle of page 2
            body["items"][12] = dict(live.records[3])
        return body

    base, _ = await hostile(None, live, envelope_hook=hook)
    got, stats = await walk(make_client(base), page_size=20)
    assert Counter(got)[live.records[3]["phonenumber"]] == 1
    assert stats.duplicates_dropped == 1
    # The record it replaced on the wire was never served: exactly that one is missing.
    assert tally(got, live) == (1, 0)


async def test_response_without_has_more_is_the_last_page(hostile, make_client):
    live = Live(50, rng=random.Random(4))

    def hook(body, n):
        del body["has_more"]
        return body

    base, seen = await hostile(None, live, envelope_hook=hook)
    got, _ = await walk(make_client(base), page_size=20)
    assert len(got) == 20 and len(seen) == 1


async def test_short_pages_no_longer_than_the_overlap_still_advance(hostile, make_client):
    live = Live(40, rng=random.Random(4))

    def hook(body, n):
        # The server pages by at most 2 records, fewer than OVERLAP, and says has_more.
        body["items"] = body["items"][:2]
        body["count"] = len(body["items"])
        body["has_more"] = body["offset"] + 2 < len(live.records)
        return body

    base, seen = await hostile(None, live, envelope_hook=hook)
    got, _ = await walk(make_client(base), page_size=40)
    assert OVERLAP > 2
    assert tally(got, live) == (0, 0)
    # Each page re-reads one record (never all it got): one step forward per request.
    assert [int(q["offset"]) for q in seen] == list(range(39))


# -- hostile servers that do not advance --------------------------------------------------------


async def test_cycling_server_raises_within_a_few_requests(hostile, make_client):
    # Pages A, B, A, B ... with the requested offset echoed and has_more forever, where B
    # even overlaps A properly: a naive walk yields B's records again and again.
    live = Live(3000, rng=random.Random(8))
    a, b = live.records[0:100], live.records[90:190]

    def hook(body, n):
        body["items"] = [dict(r) for r in (a if n % 2 else b)]
        body["count"], body["has_more"] = 100, True
        return body

    base, seen = await hostile(None, live, envelope_hook=hook)
    got = []
    async with asyncio.timeout(30):
        with pytest.raises(PaginationError, match="not advancing"):
            async for d in make_client(base).available_dids(page_size=100):
                got.append(d.phonenumber)
    assert len(seen) <= 2 + STALL_PAGES
    assert Counter(got).most_common(1)[0][1] == 1  # nothing yielded twice


async def test_cycling_disjoint_pages_raise_too(hostile, make_client):
    live = Live(3000, rng=random.Random(8))
    a, b = live.records[0:100], live.records[500:600]

    def hook(body, n):
        body["items"] = [dict(r) for r in (a if n % 2 else b)]
        body["count"], body["has_more"] = 100, True
        return body

    base, seen = await hostile(None, live, envelope_hook=hook)
    got = []
    async with asyncio.timeout(30):
        with pytest.raises(PaginationError):
            async for d in make_client(base).available_dids(page_size=100):
                got.append(d.phonenumber)
    assert len(seen) <= 2 + STALL_PAGES
    assert len(got) == len(set(got))


async def test_cycling_ring_longer_than_the_window_raises(hostile, make_client):
    # Five pages that overlap like a real walk, served in a ring whatever the offset: the
    # records of the first come back after the walk has forgotten them.
    live = Live(3000, rng=random.Random(9))
    ring = [live.records[i * 90 : i * 90 + 100] for i in range(5)]

    def hook(body, n):
        body["items"] = [dict(r) for r in ring[(n - 1) % len(ring)]]
        body["count"], body["has_more"] = 100, True
        return body

    base, seen = await hostile(None, live, envelope_hook=hook)
    got = []
    async with asyncio.timeout(30):
        with pytest.raises(PaginationError, match="not advancing"):
            async for d in make_client(base).available_dids(page_size=100):
                got.append(d.phonenumber)
    assert len(got) == len(set(got)) == 460
    assert len(seen) <= len(ring) + STALL_PAGES


async def test_additions_as_fast_as_the_walk_moves_fail_loudly(hostile, make_client):
    # Exactly page - overlap numbers added at the front before every request: every page
    # is the first page again, at the next offset. That cannot be told from a server stuck
    # on one page while echoing the offset, so offset mode raises (naming keyset), and
    # keyset walks it exactly once.
    overlap = min(OVERLAP, 10 // 4)
    live = Live(600, rng=random.Random(12))
    base, seen = await hostile(lambda live, n: n > 1 and live.add_at(0, 10 - overlap), live)
    got = []
    async with asyncio.timeout(30):
        with pytest.raises(PaginationError, match=r"not advancing.*pagination='keyset'"):
            async for d in make_client(base).available_dids(page_size=10):
                got.append(d.phonenumber)
    assert got == [r["phonenumber"] for r in live.records[-600:][:10]]  # the first page once
    assert len(seen) == 1 + STALL_PAGES
    live = Live(600, rng=random.Random(12))
    base, _ = await hostile(lambda live, n: n > 1 and live.add_at(0, 10 - overlap), live)
    async with asyncio.timeout(30):
        got, stats = await walk(make_client(base), page_size=10, pagination="keyset")
    assert tally(got, live) == (0, 0) and stats.complete


def ab_cycle(a, b):
    def hook(body, n):
        body["items"] = [{k: v for k, v in r.items() if k in ("state",)} for r in (a, b)[n % 2]]
        body["count"], body["has_more"] = len(body["items"]), True
        return body

    return hook


async def test_cycling_server_raises_without_an_identity_field(hostile, make_client, caplog):
    # include_fields=["state"]: no did_sid, no phonenumber. Pages are told apart by their
    # content, so an A, B, A, B server still fails within a few requests.
    live = Live(3000, rng=random.Random(8))
    a, b = live.records[0:100], live.records[500:600]
    base, seen = await hostile(None, live, envelope_hook=ab_cycle(a, b))
    stream = make_client(base).available_dids(page_size=100, include_fields=["state"])
    async with asyncio.timeout(30):
        with pytest.raises(PaginationError, match="not advancing"):
            async for _ in stream:
                pass
    assert seen[0]["include_fields"] == "state,did_sid"  # the identity is always asked for
    assert len(seen) <= 2 + STALL_PAGES
    assert not stream.stats.complete  # the walk says it is incomplete


async def test_a_walk_without_identity_over_alike_records_is_not_a_cycle(
    hostile, make_client, caplog
):
    # Every record reads {"state": "NY"}: each page looks like the last, legitimately.
    live = Live(900, rng=random.Random(8))
    base, seen = await hostile(None, live)
    with caplog.at_level(logging.WARNING, logger="carrierx_async"):
        async with asyncio.timeout(30):
            got, stats = await walk(
                make_client(base), filter="state eq NY", page_size=20, include_fields=["state"]
            )
    ny = sum(r["state"] == "NY" for r in live.records)
    # did_sid is asked for and dropped: pages of 20 re-read 5, so 15 new a request.
    assert len(got) == ny and len(seen) == 1 + -(-(ny - 20) // 15) > STALL_PAGES + 1
    assert stats.complete and stats.duplicates_dropped == 0
    assert [r for r in caplog.records if r.levelno == logging.WARNING] == []


async def test_a_record_twice_within_one_page_is_yielded_once(hostile, make_client):
    live = Live(60, rng=random.Random(4))

    def hook(body, n):
        if n == 2:  # a new record of page 2 is sent twice within that page
            body["items"][15] = dict(body["items"][12])
        return body

    base, _ = await hostile(None, live, envelope_hook=hook)
    got, stats = await walk(make_client(base), page_size=20)
    assert Counter(got).most_common(1)[0][1] == 1
    assert stats.duplicates_dropped == 1
    assert tally(got, live) == (1, 0)  # the record it replaced on the wire was never served


async def test_page_longer_than_the_limit_is_refused(hostile, make_client):
    live = Live(3000, rng=random.Random(8))

    def hook(body, n):
        body["items"] = live.records[: int(body["limit"]) + 5]
        return body

    base, _ = await hostile(None, live, envelope_hook=hook)
    got = []
    with pytest.raises(PaginationError, match="at most 100 records, the server sent 105"):
        async for d in make_client(base).available_dids(page_size=100):
            got.append(d)
    assert got == []  # nothing from that page


# -- keyset mode: exactly once under any churn ------------------------------------------------


def heavy_churn(live, n):
    rng = live.rng
    live.rent(rng.sample(range(len(live.records)), min(len(live.records), rng.randint(0, 60))))
    live.add_random(rng.randint(0, 60))


@pytest.mark.parametrize("order", [None, "phonenumber desc"])
async def test_keyset_walk_is_exactly_once_under_heavy_churn(hostile, make_client, order):
    live = Live(5000, rng=random.Random(21))
    base, seen = await hostile(heavy_churn, live)
    got, stats = await walk(make_client(base), page_size=100, pagination="keyset", order=order)
    assert tally(got, live) == (0, 0)
    assert got == sorted(got, reverse=order is not None)
    assert set(got) <= live.numbers  # nothing invented
    assert all(q["offset"] == "0" for q in seen)
    assert seen[1]["filter"] == f"phonenumber {'lt' if order else 'gt'} {got[99]}"
    assert stats.requests == len(seen) and stats.records_yielded == len(got)


async def test_keyset_alternatives_each_seek_and_merge(hostile, make_client):
    live = Live(3000, rng=random.Random(22))
    base, seen = await hostile(heavy_churn, live)
    client = make_client(base)
    stream = client.available_dids(
        filter=F.state.in_(["NY", "CA"]), page_size=50, pagination="keyset", prefetch=2
    )
    got = [d async for d in stream]
    numbers = [d.phonenumber for d in got]
    wanted = {n for n in live.truth() if STATES[int(n[1:]) % 3] in ("NY", "CA")}
    assert wanted <= set(numbers) and len(numbers) == len(set(numbers))
    assert {d.state for d in got} == {"NY", "CA"}
    assert any(q["filter"].startswith("state eq NY and phonenumber gt ") for q in seen)


async def test_keyset_max_items_pages_and_dicts(hostile, make_client):
    live = Live(500, rng=random.Random(23))
    base, seen = await hostile(None, live)
    client = make_client(base)
    stream = client.available_dids(page_size=40, max_items=130, pagination="keyset")
    got = [d.phonenumber async for d in stream]
    expected = sorted(r["phonenumber"] for r in live.records)[:130]
    assert got == expected
    assert [q["limit"] for q in seen] == ["40", "40", "40", "10"]
    pages = [p async for p in stream.pages()]
    assert [len(p.items) for p in pages] == [40, 40, 40, 10]
    dicts = [d["phonenumber"] async for d in stream.dicts()]
    assert dicts == expected


async def test_keyset_refuses_a_page_that_does_not_move_past_the_key(hostile, make_client):
    live = Live(500, rng=random.Random(24))

    def hook(body, n):
        if n == 2:  # the server ignored the seek condition
            body["items"] = [dict(r) for r in live.records[:50]]
        return body

    base, _ = await hostile(None, live, envelope_hook=hook)
    got = []
    with pytest.raises(PaginationError, match="not strictly above the last key"):
        async for d in make_client(base).available_dids(page_size=50, pagination="keyset"):
            got.append(d.phonenumber)
    assert len(got) == 50 == len(set(got))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"order": "price"}, "phonenumber order"),
        ({"order": "shuffle"}, "phonenumber order"),
        ({"include_fields": ["did_sid", "price"]}, "needs phonenumber"),
        ({"exclude_fields": ["phonenumber"]}, "needs phonenumber"),
        (
            {"include_external": True, "filter": "country_code eq USA", "page_size": 10},
            "include_external",
        ),
        ({"pagination": "cursor"}, "'offset' or 'keyset'"),
    ],
)
async def test_keyset_refusals_come_before_any_request(hostile, make_client, kw, match):
    live = Live(10, rng=random.Random(1))
    base, seen = await hostile(None, live)
    kw = {"pagination": "keyset"} | kw
    with pytest.raises(ConfigurationError, match=match):
        make_client(base).available_dids(**kw)
    assert seen == []


# -- issue 24: the edges of the offset walk, against this hostile server ------------------


@pytest.mark.parametrize("seed", range(10))
async def test_additions_behind_the_cursor_are_never_a_silent_duplicate(hostile, make_client, seed):
    # Pages of 100; before each request 100 new numbers fall at random places before the
    # end of the last page served (issue 24, 1: 0.2 yielded 21-41 originals twice in 7 of 10
    # seeds with complete=True). Now: nothing twice while complete, nothing lost unless
    # a possible gap was counted.
    live = Live(1500, rng=random.Random(seed), spacing=10_000)

    def mutate(live, n):
        if n > 1:
            for _ in range(100):
                live.add_at(live.rng.randint(0, min(live.served_end, len(live.records))), 1)

    base, seen = await hostile(mutate, live)
    stream = make_client(base).available_dids(page_size=100)
    got = []
    raised = None
    async with asyncio.timeout(30):
        try:
            async for d in stream:
                got.append(d.phonenumber)
        except PaginationError as exc:
            raised = exc
    # A page's worth added behind the cursor per request while the walk moves 90 a
    # request: mostly it cannot move forward, and within a few pages it says so
    # (incomplete, naming keyset); else it ends with the invariant kept.
    stats = stream.stats
    lost, duplicated = tally(got, live)
    if raised is not None:
        assert "pagination='keyset'" in str(raised) and not stats.complete
    assert stats.possible_gaps > 0 or lost == 0
    assert duplicated == 0  # nothing yielded twice, even so
    assert len(seen) <= 200  # (it ends: the server does, or the walk gives up)


@pytest.mark.parametrize("n", [9, 10, 20])
async def test_rentals_behind_the_cursor_cost_at_most_three_requests_a_page(
    hostile, make_client, n
):
    # Pages of 1000, max_items=20,000, n numbers rented at random behind the cursor before
    # each request (issue 24, 2: 0.2 made 2,408 requests at n=10, and ended incomplete at
    # n=20). A slip costs the page set aside and one step back: three requests a page.
    live = Live(24_000, rng=random.Random(n))
    base, seen = await hostile(lambda live, k: k > 1 and live.rent_before_cursor(n), live)
    async with asyncio.timeout(60):
        got, stats = await walk(make_client(base), page_size=1000, max_items=20_000)
    assert len(got) == 20_000 and len(set(got)) == 20_000
    assert stats.complete
    assert len(seen) <= 3 * 20 + 2


@pytest.mark.parametrize(
    ("size", "page_size", "nulls"), [(1000, 100, [99]), (5000, 1000, range(990, 1000))]
)
async def test_records_with_a_null_did_sid_are_read_once(
    hostile, make_client, size, page_size, nulls
):
    # Issue 24, 3: on a static server a record with did_sid null at the end of a page was
    # yielded twice; ten at 990-999 gave 20 duplicates, then PaginationError, and 4,000
    # records were never read. Told apart by phonenumber, each is read once.
    live = Live(size, rng=random.Random(3))
    for i in nulls:
        live.records[i]["did_sid"] = None
    base, seen = await hostile(None, live)
    async with asyncio.timeout(30):
        got, stats = await walk(make_client(base), page_size=page_size)
    assert tally(got, live) == (0, 0) and len(got) == size
    assert stats.complete and stats.duplicates_dropped == 0
    assert len(seen) == 1 + -(-(size - page_size) // (page_size - min(OVERLAP, page_size // 4)))


async def test_a_lying_has_more_on_the_short_last_page_ends_within_one_request(
    hostile, make_client
):
    # Issue 24, 4: has_more is always true. Pages of 1000 (overlap 10) over 2,500 records:
    # offsets 0, 990, 1980 (the last 520), then 2490, which holds only the 10 known records
    # re-read: the walk ends there. 0.2 crept on: 2491, 2492, ... 2500.
    live = Live(2500, rng=random.Random(2))

    def lying(body, n):
        body["has_more"] = True
        return body

    base, seen = await hostile(None, live, envelope_hook=lying)
    async with asyncio.timeout(30):
        got, stats = await walk(make_client(base), page_size=1000)
    assert tally(got, live) == (0, 0) and len(got) == 2500
    assert [int(q["offset"]) for q in seen] == [0, 990, 1980, 2490]
    assert stats.complete
