"""The exceptions carrierx_async raises; ``except CarrierXError`` catches them all.

    CarrierXError
    ├── APIError                      the server answered with a non-2xx status
    │   ├── BadRequestError           400
    │   ├── AuthenticationError       401
    │   ├── PermissionDeniedError     403
    │   ├── NotFoundError             404
    │   ├── ConflictError             409
    │   ├── UnprocessableEntityError  422
    │   ├── RateLimitError            429 (and a Retry-After beyond the wait limit)
    │   └── ServerError               5xx
    ├── APIConnectionError            transport failure: DNS, refused, reset, truncated body
    │   └── APITimeoutError           an attempt timed out or the call's deadline passed
    │       └── PoolTimeoutError      no free max_concurrency slot within pool_timeout
    ├── ResponseDecodeError           a 2xx body is not the JSON the API documents
    │   └── ResponseTooLargeError     a body (any status) over Client(max_response_bytes=...)
    ├── PaginationError               the server stopped advancing (same page again, ...)
    ├── ClientClosedError             the client was used after close()
    ├── ConfigurationError (ValueError) a bad argument that is not a filter (Client
    │                                 settings, page_size, order, pagination, fields,
    │                                 timeouts, a did_sid, ...), raised before any request
    └── FilterError (ValueError)      a bad filter (text, field, operator or value), raised
        │                             before any request
        └── FilterAttributeError (AttributeError)  ``F.<name>`` or ``F.<field>.<operator>``
                                      that does not exist, so ``hasattr`` works

Messages quote the value the caller gave and say how to fix the call.

Messages never contain credentials: server text (message, ``errors``, body, excerpt,
``Location``) can echo the token, so the transport passes every error it raises through
``scrub_error`` before it leaves the library.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, quote_plus

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CarrierXError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "FilterAttributeError",
    "FilterError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "PoolTimeoutError",
    "RateLimitError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ServerError",
    "UnprocessableEntityError",
    "error_for_status",
    "scrub_error",
    "scrub_text",
]


class CarrierXError(Exception):
    """Root of every exception this library raises."""


class APIError(CarrierXError):
    """The server answered with an error status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[Mapping[str, Any]] | None = None,
        body: str = "",
        url: str = "",
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.errors: list[Mapping[str, Any]] = errors or []
        self.body = body
        self.url = url
        self.attempts = attempts
        self.retry_after = retry_after
        super().__init__(status, message)

    def __str__(self) -> str:
        text = f"HTTP {self.status}: {self.message}"
        details = "; ".join(
            f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
            for e in self.errors
            if isinstance(e, Mapping)
        )
        if details:
            text += f" ({details})"
        if self.url:
            text += f" [GET {self.url}]"
        if self.attempts > 1:
            text += f" after {self.attempts} attempts"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, message={self.message!r})"


class BadRequestError(APIError):
    """400: the server rejected the request (often the filter text)."""


class AuthenticationError(APIError):
    """401: the token is missing, wrong or expired."""


class PermissionDeniedError(APIError):
    """403: the token lacks a scope (phonenumber.read or phonenumber.manage)."""


class NotFoundError(APIError):
    """404: no object with that SID."""


class ConflictError(APIError):
    """409: a conflict; retrying later may succeed."""


class UnprocessableEntityError(APIError):
    """422: object validation error."""


class RateLimitError(APIError):
    """429: rate limited; ``retry_after`` holds the server's wait in seconds, if given."""


class ServerError(APIError):
    """5xx: the server failed."""


class APIConnectionError(CarrierXError):
    """The request did not complete: connection refused, reset or a truncated body."""

    def __init__(self, message: str, *, url: str = "", attempts: int = 1) -> None:
        self.message = message
        self.url = url
        self.attempts = attempts
        super().__init__(message)

    def __str__(self) -> str:
        text = self.message
        if self.url:
            text += f" [GET {self.url}]"
        if self.attempts > 1:
            text += f" after {self.attempts} attempts"
        return text


class APITimeoutError(APIConnectionError):
    """An attempt timed out, or the call's overall deadline passed."""


class PoolTimeoutError(APITimeoutError):
    """A request waited ``pool_timeout`` seconds for one of the client's ``max_concurrency``
    slots and was never sent: the client is busier than its limit, not the server slow."""


