"""The pagination walk (pure): offsets with healing, keyset seeking, cycles and stalls."""

import pytest

from carrierx_async import FilterError, PaginationError
from carrierx_async._pagination import OVERLAP, STALL_PAGES, Paginator, StreamStats
from carrierx_async._query import build_query


def envelope(ids, *, has_more, offset=None):
    return {
        "count": len(ids),
        "has_more": has_more,
        "items": [{"did_sid": i, "phonenumber": f"1{i}"} for i in ids],
        "limit": len(ids),
        "offset": offset,
        "pagination": {},
        "total": None,
    }


def walk(paginator, pages):
    """Feed pages to the paginator; return requests made and ids yielded."""
    requests, yielded = [], []
    for page in pages:
        req = paginator.next_request()
        if req is None:
            break
        requests.append(req)
        new, _ = paginator.accept(page)
        yielded += [item["did_sid"] for item in new]
    return requests, yielded


def test_paginator_stops_when_has_more_false():
    p = Paginator(build_query(page_size=4))
    requests, got = walk(
        p,
        [
            envelope("abcd", has_more=True),
            envelope("defg", has_more=True),
            envelope("gh", has_more=False),
        ],
    )
    # Each later request re-reads page_size // 4 = 1 record of overlap.
    assert requests == [(0, 4, None), (3, 4, None), (6, 4, None)]
    assert got == list("abcdefgh")
    assert p.next_request() is None


def test_paginator_overlap_bridges_removed_records():
    # Between the two requests "a" and "b" were rented: every later record shifted back
    # by two, so a plain offset walk would skip "k" and "l".
    p = Paginator(build_query(page_size=100))
    assert p.next_request() == (0, 100, None)
    first = [f"r{i:03}" for i in range(100)]
    p.accept(envelope(first, has_more=True))
    offset, _, _ = p.next_request()
    assert offset == 100 - min(OVERLAP, 25)
    remaining = first[2:] + [f"s{i:03}" for i in range(100)]
    new, _ = p.accept(envelope(remaining[offset : offset + 100], has_more=True))
    ids = [item["did_sid"] for item in new]
    assert ids[0] == "s000"  # nothing skipped, nothing repeated
    assert len(set(ids)) == len(ids)


def test_paginator_drops_duplicates_from_inserted_records():
    p = Paginator(build_query(page_size=4))
    walk(p, [envelope("abcd", has_more=True)])
    # Two records were inserted in front: "c", "d" reappear.
    new, _ = p.accept(envelope("bcde", has_more=False))
    assert [i["did_sid"] for i in new] == ["e"]


def test_paginator_max_items_shrinks_last_limit():
    p = Paginator(build_query(page_size=10, max_items=25))
    requests, got = walk(
        p,
        [
            envelope("abcdefghij", has_more=True),
            envelope("ijklmnopqr", has_more=True),
            envelope("qrstuvwxy", has_more=True),
        ],
    )
    assert requests == [(0, 10, None), (8, 10, None), (16, 9, None)]
    assert len(got) == 25 and len(set(got)) == 25
    assert p.next_request() is None


def test_paginator_max_items_smaller_than_page():
    p = Paginator(build_query(max_items=3))
    assert p.next_request() == (0, 3, None)
    new, _ = p.accept(envelope("abc", has_more=True))
    assert len(new) == 3 and p.next_request() is None


def test_paginator_refuses_a_page_for_another_offset():
    p = Paginator(build_query(page_size=4))
    walk(p, [envelope("abcd", has_more=True, offset=0)])
    assert p.next_request() == (3, 4, None)
    with pytest.raises(
        PaginationError, match="asked for offset 3, the server answered for offset 0"
    ):
        p.accept(envelope("abcd", has_more=True, offset=0))


def test_paginator_ignores_records_without_a_string_identity():
    p = Paginator(build_query(page_size=4))
    page = {"items": [{"did_sid": ["x"]}, {"did_sid": 7}, {"did_sid": "a"}], "has_more": False}
    new, _ = p.accept(page)
    assert len(new) == 3


