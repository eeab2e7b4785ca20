"""The iterator classes a stream is read through.

``AvailableDidStream``, ``PageIterator`` and ``ItemIterator`` own one ``_Feed`` each (see
``_feed``) and hand out records or pages.

A service shares its event loop with the stream, so no step holds it long: a big page is
parsed in pieces (``_convert.slices``), the feed lets the loop turn after it, a page's
typed records are then completed in slices with a turn before each (``DECODE_SLICE``),
and ``AvailableDidStream`` makes the AvailableDid objects of each slice of a page in one
pass as it reaches that slice, so a page waiting to be read holds no instances for the
collector to scan.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Generic, Self, TypeVar

import attrs

from ._convert import as_dids, complete
from ._cursor import cursor_after, key_of
from ._feed import DECODE_SLICE, _Feed
from ._models import AvailableDid, Page
from ._pagination import StreamStats
from ._query import Query

if TYPE_CHECKING:
    from weakref import WeakSet

    from yarl import URL

    from ._transport import Transport, _Timeouts

__all__ = ["AvailableDidStream", "ItemIterator", "PageIterator"]

T = TypeVar("T")


async def _decode_dicts(items: list[Any]) -> list[dict[str, Any]]:
    return items


def _describe(queries: list[Query]) -> str:
    """The query's arguments that differ from their defaults, as ``name=value`` words."""
    first = queries[0]
    words = []
    for a in attrs.fields(Query):
        value = getattr(first, a.name)
        if a.name == "filter" and len(queries) > 1:
            value = " | ".join(f"({q.filter})" for q in queries)
        elif a.name == "filter" and value is not None:
            value = str(value)
        elif a.name == "extra_params":
            value = dict(value)
        if value != a.default and value != {}:
            words.append(f"{a.name}={value!r}")
    return " ".join(words)


def _in_slices(
    decode: Callable[[list[Any]], list[T]],
) -> Callable[[list[Any]], Awaitable[list[T]]]:
    """``decode`` a big page slice by slice, letting the event loop run before each slice."""

    async def run(items: list[Any]) -> list[T]:
        if len(items) <= DECODE_SLICE:
            return decode(items)
        done: list[T] = []
        for start in range(0, len(items), DECODE_SLICE):
            await asyncio.sleep(0)
            done += decode(items[start : start + DECODE_SLICE])
        return done

    return run


_decode_dids: Final = _in_slices(lambda items: as_dids(complete(items)))
_decode_fields: Final = _in_slices(complete)


