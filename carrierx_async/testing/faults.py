"""The scriptable faults of ``FakeCarrierX``: ``fake.add_fault(Status(503, retry_after="2"))``.
Each class is one way for the fake to misbehave: ``Status``, ``Raw``, ``MalformedJson``,
``HtmlPage`` and ``Disconnect`` replace the answer; ``Delay`` holds it; ``SlowDrip``,
``Truncated`` and ``Reset`` change how the real body travels; ``ForeignNext``, ``Stuck``,
``EmptyHasMore`` and ``Churn`` (numbers rented and added between requests) change a list
page or the inventory. ``Fault`` is their union. They are plain frozen values; the server
(``server.py``) applies them.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

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
    """After serving this request, rent ``remove`` numbers and add ``add`` new ones.

    ``at="front"`` takes the first records of the request's result set and adds in front
    of the first one left; ``at="random"`` picks positions at random within the part of
    the result set served so far (up to the end of this page: behind a walking client's
    cursor); ``at="anywhere"`` picks them at random in the whole inventory (ahead of the
    cursor too). Random positions come from ``random.Random`` seeded by ``seed`` and the
    request's number. An added number copies its neighbour (so it matches the same filter)
    with a new ``did_sid`` and the nearest unused ``phonenumber`` below the neighbour's,
    and is inserted just before it: in inventory order and in ``phonenumber`` order alike.
    """

    remove: int = 1
    add: int = 0
    at: Literal["front", "random", "anywhere"] = "front"
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        if self.remove < 0 or self.add < 0:
            raise ValueError("Churn: remove and add must be >= 0")
        if self.at not in ("front", "random", "anywhere"):
            raise ValueError(f"Churn: at must be 'front', 'random' or 'anywhere', got {self.at!r}")


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