def test_an_empty_page_ends_the_walk_even_with_has_more():
    # A short page holding nothing new is the end, whatever has_more says (issue 24, 4).
    p = Paginator(build_query())
    new, _ = p.accept(envelope("", has_more=True))
    assert new == [] and p.next_request() is None
    # Nothing was re-read, nothing dropped: an empty walk counts no duplicate.
    assert p.stats.duplicates_dropped == 0 and p.stats.windows_healed == 0


def test_a_lying_short_last_page_ends_within_one_request():
    # 2,500 records, pages of 500 (overlap 10), has_more always true: the page at 1960
    # holds 500, the one at 2450 the last 50, and the next (the overlap, 10 known records)
    # ends the walk; 0.2's walk crept on one record per request.
    records = [f"r{i:04}" for i in range(2500)]
    p = Paginator(build_query(page_size=500))
    got, offsets = [], []
    while (request := p.next_request()) is not None:
        offset, limit, _ = request
        offsets.append(offset)
        page = envelope(records[offset : offset + limit], has_more=True, offset=offset)
        got += [i["did_sid"] for i in p.accept(page)[0]]
    assert got == records
    assert offsets == [0, 490, 980, 1470, 1960, 2450, 2490]


def test_paginator_empty_last_page_ends():
    p = Paginator(build_query())
    new, _ = p.accept(envelope("", has_more=False))
    assert new == [] and p.next_request() is None


def test_paginator_stuck_server_raises_after_several_pages():
    p = Paginator(build_query(page_size=4))
    walk(p, [envelope("abcd", has_more=True)])
    for _ in range(STALL_PAGES - 1):  # one page of known records is not enough
        new, _ = p.accept(envelope("abcd", has_more=True, offset=p.offset))
        assert new == []
    with pytest.raises(PaginationError, match=r"4 pages in a row.*not advancing"):
        p.accept(envelope("abcd", has_more=True, offset=p.offset))


def test_paginator_external_mode_is_one_request():
    q = build_query(filter="country_code eq USA", include_external=True)
    p = Paginator(q)
    assert p.next_request() == (0, 10, None)
    new, _ = p.accept(envelope("abc", has_more=True))
    assert len(new) == 3
    assert p.next_request() is None  # has_more and pagination.next are ignored


@pytest.mark.parametrize(
    ("fields", "wire"),
    [
        ({"include_fields": ["price"]}, {"include_fields": "price,did_sid"}),
        ({"exclude_fields": ["did_sid"]}, {}),
        ({"exclude_fields": ["did_sid", "state"]}, {"exclude_fields": "state"}),
    ],
)
def test_the_identity_is_always_asked_for_and_dropped_from_what_is_yielded(fields, wire):
    query = build_query(page_size=8, **fields)
    params = query.params(offset=0, limit=8)
    assert {k: v for k, v in params.items() if k.endswith("_fields")} == wire
    p = Paginator(query)
    first = [{"price": "1", "did_sid": f"s{i}"} for i in range(8)]
    new, _ = p.accept({"items": first, "has_more": True, "offset": 0})
    assert new == [{"price": "1"}] * 8
    assert p.next_request() == (6, 8, None)  # an overlap: the walk can tell records apart
    second = [{"price": "1", "did_sid": f"s{i}"} for i in range(6, 14)]
    new, _ = p.accept({"items": second, "has_more": False, "offset": 6})
    assert len(new) == 6 and p.stats.complete and p.stats.duplicates_dropped == 0


def served(records, offset, limit):
    """The envelope a plain offset server answers with, for a list of ids."""
    return envelope(
        records[offset : offset + limit], has_more=offset + limit < len(records), offset=offset
    )


def test_a_slip_beyond_one_page_back_is_healed_two_pages_back():
    # Page 10, overlap 2. After three pages (r0..r25 yielded), 7 numbers already yielded
    # are rented before the next request and 7 more before the one that steps back: the
    # window slipped by 14 >= page + overlap, out of reach of a one-page step back.
    records = [f"r{i:03}" for i in range(100)]
    p = Paginator(build_query(page_size=10))
    got = []
    for _ in range(3):
        offset, limit, _ = p.next_request()
        got += [i["did_sid"] for i in p.accept(served(records, offset, limit))[0]]
    assert got[-1] == "r025"
    for burst in (records[10:17], records[17:24]):
        for r in burst:
            records.remove(r)
        offset, limit, _ = p.next_request()
        got += [i["did_sid"] for i in p.accept(served(records, offset, limit))[0]]
    assert got[-2:] == ["r026", "r027"]  # found its place two pages back (offset 4)
    while (request := p.next_request()) is not None:
        got += [i["did_sid"] for i in p.accept(served(records, request[0], request[1]))[0]]
    assert got == [f"r{i:03}" for i in range(100)]
    assert p.stats.windows_healed == 1 and p.stats.possible_gaps == 0
    assert p.stats.duplicates_dropped == 0  # re-reading on purpose is not a duplicate


