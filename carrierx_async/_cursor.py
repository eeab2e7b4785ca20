"""Resume cursors for keyset walks: an opaque, URL-safe "after this phone number".

A cursor is unpadded URL-safe base64 (``[A-Za-z0-9_-]``, 20 to 39 characters) of::

    version (1 byte, 1) | fingerprint (9 bytes) | key (1-15 ASCII digits) | checksum (4 bytes)

The fingerprint ties it to its query: the caller's filter text before any seek condition,
the order direction and the field selection. The key is the last ``phonenumber`` yielded,
E.164 digits without ``+`` (reference section 1). The checksum (blake2b, ``cxcursor``)
catches truncation and corruption, not forgery: no secret, as a cursor must work in any
process a week later. A forged cursor stays harmless because its key is checked strictly:
only 1 to 15 ASCII digits ever reach ``phonenumber gt <key>``. Cursors come from strangers
(URLs): anything else is a ``ConfigurationError`` quoting at most a sanitized prefix.

Only a keyset walk of one alternative has a cursor (``resume_point``): offset positions do
not survive churn, ``include_external`` is one request, and the alternatives of a ``|``
filter walk separately (one key would not place them all), so ``after=`` refuses those.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Final

from ._errors import ConfigurationError, PaginationError
from ._query import KEYSET_FIELD, Query

__all__ = [
    "MAX_CURSOR_CHARS",
    "check_resumable",
    "cursor_after",
    "decode_cursor",
    "encode_cursor",
    "key_of",
    "query_fingerprint",
    "resume_point",
]

CURSOR_VERSION: Final = 1
#: Longer input is refused before it is looked at (this version's cursors have at most 39).
MAX_CURSOR_CHARS: Final = 200
_FP_BYTES: Final = 9  # 12 base64 characters
_CHECK_BYTES: Final = 4
_KEY = re.compile(r"[0-9]{1,15}")  # E.164: at most 15 digits (reference section 1)
_URLSAFE = re.compile(r"[A-Za-z0-9_-]*")
_PREVIEW: Final = 12
_RESTART: Final = "start a new stream without after="


def query_fingerprint(
    *,
    filter_text: str,
    descending: bool,
    include_fields: Iterable[str] | None,
    exclude_fields: Iterable[str] | None,
) -> str:
    """A short stable digest of what a cursor belongs to (field sets in any order)."""
    fields = [None if f is None else sorted(set(f)) for f in (include_fields, exclude_fields)]
    canonical = json.dumps([filter_text, bool(descending), *fields], separators=(",", ":"))
    digest = hashlib.blake2b(canonical.encode(), digest_size=_FP_BYTES, person=b"cxquery")
    return _b64(digest.digest())


def encode_cursor(last_key: str, fingerprint: str) -> str:
    """The cursor for "after ``last_key``" in the query ``fingerprint`` names.

    Raises ``ValueError`` if the key is not 1 to 15 ASCII digits or the fingerprint is not
    one ``query_fingerprint`` returns.
    """
    if not isinstance(last_key, str) or not _KEY.fullmatch(last_key):
        raise ValueError(f"a cursor key is 1 to 15 digits, got {last_key!r}")
    fp = _unb64(fingerprint)
    if fp is None or len(fp) != _FP_BYTES:
        raise ValueError(f"not a query fingerprint: {fingerprint!r}")
    body = bytes([CURSOR_VERSION]) + fp + last_key.encode("ascii")
    return _b64(body + _checksum(body))


def decode_cursor(cursor: object, fingerprint: str) -> str:
    """The key a cursor of the query ``fingerprint`` holds; ``ConfigurationError`` if none."""
    if not isinstance(cursor, str):
        raise ConfigurationError(
            f"after= takes a cursor string from stream.cursor, got {type(cursor).__name__}"
        )
    if not cursor:
        raise ConfigurationError("after= is an empty cursor; pass None to start at the beginning")
    if len(cursor) > MAX_CURSOR_CHARS:
        raise ConfigurationError(
            f"after= is not a cursor: {len(cursor)} characters, a cursor has at most "
            f"{MAX_CURSOR_CHARS} (it starts {_preview(cursor)})"
        )
    if not _URLSAFE.fullmatch(cursor):
        raise ConfigurationError(
            "after= is not a cursor: it has characters other than A-Z a-z 0-9 _ - "
            f"(it starts {_preview(cursor)})"
        )
    raw = _unb64(cursor)
    if raw is None or len(raw) < 1 + _FP_BYTES + 1 + _CHECK_BYTES:
        raise _damaged(cursor, "not a whole cursor")
    if raw[0] != CURSOR_VERSION:
        raise ConfigurationError(
            f"after= cursor {_preview(cursor)} has version {raw[0]}; this carrierx_async "
            f"reads version {CURSOR_VERSION} cursors only: {_RESTART}"
        )
    body, check = raw[:-_CHECK_BYTES], raw[-_CHECK_BYTES:]
    if _checksum(body) != check:
        raise _damaged(cursor, "checksum mismatch")
    key = body[1 + _FP_BYTES :].decode("ascii", "replace")
    if not _KEY.fullmatch(key):
        raise ConfigurationError(
            f"after= cursor {_preview(cursor)} does not hold a phone number "
            "(1 to 15 digits): it was not made by stream.cursor"
        )
    if _b64(body[1 : 1 + _FP_BYTES]) != fingerprint:
        raise ConfigurationError(
            "after=: the cursor was made for a different filter/order/fields; " + _RESTART
        )
    return key


def check_resumable(*, pagination: object, include_external: object) -> None:
    """Refuse ``after=`` with arguments no cursor can resume (before the query is built)."""
    if include_external is True:
        raise ConfigurationError(
            "after= cannot resume include_external=True: the external provider search is "
            "one request without pagination, so there is nothing to continue"
        )
    if pagination != "keyset":
        raise ConfigurationError(
            "after= resumes keyset walks only: pass pagination='keyset' (offset mode has no "
            "position that survives numbers being rented and added)"
        )


def resume_point(queries: list[Query], after: object) -> tuple[str | None, str | None]:
    """``(fingerprint, key)`` of a stream over ``queries`` (the alternatives of its filter)
    resumed ``after`` a cursor (None: from the start). The fingerprint is None, and the
    stream has no cursor, unless the walk is keyset and has one alternative. Refuses, as
    ``ConfigurationError``, an ``after`` that cannot resume this walk, before any request
    (``check_resumable`` first)."""
    query = queries[0]
    if after is not None:
        check_resumable(pagination=query.pagination, include_external=query.include_external)
        if len(queries) > 1:
            raise ConfigurationError(
                "after= cannot resume a '|'/in_() filter: its alternatives walk separately; "
                "run one stream per alternative"
            )
    if not query.keyset or len(queries) > 1:
        return None, None
    fingerprint = query_fingerprint(
        filter_text="" if query.filter is None else str(query.filter),
        descending=query.descending,
        include_fields=query.include_fields,
        exclude_fields=query.exclude_fields,
    )
    return fingerprint, None if after is None else decode_cursor(after, fingerprint)


def key_of(record: object) -> object:
    """The keyset key of a record (a dict or an AvailableDid), unchecked."""
    if isinstance(record, dict):
        return record.get(KEYSET_FIELD)
    return getattr(record, KEYSET_FIELD, None)


def cursor_after(key: object, fingerprint: str) -> str:
    """The cursor for "after the record whose key is ``key``"; ``PaginationError`` if the
    key is not 1 to 15 digits (the server sent something a walk cannot resume from)."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise PaginationError(
            f"no cursor: the last record's {KEYSET_FIELD} {str(key)[:20]!r} is not 1 to 15 "
            "digits, so the walk cannot be resumed after it"
        )
    return encode_cursor(key, fingerprint)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    """Bytes of unpadded URL-safe base64, or None unless ``text`` is their one spelling."""
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if _b64(data) == text else None  # no padding, no stray low bits


def _checksum(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=_CHECK_BYTES, person=b"cxcursor").digest()


def _damaged(cursor: str, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"after= cursor {_preview(cursor)} is damaged or truncated ({why}); pass it exactly "
        "as stream.cursor gave it, or " + _RESTART
    )


def _preview(text: str) -> str:
    """The first few characters, anything outside ``[A-Za-z0-9_-]`` shown as ``?``."""
    head = "".join(c if _URLSAFE.fullmatch(c) else "?" for c in text[:_PREVIEW])
    return f"'{head}...'" if len(text) > _PREVIEW else f"'{head}'"
