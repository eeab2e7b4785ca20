"""The pure protocol core: URLs, response deciphering, and the pagination walk.

No I/O here: the aiohttp shell hands in ``(status, headers, body)`` and gets back
data or an exception. Pagination decisions (API reference 5):

* The next offset is computed here from what was received, never taken from the
  server's ``pagination.next`` (which may point at another origin, reference 5.3).
* Inventory is live: numbers get rented while a stream walks it, shifting offsets.
  Each request after the first re-reads ``OVERLAP`` records of the previous page, and
  records already seen on the previous page are dropped, so removals of up to
  ``OVERLAP`` records between two requests leave no gap and insertions leave no
  duplicate. Without a ``did_sid`` (or ``phonenumber``) in the records, there is
  nothing to compare, so there is no overlap and no de-duplication.
* A server that stops advancing (``has_more`` with no items, or nothing new on a page)
  raises PaginationError instead of looping.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from itertools import repeat
from typing import Any, Final

from yarl import URL

from ._convert import decode_envelope, decode_json, excerpt
from ._errors import (
    APIError,
    ConfigurationError,
    PaginationError,
    ResponseDecodeError,
    error_for_status,
)
from ._models import Page
from ._query import Query

__all__ = ["OVERLAP", "Paginator", "check_base_url", "decipher", "error_from_response"]

#: Records re-read at each page boundary to bridge numbers rented mid-stream.
OVERLAP: Final = 10
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


def decipher(status: int, headers: Mapping[str, str], body: bytes, *, url: str = "") -> Any:
    """The parsed JSON of a 2xx response; raise the matching error otherwise."""
    if not 200 <= status < 300:
        raise error_from_response(status, headers, body, url=url)
    ctype = headers.get("Content-Type", "")
    if "json" not in ctype.lower():
        raise ResponseDecodeError(
            f"expected a JSON body, got content type {ctype or 'none'!r}",
            status=status,
            excerpt=excerpt(body),
        )
    return decode_json(body, status=status)


_KEY_TYPES: Final = frozenset({str, type(None)})


def _identity_of(item: Any, key: str) -> str | None:
    """The record's identity, or None when it has none usable (then it is never dropped)."""
    value = item.get(key) if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


def _key_field(query: Query) -> str | None:
    """The field records are told apart by, if field filtering leaves one."""
    for name in ("did_sid", "phonenumber"):
        if query.include_fields is not None and name not in query.include_fields:
            continue
        if query.exclude_fields is not None and name in query.exclude_fields:
            continue
        return name
    return None


class Paginator:
    """Walks one query page by page: which request next, and which records are new."""

    def __init__(self, query: Query) -> None:
        self.query = query
        self.offset = 0
        self.yielded = 0
        self.done = False
        self._key = _key_field(query)
        self._seen: frozenset[Any] = frozenset()
        self._overlap = 0

    def next_request(self) -> tuple[int, int] | None:
        """``(offset, limit)`` of the next request, or None when the walk is over."""
        if self.done:
            return None
        limit = self.query.page_size
        if self.query.max_items is not None:
            limit = min(limit, self.query.max_items - self.yielded + self._overlap)
        return self.offset, limit

    def accept(self, data: Any, *, status: int = 200) -> tuple[list[Any], Page[Any]]:
        """Take one page's JSON; return the records to yield and the envelope."""
        items, page = decode_envelope(data, status=status)
        request_offset = self.offset
        if page.offset is not None and page.offset != request_offset:
            raise PaginationError(
                f"asked for offset {request_offset}, the server answered for offset {page.offset}"
            )
        if self._key is None:
            new = items
        else:
            key = self._key
            seen = self._seen
            try:  # one C-level pass; the per-item path only for odd pages
                ids = list(map(dict.get, items, repeat(key)))
                if not _KEY_TYPES.issuperset(map(type, ids)):
                    raise TypeError
            except TypeError:
                ids = [_identity_of(item, key) for item in items]
            lead = 0  # the re-read overlap comes first: skip it without a per-item filter
            while lead < len(ids) and ids[lead] is not None and ids[lead] in seen:
                lead += 1
            if seen.isdisjoint(ids[lead:]):
                new = items[lead:] if lead else items
            else:
                new = [
                    item for item, i in zip(items, ids, strict=True) if i is None or i not in seen
                ]
            self._seen = frozenset(ids)
        if self.query.max_items is not None:
            new = new[: self.query.max_items - self.yielded]
        self.yielded += len(new)
        if not items:
            if page.has_more and not self.query.include_external:
                raise PaginationError(
                    f"the server said has_more with an empty page at offset {request_offset}"
                )
            self.done = True
        elif page.has_more and not new:
            raise PaginationError(
                f"the server sent no new records at offset {request_offset}: it is not advancing"
            )
        if (
            self.query.include_external  # one request only (reference 4.1)
            or not page.has_more
            or (self.query.max_items is not None and self.yielded >= self.query.max_items)
        ):
            self.done = True
        else:
            overlap = 0 if self._key is None else min(OVERLAP, self.query.page_size // 4)
            overlap = min(overlap, len(items) - 1)
            self._overlap = overlap
            self.offset = request_offset + len(items) - overlap
        return new, page