def test_memory_stays_flat_over_a_long_walk():
    # 20,000 pages of 4: the walk remembers fewer than five pages' worth of identities and
    # a bounded number of page fingerprints, never one per record.
    p = Paginator(build_query(page_size=4))
    n = 0
    for _ in range(20_000):
        offset, limit, _ = p.next_request()
        ids = [f"r{i:06}" for i in range(offset, offset + limit)]
        n += len(p.accept(envelope(ids, has_more=True, offset=offset))[0])
    assert n == 20_000 * 3 + 1
    assert len(p._seen) <= 4 * 3 * 4  # at most twelve pages
    assert len(p._fingerprints) <= 4096


def test_a_duplicate_later_in_the_page_is_dropped_and_counted():
    p = Paginator(build_query(page_size=8))
    p.accept(envelope("abcdefgh", has_more=True, offset=0))
    new, _ = p.accept(envelope("ghijcklm", has_more=True, offset=6))
    assert [i["did_sid"] for i in new] == list("ijklm")
    assert p.stats.duplicates_dropped == 1 and p.stats.windows_healed == 0


def test_a_short_page_no_longer_than_the_overlap_still_advances():
    p = Paginator(build_query(page_size=100))  # overlap 10
    p.accept(envelope("abc", has_more=True, offset=0))
    assert p.next_request() == (1, 100, None)  # re-reads two, never all it got
    new, _ = p.accept(envelope("bcd", has_more=True, offset=1))
    assert [i["did_sid"] for i in new] == ["d"]
    assert p.next_request() == (2, 100, None)


def test_a_page_longer_than_the_limit_is_refused():
    p = Paginator(build_query(page_size=3))
    with pytest.raises(PaginationError, match="at most 3 records, the server sent 4"):
        p.accept(envelope("abcd", has_more=True, offset=0))


def test_an_empty_last_page_after_a_slip_steps_back():
    # The list shrank under the cursor: the page at the next offset is empty and has_more
    # is false, yet records after the last one yielded are still there, earlier.
    records = [f"r{i:03}" for i in range(12)]
    p = Paginator(build_query(page_size=8))  # overlap 2
    got = [i["did_sid"] for i in p.accept(served(records, 0, 8))[0]]
    del records[2:8]  # six yielded numbers rented: r8..r11 now sit at offsets 2..5
    assert served(records, *p.next_request()[:2])["items"] == []
    while (request := p.next_request()) is not None:
        got += [i["did_sid"] for i in p.accept(served(records, request[0], request[1]))[0]]
    assert got == [f"r{i:03}" for i in range(12)] and p.stats.possible_gaps == 0


def test_keyset_requests_seek_past_the_last_key():
    p = Paginator(build_query(page_size=3, pagination="keyset"))
    assert p.next_request() == (0, 3, None)
    p.accept(envelope(["15165550121", "15165550122", "15165550123"], has_more=True))
    assert p.next_request() == (0, 3, "115165550123")
    params = p.query.params(offset=0, limit=3, after="15165550123")
    assert params["filter"] == "phonenumber gt 15165550123"
    assert params["order"] == "phonenumber asc"


def test_keyset_seek_joins_the_callers_filter_and_goes_down():
    q = build_query(filter="state eq NY", order="phonenumber desc", pagination="keyset")
    params = q.params(offset=0, limit=5, after="15165550123")
    assert params["filter"] == "state eq NY and phonenumber lt 15165550123"
    assert params["order"] == "phonenumber desc"


