"""The pure protocol core: base URL checks and response deciphering.

No I/O here: the aiohttp shell hands in ``(status, headers, body)`` and gets back
data or an exception. The pagination walk (next-page arithmetic) is ``_pagination``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Final

from yarl import URL

from ._convert import decode_json, excerpt
from ._errors import (
    APIError,
    ConfigurationError,
    RateLimitError,
    ResponseDecodeError,
    error_for_status,
)

__all__ = ["check_base_url", "error_from_response", "expect_json", "rate_limited"]

#: How much of an error body an APIError keeps.
_ERROR_BODY: Final = 200


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str | URL) -> URL:
    """Parse base_url; refuse clear-text http except to a loopback host."""
    try:
        url = URL(base_url)
        url.port  # noqa: B018 - yarl checks the port range only when asked
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"base_url is not a URL: {exc}") from None
    if url.user is not None or url.password is not None:
        raise ConfigurationError(
            "base_url must not carry credentials; pass the token with Client(token=...)"
        )
    if url.scheme not in ("https", "http") or not url.host:
        raise ConfigurationError(f"base_url must be an https:// URL, got {str(url)!r}")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ConfigurationError(
            "base_url uses http://: the token would travel in clear text; "
            "use https:// (plain http is allowed only for loopback test servers)"
        )
    if url.query_string or url.fragment:
        raise ConfigurationError("base_url must not carry a query or fragment")
    return url.with_path(url.path.rstrip("/"))


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, *, url: str = ""
) -> APIError:
    """The APIError for an error status, with the body's message and errors when JSON."""
    message, errors = "", list[Mapping[str, Any]]()
    try:
        data = decode_json(body, status=status)
    except ResponseDecodeError:
        data = None
    if isinstance(data, dict):
        raw_message = data.get("message")
        message = raw_message if isinstance(raw_message, str) else ""
        raw_errors = data.get("errors")
        if isinstance(raw_errors, list):
            errors = [e for e in raw_errors if isinstance(e, dict)]
    if not message:
        message = excerpt(body, _ERROR_BODY).strip() or _REASONS.get(status, "error")
    if 300 <= status < 400:
        message = f"redirect to {headers.get('Location', '?')!r} not followed"
    return error_for_status(status)(
        status, message, errors=errors, body=excerpt(body, _ERROR_BODY), url=url
    )


_REASONS: Final = {
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    429: "too many requests",
}


def expect_json(status: int, headers: Mapping[str, str], body: bytes, *, url: str = "") -> None:
    """Raise the matching error for a response that is not a 2xx JSON one.

    The shell then parses the body (``_convert.decode_json``, or in pieces).
    """
    if not 200 <= status < 300:
        raise error_from_response(status, headers, body, url=url)
    ctype = headers.get("Content-Type", "")
    if "json" not in ctype.lower():
        raise ResponseDecodeError(
            f"expected a JSON body, got content type {ctype or 'none'!r}",
            status=status,
            excerpt=excerpt(body),
        )


def rate_limited(error: APIError, retry_after: float) -> RateLimitError:
    """The error for a server that asks for a longer wait than the client will make."""
    if isinstance(error, RateLimitError):
        error.retry_after = retry_after
        return error
    return RateLimitError(
        error.status,
        f"{error.message} (Retry-After {retry_after:g}s is longer than this call may wait)",
        errors=error.errors,
        body=error.body,
        url=error.url,
        attempts=error.attempts,
        retry_after=retry_after,
    )