class _Stream(Generic[T]):
    """Owns one feed (a walk), made on first use: closed by ``async with``/``aclose()``, or
    cancelled when the stream is garbage collected.

    Re-iterable: an ``async for`` after the walk ended (its end reached, an error raised,
    or ``aclose()``) starts a fresh walk from the beginning, with fresh ``stats``; an
    ``async for`` after a ``break`` continues the walk under way.
    """

    def __init__(
        self,
        make_feed: Callable[[], _Feed[Any]],
        description: str = "",
        fingerprint: str | None = None,
    ) -> None:
        self._make_feed = make_feed
        self._started: _Feed[Any] | None = None
        self._description = description
        self._fingerprint = fingerprint  # of a keyset walk's query: it has a cursor
        self._last: object = None  # a keyset walk: the key of the last record handed out
        self._over = False  # the walk ended as the consumer saw it: the next aiter restarts

    def __aiter__(self) -> Self:
        if self._over:
            old, self._started, self._over = self._started, None, False
            self._last = None  # the new walk has handed out nothing yet
            self._rewind()
            if old is not None:
                old.cancel()
        return self

    def _rewind(self) -> None:
        """Forget what the ended walk left buffered."""

    async def _next_page(self) -> Page[Any] | None:
        """The feed's next page; the walk is over once it ends or raises."""
        try:
            page = await self._feed.next()
        except Exception:
            self._over = True
            raise
        if page is None:
            self._over = True
        return page

    def __repr__(self) -> str:
        state = "not started" if self._started is None else "started"
        words = " ".join(w for w in (self._description, f"({state})") if w)
        return f"<{type(self).__name__} {words}>"

    @property
    def _feed(self) -> _Feed[Any]:
        if self._started is None:
            self._started = self._make_feed()
        return self._started

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the walk now and release its connection (a later ``async for`` walks
        again from the start)."""
        self._over = True
        await self._feed.aclose()

    @property
    def stats(self) -> StreamStats:
        """What this walk did so far: requests, retries, records, duplicates, heals, gaps."""
        return self._feed.stats

    @property
    def cursor(self) -> str | None:
        """Where to resume: ``available_dids(..., after=stream.cursor)`` continues after
        the last record this stream handed out (an opaque URL-safe string).

        None before the first record, and always None in offset mode, with
        ``include_external`` or a ``|``/``in_()`` filter (only a keyset walk of one
        alternative can be resumed). Raises ``PaginationError`` if the server's
        ``phonenumber`` of that record is not 1 to 15 digits.
        """
        if self._fingerprint is None or self._last is None:
            return None
        return cursor_after(self._last, self._fingerprint)

    def __del__(self) -> None:
        feed = getattr(self, "_started", None)
        if feed is not None:
            feed.cancel()


class PageIterator(_Stream[T]):
    """Pages of a stream, each holding the new records of one response."""

    async def __anext__(self) -> Page[T]:
        page = await self._next_page()
        if page is None:
            raise StopAsyncIteration
        if page.items and self._fingerprint is not None:
            self._last = key_of(page.items[-1])
        return page


class ItemIterator(_Stream[T]):
    """Records of a stream, one by one."""

    def __init__(
        self,
        make_feed: Callable[[], _Feed[Any]],
        description: str = "",
        wrap: Callable[[list[Any]], list[T]] | None = None,
        fingerprint: str | None = None,
    ) -> None:
        super().__init__(make_feed, description, fingerprint)
        self._wrap = wrap  # makes a slice of a page's items as the first is handed out
        self._page: list[Any] = []
        self._next = 0  # where the page's next slice starts
        self._items: list[Any] = []  # the rest of the current slice, last record first

    def _rewind(self) -> None:
        self._page, self._next, self._items = [], 0, []

    async def __anext__(self) -> T:
        items = self._items
        if not items:
            items = await self._slice()
        item = items.pop()  # freed when the caller drops it: only its key is kept
        if self._fingerprint is not None:
            self._last = key_of(item)
        return item  # type: ignore[no-any-return]

    async def _slice(self) -> list[Any]:
        """The next DECODE_SLICE records, made in one pass, with a loop turn before each
        slice but a page's first (as when decoding)."""
        while self._next >= len(self._page):
            self._page = []  # all handed out: free the page before waiting for the next
            page = await self._next_page()
            if page is None:
                raise StopAsyncIteration
            self._page, self._next = page.items, 0
        start = self._next
        if start:
            await asyncio.sleep(0)  # nothing changed before it: a cancellation loses nothing
        stop = start + DECODE_SLICE
        items = self._page[start:stop]
        self._page[start:stop] = [None] * len(items)  # the slice alone holds its records
        self._next = stop
        if self._wrap is not None:
            items = self._wrap(items)
        items.reverse()
        self._items = items
        return items


class AvailableDidStream(ItemIterator[AvailableDid]):
    """``async for did in client.available_dids(...)``: records, fetched lazily page by page.

    Also ``.pages()`` for Page objects and ``.dicts()`` for plain JSON dicts. Use
    ``async with`` (or ``await stream.aclose()``) to stop early deterministically;
    a stream dropped after ``break`` cancels its prefetch as soon as it is collected.

    Iterating again once a walk has ended (the end reached, an error, ``aclose()``) walks
    again from the start, as a new request stream with its own ``stats``; after a
    ``break`` the next ``async for`` (or ``anext``) continues where it stopped.
    """

    def __init__(
        self,
        transport: Transport,
        url: URL,
        feeds: WeakSet[_Feed[Any]],
        queries: list[Query],
        *,
        prefetch: int,
        timeouts: _Timeouts,
        after: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        self._queries = queries
        self._walk = functools.partial(
            _Feed, transport, url, feeds, queries, prefetch=prefetch, timeouts=timeouts, after=after
        )
        # Typed records are checked and typed as their page is parsed (_convert).
        self._typed = functools.partial(self._walk, typed=True)
        # Records wait in their page as checked dicts and become AvailableDid objects a
        # slice at a time as they are handed out: a page waiting in the stream holds no
        # instances, and a consumer that keeps none leaves the collector less to do.
        super().__init__(
            functools.partial(self._typed, decode=_decode_fields),
            _describe(queries),
            as_dids,
            fingerprint,
        )

    @property
    def query(self) -> Query:
        """The validated query (the first alternative of an ``|`` filter)."""
        return self._queries[0]

    def pages(self) -> PageIterator[AvailableDid]:
        """A fresh walk of the same query, yielding Page objects."""
        return PageIterator(
            functools.partial(self._typed, decode=_decode_dids),
            self._description,
            self._fingerprint,
        )

    def dicts(self) -> ItemIterator[dict[str, Any]]:
        """A fresh walk of the same query, yielding the records as plain dicts."""
        return ItemIterator(
            functools.partial(self._walk, decode=_decode_dicts),
            self._description,
            fingerprint=self._fingerprint,
        )