def test_keyset_seek_value_is_checked():
    q = build_query(pagination="keyset")
    with pytest.raises(FilterError, match="cannot seek past"):
        q.params(offset=0, limit=5, after="1\n2\x00")


def test_keyset_key_that_cannot_be_sought_past_is_refused():
    p = Paginator(build_query(page_size=3, pagination="keyset"))
    with pytest.raises(PaginationError, match="cannot seek past phonenumber"):
        p.accept({"items": [{"phonenumber": "1\n2"}], "has_more": True})


def test_keyset_page_must_carry_a_phonenumber():
    p = Paginator(build_query(page_size=3, pagination="keyset"))
    with pytest.raises(PaginationError, match="without a phonenumber"):
        p.accept({"items": [{"did_sid": "a"}], "has_more": True})


@pytest.mark.parametrize(
    ("keys", "order"),
    [(["1", "3", "2"], None), (["1", "1"], None), (["3", "2", "2"], "phonenumber desc")],
)
def test_keyset_page_must_move_strictly_in_order(keys, order):
    p = Paginator(build_query(page_size=3, order=order, pagination="keyset"))
    with pytest.raises(PaginationError, match="not strictly"):
        p.accept({"items": [{"phonenumber": k} for k in keys], "has_more": True})


def test_stats_start_at_zero_and_say_complete():
    s = StreamStats()
    assert (s.requests, s.retries, s.records_yielded) == (0, 0, 0)
    assert s.complete
    s.possible_gaps = 1
    assert not s.complete


def test_a_record_twice_within_the_first_page_is_yielded_once():
    p = Paginator(build_query(page_size=8))
    new, _ = p.accept(envelope("abcbdb", has_more=False))
    assert [i["did_sid"] for i in new] == list("abcd")
    assert p.stats.duplicates_dropped == 2


def test_a_place_stepped_back_to_again_and_again_stays_known():
    # Page 8, overlap 2: the two records just yielded are rented before every request, so
    # each request slips, each step back lands on offset 0 and re-finds r000..r005 there,
    # long after their yield has aged out of the window.
    records = [f"r{i:03}" for i in range(200)]
    p = Paginator(build_query(page_size=8))
    got: list[str] = []
    served_end = 0
    while (request := p.next_request()) is not None:
        offset, limit, _ = request
        if got:  # rent the two records just before where the last page ended
            del records[max(0, served_end - 2) : served_end]
        page = served(records, offset, limit)
        served_end = offset + len(page["items"])
        got += [i["did_sid"] for i in p.accept(page)[0]]
    assert len(got) == len(set(got)) > 20 * 2  # far more than the window holds
    # The rented records it yielded stay "ahead" of a cursor that keeps falling back: past
    # twelve pages of them the walk forgets the oldest and says so, rather than grow.
    assert p.stats.possible_gaps == 1 and p.stats.duplicates_dropped == 0
    assert len(p._seen) <= 12 * 8  # still bounded


def test_records_with_neither_identity_are_told_apart_by_content():
    # A server that sends neither did_sid nor phonenumber: each record is known by its
    # content, yielded once, and the re-read overlap finds the cursor as usual.
    rows = [{"state": s, "price": str(i)} for i, s in enumerate(["NY", "CA", "TX"] * 4)]
    p = Paginator(build_query(page_size=8))  # overlap 2
    got = p.accept({"items": rows[:8], "has_more": True, "offset": 0})[0]
    assert p.next_request() == (6, 8, None)
    got += p.accept({"items": rows[6:], "has_more": False, "offset": 6})[0]
    assert got == rows and p.stats.complete and p.stats.windows_healed == 0


def test_a_server_cycling_two_pages_raises_and_is_incomplete():
    p = Paginator(build_query(page_size=2))
    pages = [[{"state": "NY"}, {"state": "CA"}], [{"state": "TX"}, {"state": "NY"}]]
    with pytest.raises(PaginationError, match="4 pages in a row"):
        for n in range(2 + STALL_PAGES):
            p.accept({"items": pages[n % 2], "has_more": True, "offset": p.offset})
    assert n == STALL_PAGES and not p.stats.complete


