"""The pure protocol core: URL rules and response deciphering."""

import json

import pytest
from yarl import URL

from carrierx_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
)
from carrierx_async._convert import decode_json
from carrierx_async._query import build_query
from carrierx_async._sansio import check_base_url, error_from_response, expect_json

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


# An error status without a message of its own (an empty or blank body, as a proxy or a
# bare 404 route sends) takes the reason phrase, lowercased (RFC 9110 section 15).
@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (404, b"", "not found"),
        (404, b" \r\n\t", "not found"),
        (401, b"", "unauthorized"),
        (403, b"", "forbidden"),
        (429, b"", "too many requests"),
        (500, b"", "error"),
    ],
)
def test_a_bodiless_error_says_its_reason(status, body, reason):
    err = error_from_response(status, {}, body)
    assert err.message == reason
    assert str(err) == f"HTTP {status}: {reason}"
    assert err.status == status and err.errors == []


def test_redirect_is_an_error_not_followed():
    err = error_from_response(302, {"Location": "https://evil.example/"}, b"")
    assert "not followed" in str(err) and "evil.example" in str(err)


def test_expect_json_wrong_content_type():
    with pytest.raises(ResponseDecodeError, match="content type 'text/html'") as info:
        expect_json(200, {"Content-Type": "text/html"}, b"<html>oops</html>")
    assert info.value.status == 200 and "oops" in str(info.value)


def test_a_2xx_json_response_passes_and_parses():
    assert expect_json(200, JSON, b'{"items": []}') is None
    assert decode_json(b'{"items": []}') == {"items": []}


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
    assert params["include_fields"] == "phonenumber,price,did_sid"  # the walk's identity
    assert params["order"] == "price desc"
