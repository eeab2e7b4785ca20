"""The scriptable faults of ``FakeCarrierX``: ``fake.add_fault(Status(503, retry_after="2"))``.
Each class is one way for the fake to misbehave: ``Status``, ``Raw``, ``MalformedJson``,
``HtmlPage`` and ``Disconnect`` replace the answer; ``Delay`` holds it; ``SlowDrip``,
``Truncated`` and ``Reset`` change how the real body travels; ``ForeignNext``, ``Stuck``,
``EmptyHasMore`` and ``Churn`` change a list page or the inventory. ``Fault`` is their
union. They are plain frozen values; the server (``server.py``) applies them.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs


@attrs.frozen
class Status:
    """Answer with this status, an optional Retry-After header and the JSON error body."""

    status: int
    retry_after: str | None = attrs.field(default=None, kw_only=True)
    message: str = attrs.field(default="injected fault", kw_only=True)


@attrs.frozen
class Delay:
    """Wait this many seconds before the headers, then answer normally."""

    seconds: float


@attrs.frozen
class SlowDrip:
    """Send the real response ``chunk_size`` bytes at a time, ``interval`` seconds apart."""

    chunk_size: int = 256
    interval: float = 0.05


@attrs.frozen
class Truncated:
    """Announce the full Content-Length, send ``fraction`` of the body, then close cleanly."""

    fraction: float = 0.5


@attrs.frozen
class Reset:
    """Send headers and ``fraction`` of the body, then reset the connection (RST)."""

    fraction: float = 0.5


@attrs.frozen
class Disconnect:
    """Close the connection without answering (one failed attempt: the client counts it)."""


@attrs.frozen
class MalformedJson:
    """Status 200, ``application/json``, a body that is not valid JSON."""

    body: bytes = b'{"count": 1, "has_more": true, "items": [{"did_sid": '


@attrs.frozen
class HtmlPage:
    """An HTML error page (a proxy's, say) with this status: the wrong content type."""

    status: int = 502


@attrs.frozen
class Raw:
    """Any body, status and content type you like."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


@attrs.frozen
class ForeignNext:
    """The real page, with ``pagination.next`` (when present) moved to another origin."""

    origin: str = "http://evil.example:1"


@attrs.frozen
class Churn:
    """After serving this request, remove the first ``remove`` records of its result set."""

    remove: int = 1


@attrs.frozen
class Stuck:
    """Serve the offset-0 page verbatim whatever offset was asked for."""


@attrs.frozen
class EmptyHasMore:
    """An empty page that still says ``has_more: true`` (next points at the same offset)."""


Fault: TypeAlias = (
    Status
    | Delay
    | SlowDrip
    | Truncated
    | Reset
    | Disconnect
    | MalformedJson
    | HtmlPage
    | Raw
    | ForeignNext
    | Churn
    | Stuck
    | EmptyHasMore
)
