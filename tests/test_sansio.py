"""The pure protocol core: URL rules, response deciphering, next-page arithmetic."""

import json

import pytest
from yarl import URL

from carrierx_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    PaginationError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
)
from carrierx_async._query import build_query
from carrierx_async._sansio import OVERLAP, Paginator, check_base_url, decipher, error_from_response

JSON = {"Content-Type": "application/json"}


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


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://api.carrierx.com/core/v2", "https://api.carrierx.com/core/v2"),
        ("https://api.carrierx.com/core/v2/", "https://api.carrierx.com/core/v2"),
        ("http://127.0.0.1:8080/core/v2", "http://127.0.0.1:8080/core/v2"),
        ("http://localhost/x", "http://localhost/x"),
        ("http://[::1]:9/core/v2", "http://[::1]:9/core/v2"),
    ],
)
def test_base_url_accepted(url, normalised):
    assert str(check_base_url(url)) == normalised


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://api.carrierx.com/core/v2", "clear text"),
        ("http://10.0.0.1/core/v2", "clear text"),
        ("ftp://api.carrierx.com/", "https://"),
        ("api.carrierx.com/core/v2", "https://"),
        ("https://api.carrierx.com/core/v2?x=1", "query"),
        ("https://[bad", "not a URL"),
        ("https://api.carrierx.com:99999/core/v2", "not a URL"),
        ("https://user:secret@api.carrierx.com/core/v2", "credentials"),
    ],
)
def test_base_url_refused(url, match):
    with pytest.raises(ConfigurationError, match=match):
        check_base_url(url)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
        (418, APIError),
    ],
)
def test_error_classes_by_status(status, cls):
    body = json.dumps(
        {
            "message": "object validation error",
            "errors": [
                {"field": "filter", "message": "unsupported operator", "reference_sid": None}
            ],
        }
    ).encode()
    err = error_from_response(status, JSON, body, url="https://h/x")
    assert type(err) is cls
    assert err.status == status and err.message == "object validation error"
    assert err.errors[0]["field"] == "filter"
    assert "filter: unsupported operator" in str(err)


def test_error_body_not_json_keeps_excerpt():
    err = error_from_response(502, {"Content-Type": "text/html"}, b"<html>Bad gateway</html>")
    assert isinstance(err, ServerError)
    assert "Bad gateway" in err.message and err.errors == []


def test_redirect_is_an_error_not_followed():
    err = error_from_response(302, {"Location": "https://evil.example/"}, b"")
    assert "not followed" in str(err) and "evil.example" in str(err)


def test_decipher_wrong_content_type():
    with pytest.raises(ResponseDecodeError, match="content type 'text/html'") as info:
        decipher(200, {"Content-Type": "text/html"}, b"<html>oops</html>")
    assert info.value.status == 200 and "oops" in str(info.value)


def test_decipher_returns_json():
    assert decipher(200, JSON, b'{"items": []}') == {"items": []}


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
    assert requests == [(0, 4), (3, 4), (6, 4)]
    assert got == list("abcdefgh")
    assert p.next_request() is None


def test_paginator_overlap_bridges_removed_records():
    # Between the two requests "a" and "b" were rented: every later record shifted back
    # by two, so a plain offset walk would skip "k" and "l".
    p = Paginator(build_query(page_size=100))
    assert p.next_request() == (0, 100)
    first = [f"r{i:03}" for i in range(100)]
    p.accept(envelope(first, has_more=True))
    offset, _ = p.next_request()
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
            envelope("qrstuvwxyz", has_more=True),
        ],
    )
    assert requests == [(0, 10), (8, 10), (16, 9)]
    assert len(got) == 25 and len(set(got)) == 25
    assert p.next_request() is None


def test_paginator_max_items_smaller_than_page():
    p = Paginator(build_query(max_items=3))
    assert p.next_request() == (0, 3)
    new, _ = p.accept(envelope("abc", has_more=True))
    assert len(new) == 3 and p.next_request() is None


def test_paginator_refuses_a_page_for_another_offset():
    p = Paginator(build_query(page_size=4))
    walk(p, [envelope("abcd", has_more=True, offset=0)])
    assert p.next_request() == (3, 4)
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


def test_paginator_stuck_server_raises():
    p = Paginator(build_query(page_size=4))
    walk(p, [envelope("abcd", has_more=True)])
    with pytest.raises(PaginationError, match="not advancing"):
        p.accept(envelope("abcd", has_more=True))


def test_paginator_external_mode_is_one_request():
    q = build_query(filter="country_code eq USA", include_external=True)
    p = Paginator(q)
    assert p.next_request() == (0, 10)
    new, _ = p.accept(envelope("abc", has_more=True))
    assert len(new) == 3
    assert p.next_request() is None  # has_more and pagination.next are ignored


def test_paginator_without_identity_field_has_no_overlap():
    p = Paginator(build_query(page_size=8, include_fields=["price"]))
    p.accept({"items": [{"price": "1"}] * 8, "has_more": True})
    assert p.next_request() == (8, 8)


def test_params_are_plain_text_for_yarl_to_encode():
    q = build_query(
        filter='state eq NY and phonenumber like "1516%"',
        order="price desc",
        include_fields=["phonenumber", "price"],
    )
    params = q.params(offset=0, limit=5)
    url = URL("https://h/core/v2/phonenumber/available_dids").with_query(params)
    # The filter is re-rendered canonically (one-word values bare), not pre-encoded.
    assert params["filter"] == "state eq NY and phonenumber like 1516%"
    assert "%251516%25" not in url.raw_query_string
    assert "1516%25" in url.raw_query_string  # % reaches the server as %25
    assert params["include_fields"] == "phonenumber,price"
    assert params["order"] == "price desc"
