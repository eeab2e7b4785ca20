"""The pagination walk (pure): offsets with healing, keyset seeking, cycles and stalls."""

import pytest

from carrierx_async import PaginationError
from carrierx_async._pagination import OVERLAP, STALL_PAGES, Paginator
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


def test_paginator_empty_page_with_has_more_raises():
    p = Paginator(build_query())
    with pytest.raises(PaginationError, match="has_more with an empty page"):
        p.accept(envelope("", has_more=True))


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
    with pytest.raises(PaginationError, match=r"already sent 4 times in a row.*not advancing"):
        p.accept(envelope("abcd", has_more=True, offset=p.offset))


def test_paginator_external_mode_is_one_request():
    q = build_query(filter="country_code eq USA", include_external=True)
    p = Paginator(q)
    assert p.next_request() == (0, 10, None)
    new, _ = p.accept(envelope("abc", has_more=True))
    assert len(new) == 3
    assert p.next_request() is None  # has_more and pagination.next are ignored


def test_paginator_without_identity_field_has_no_overlap():
    p = Paginator(build_query(page_size=8, include_fields=["price"]))
    p.accept({"items": [{"price": "1"}] * 8, "has_more": True})
    assert p.next_request() == (8, 8, None)