def test_a_record_without_a_did_sid_is_told_apart_by_phonenumber_and_read_once():
    # Page 8, overlap 2: the first page ends with records whose did_sid is missing or
    # null, and the next request re-reads them: known by phonenumber, not yielded again.
    first = envelope("abcdef", has_more=True, offset=0)
    first["items"] += [{"phonenumber": "1x"}, {"did_sid": None, "phonenumber": "1y"}]
    second = envelope("hijklm", has_more=False, offset=6)
    second["items"][:0] = [{"phonenumber": "1x"}, {"did_sid": None, "phonenumber": "1y"}]
    p = Paginator(build_query(page_size=8))
    got = p.accept(first)[0] + p.accept(second)[0]
    assert [i.get("phonenumber") for i in got] == [*(f"1{c}" for c in "abcdef"), "1x", "1y"] + [
        f"1{c}" for c in "hijklm"
    ]
    assert p.stats.complete and p.stats.duplicates_dropped == 0


def test_a_record_seen_two_pages_ago_later_in_a_page_is_not_yielded_again():
    # "c" was yielded two pages back; met again after the cursor, it is a duplicate.
    p = Paginator(build_query(page_size=8))
    p.accept(envelope("abcdefgh", has_more=True, offset=0))
    p.accept(envelope("ghijklmn", has_more=True, offset=6))
    new, _ = p.accept(envelope("mnocpqrs", has_more=True, offset=12))
    assert [i["did_sid"] for i in new] == list("opqrs")
    assert p.stats.duplicates_dropped == 1


def test_a_step_back_that_lands_on_the_overlap_counts_as_healed():
    # Page 8, overlap 2. After r000..r019 are yielded, r002..r017 are rented: the next page
    # holds nothing known, the walk steps back to offset 2, and that page starts exactly
    # with the two records yielded last, as a plain next page would.
    records = [f"r{i:03}" for i in range(100)]
    p = Paginator(build_query(page_size=8))
    got: list[str] = []
    for _ in range(3):
        offset, limit, _ = p.next_request()
        got += [i["did_sid"] for i in p.accept(served(records, offset, limit))[0]]
    assert got[-1] == "r019"
    del records[2:18]
    while (request := p.next_request()) is not None:
        got += [i["did_sid"] for i in p.accept(served(records, request[0], request[1]))[0]]
    assert got == [f"r{i:03}" for i in range(100)]
    assert p.stats.windows_healed == 1 and p.stats.possible_gaps == 0


@pytest.mark.parametrize(("page_size", "requests"), [(1, 11), (2, 10), (3, 5)])
def test_pages_too_small_for_a_quarter_overlap_still_walk_the_whole_list(page_size, requests):
    # A quarter of a page of 1-3 records is 0: the walk re-reads 1 record anyway where a page
    # has room (pages of 2: 1 new a request, 10 requests for 11 records; pages of 3: 2 new,
    # 5 requests). Pages of 1 cannot re-read anything: each boundary is unchecked (a possible
    # gap), never a slip to step back from (which looped back to offset 0 and raised).
    records = [f"r{i:03}" for i in range(11)]
    p = Paginator(build_query(page_size=page_size))
    got, made = [], 0
    while (request := p.next_request()) is not None:
        made += 1
        got += [i["did_sid"] for i in p.accept(served(records, request[0], request[1]))[0]]
    assert got == records
    assert made == requests
    assert p.stats.possible_gaps == (10 if page_size == 1 else 0)
    assert all("re-reads nothing" in w for w in p.warnings) and len(p.warnings) == (
        10 if page_size == 1 else 0
    )
    assert p.stats.windows_healed == 0 and p.stats.duplicates_dropped == 0


def test_the_window_keeps_hashes_of_identities_not_the_parsed_strings():
    # Kept strings hold their pages' parsed memory in pieces (see _pagination): the
    # window keeps each identity's hash, so none of a page's strings outlive it there.
    p = Paginator(build_query(page_size=8))
    for offset, ids in ((0, "abcdefgh"), (6, "ghijklmn"), (12, "mnopqrst")):
        p.accept(envelope(ids, has_more=True, offset=offset))
    kept = list(p._seen)
    assert kept and all(isinstance(k, int) for k in kept)
    assert set(kept) >= {hash(c) for c in "opqrst"}