class ResponseDecodeError(CarrierXError):
    """A 2xx response whose body is not the JSON the API documents."""

    def __init__(self, message: str, *, status: int, excerpt: str = "", attempts: int = 1) -> None:
        self.message = message
        self.status = status
        self.excerpt = excerpt
        self.attempts = attempts
        super().__init__(message)

    def __str__(self) -> str:
        text = f"HTTP {self.status}: {self.message}"
        if self.excerpt:
            text += f"; body starts {self.excerpt!r}"
        if self.attempts > 1:
            text += f" after {self.attempts} attempts"
        return text


class ResponseTooLargeError(ResponseDecodeError):
    """A response body (any status, after decompression) over ``max_response_bytes``."""


class PaginationError(CarrierXError):
    """The server stopped advancing through the result set."""


class ClientClosedError(CarrierXError):
    """The client was used after it was closed."""


class ConfigurationError(CarrierXError, ValueError):
    """A bad argument that is not a filter, raised before any request: Client settings
    (no token, clear-text base_url, timeouts, ...) or a call's own arguments (page_size,
    max_items, order, pagination, include_fields/exclude_fields, extra_params, prefetch,
    timeouts, a did_sid, ...)."""


class FilterError(CarrierXError, ValueError):
    """A bad filter: its text, a field, an operator or a value. Raised before any request."""


class FilterAttributeError(FilterError, AttributeError):
    """``F.<name>`` for a field that does not exist, or ``F.<field>.<operator>`` for an
    operator the field lacks; also an AttributeError, so ``hasattr(F, name)`` and
    ``getattr(F, name, None)`` work."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[APIError]:
    """The APIError subclass for an HTTP status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


_REDACTED: Final = "<redacted>"
#: A cut-off start of the secret this long or longer at the end of a text is redacted too.
_MIN_PARTIAL: Final = 4


def scrub_text(text: str, secret: str) -> str:
    """``text`` with the secret replaced by ``<redacted>``, raw or escaped.

    Escaped means any mix, character by character, of the raw character, its
    percent-encoding (either case of hex digit; ``+`` for a space) and its JSON escape
    (``\\"``, ``\\\\``, ``\\/``, ``\\u00XX``): every form a URL (yarl keeps ``/``, quote_plus
    does not) or a JSON encoder (PHP's escapes ``/``) can give it. An excerpt can end
    partway through the secret, so a start of it (4 characters or more, raw or in one of
    the usual escaped forms) at the very end of the text is redacted as well.
    """
    if not secret or not text:
        return text
    text = _pattern(secret).sub(_REDACTED, text)
    for form in _forms(secret):
        for size in range(min(len(form) - 1, len(text)), _MIN_PARTIAL - 1, -1):
            if text.endswith(form[:size]):
                return text[:-size] + _REDACTED
    return text


@functools.lru_cache(maxsize=8)
def _pattern(secret: str) -> re.Pattern[str]:
    """Matches the secret in every per-character mix of raw, percent and JSON escapes."""
    return re.compile("".join(_char_pattern(c) for c in secret))


def _char_pattern(char: str) -> str:
    """One character of the secret: raw, JSON-escaped or percent-encoded."""
    forms = {
        re.escape(char),
        re.escape(json.dumps(char)[1:-1]),
        r"\\u" + _hex(ord(char), 4),
        "".join("%" + _hex(byte, 2) for byte in char.encode()),
    }
    if char == "/":
        forms.add(r"\\/")
    if char == " ":
        forms.add(r"\+")
    return "(?:" + "|".join(sorted(forms)) + ")"


def _hex(value: int, width: int) -> str:
    """A regex for ``value`` in hex digits, either case."""
    return "".join(f"[{d}{d.lower()}]" if d.isalpha() else d for d in f"{value:0{width}X}")


@functools.lru_cache(maxsize=8)
def _forms(secret: str) -> tuple[str, ...]:
    """The usual whole forms of the secret, for a start of one cut off at the end of a text."""
    escaped = json.dumps(secret)[1:-1]
    forms = (secret, quote(secret), quote(secret, safe=""), quote_plus(secret), escaped)
    return tuple(dict.fromkeys((*forms, escaped.replace("/", "\\/"))))


def _scrub_value(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secret)
    if isinstance(value, Mapping):
        return {_scrub_value(k, secret): _scrub_value(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub_value(v, secret) for v in value)
    return value


def scrub_error(exc: BaseException, secret: str) -> BaseException:
    """Remove the secret from every text an error keeps (attributes and args); return it."""
    for name in ("message", "errors", "body", "excerpt", "url"):
        value = getattr(exc, name, None)
        if value is not None:
            setattr(exc, name, _scrub_value(value, secret))
    exc.args = _scrub_value(exc.args, secret)
    return exc
