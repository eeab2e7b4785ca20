"""The prefetching feed and the iterator classes a stream is read through.

A ``_Feed`` walks one query per alternative of an ``|`` filter with a pure ``Paginator``,
fetches up to ``prefetch`` pages ahead in producer tasks, merges the alternatives and
de-duplicates across them. It counts what it did in one ``StreamStats`` and logs a
WARNING once per stream when a walk reports a slip it could not heal.
``AvailableDidStream``, ``PageIterator`` and ``ItemIterator`` own one feed each and hand
out records or pages.

A service shares its event loop with the stream, so no step holds it long: after parsing
a big page the feed lets the loop turn, then decodes the page in slices with a turn
before each (``DECODE_SLICE``). ``AvailableDidStream`` makes the AvailableDid objects of
each slice of a page in one pass as it reaches that slice, so a page waiting to be read
holds no instances for the collector to scan.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Generic, Self, TypeVar

import attrs

from ._convert import as_dids, decode_dids, decode_fields
from ._errors import CarrierXError
from ._models import AvailableDid, Page
from ._pagination import Paginator, StreamStats
from ._query import Query

if TYPE_CHECKING:
    from ._client import Client
    from ._transport import _Timeouts

__all__ = ["PREFETCH_TASK", "AvailableDidStream", "ItemIterator", "PageIterator"]

T = TypeVar("T")

logger = logging.getLogger("carrierx_async")

_DONE: Final = object()
#: Name prefix of the prefetch tasks a stream runs (visible in asyncio.all_tasks()).
PREFETCH_TASK: Final = "carrierx_async prefetch"


class _Feed(Generic[T]):
    """Pages of one or more queries in order, fetched up to ``prefetch`` pages ahead.

    With several queries (the alternatives of an ``|`` filter) one producer task runs
    per query and their pages are merged; records are then de-duplicated by ``did_sid``
    across the alternatives and ``max_items`` applies to the merged stream. Once a feed
    has raised, it raises the same error again; once it has ended, it stays ended.
    """

    def __init__(
        self,
        client: Client,
        queries: list[Query],
        *,
        prefetch: int,
        timeouts: _Timeouts,
        decode: Callable[[list[Any]], Awaitable[list[T]]],
    ) -> None:
        self._client = client
        self.stats = StreamStats()
        self._warned = False
        self._walkers = [Paginator(q, self.stats) for q in queries]
        self._timeouts = timeouts
        self._decode = decode
        self._inline = len(queries) == 1 and prefetch == 0
        self._prefetch = max(prefetch, 1)
        self._tasks: list[asyncio.Task[None]] = []
        # (producer index, page | _DONE | error, whether the page's slot is already free)
        self._queue: asyncio.Queue[tuple[int, Any, bool]] = asyncio.Queue()
        self._slots: list[asyncio.Semaphore] = []
        self._waiting = False  # the consumer waits on an empty queue for the next page
        self._running = 0
        self._merge_seen: set[Any] | None = set() if len(queries) > 1 else None
        self._max_items = queries[0].max_items
        self._yielded = 0
        self._finished = False
        self._error: BaseException | None = None
        client._feeds.add(self)

    async def _fetch(self, walker: Paginator) -> Page[T] | None:
        """The walk's next page with new records (a step back to heal is not a page)."""
        while True:
            request = walker.next_request()
            if request is None:
                return None
            offset, limit, after = request
            params = walker.query.params(offset=offset, limit=limit, after=after)
            page = await self._client._transport.get_json(
                self._client._list_url,
                params,
                self._timeouts,
                functools.partial(self._page, walker, limit),
                self.stats,
            )
            if page is not None:
                return page

    async def _page(self, walker: Paginator, limit: int, data: Any) -> Page[T] | None:
        """One response through the walk: its new records, or None for a page set aside."""
        if limit > DECODE_SLICE:
            await asyncio.sleep(0)  # parsing a big page held the loop: let it turn first
        items, envelope = walker.accept(data, limit=limit)
        if walker.warnings:
            if not self._warned:  # once per stream; stats count every one
                self._warned = True
                logger.warning(
                    "%s; stream.stats tells how often (%d so far)",
                    walker.warnings[0],
                    self.stats.possible_gaps,
                )
            walker.warnings.clear()
        if items or walker.done:
            return envelope.with_items(await self._decode(items))
        return None

    async def _produce(self, index: int) -> None:
        walker, slots = self._walkers[index], self._slots[index]
        try:
            while True:
                await slots.acquire()
                page = await self._fetch(walker)
                if page is None:
                    self._queue.put_nowait((index, _DONE, False))
                    return
                handed = self._waiting  # the consumer takes this page the moment it wakes:
                self._waiting = False  # free its slot here, and the next request goes out
                self._queue.put_nowait((index, page, handed))  # in this same loop turn
                if handed:
                    slots.release()
        except Exception as exc:  # handed to the consumer, raised there
            self._queue.put_nowait((index, exc, False))

    def _start(self) -> None:
        self._running = len(self._walkers)
        for index in range(len(self._walkers)):
            self._slots.append(asyncio.Semaphore(self._prefetch))
            task = asyncio.create_task(self._produce(index), name=f"{PREFETCH_TASK} {index}")
            self._tasks.append(task)

    async def next(self) -> Page[T] | None:
        """The next page, or None at the end."""
        while True:
            if self._error is not None:
                raise self._error
            if self._finished:
                return None
            try:
                page = await self._next_page()
            except Exception as exc:
                self._error = exc
                await self.aclose()
                raise
            if page is None:
                self._finished = True
                if self._error is not None:
                    raise self._error
                return None
            if self._merge_seen is not None:
                page = self._merge(page)
                if self._max_items is not None and self._yielded >= self._max_items:
                    await self.aclose()  # the merged stream is complete
            self.stats.records_yielded += len(page.items)
            return page

    async def _next_page(self) -> Page[T] | None:
        if self._inline:
            return await self._fetch(self._walkers[0])
        if not self._tasks:
            self._start()
        while self._running:
            if self._queue.empty():
                self._waiting = True
                try:
                    index, got, handed = await self._queue.get()
                finally:
                    self._waiting = False
            else:
                index, got, handed = self._queue.get_nowait()
            if index < 0 or self._error is not None or self._finished:
                return None  # woken by aclose(); next() reports why
            if got is _DONE:
                self._running -= 1
                continue
            if isinstance(got, BaseException):
                raise got
            if not handed:
                self._slots[index].release()
                # Let the producer send its next request now, before the consumer works
                # through this page without awaiting anything: otherwise "prefetch" starts
                # too late. (A page handed to a waiting consumer freed its slot at once, so
                # its producer has already sent the next request.)
                await asyncio.sleep(0)
            page: Page[T] = got
            return page
        return None

    def _merge(self, page: Page[T]) -> Page[T]:
        seen = self._merge_seen
        assert seen is not None
        items = []
        for item in page.items:
            key = _identity(item)
            if key is not None and key in seen:
                self.stats.duplicates_dropped += 1
                continue
            if key is not None:
                seen.add(key)
            items.append(item)
        if self._max_items is not None:
            items = items[: self._max_items - self._yielded]
            self._yielded += len(items)
        return page.with_items(items)

    def cancel(self) -> None:
        """Cancel producer tasks without waiting (used when the stream is dropped)."""
        for task in self._tasks:
            if not task.done() and not task.get_loop().is_closed():
                task.cancel()

    async def aclose(self, error: CarrierXError | None = None) -> None:
        """Cancel producers and wait until they have released their connections.

        With ``error``, a later (or a waiting) ``next()`` raises it instead of ending.
        """
        self._finished = True
        if self._error is None:
            self._error = error
        self.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
            self._queue.put_nowait((-1, _DONE, False))  # wake a consumer waiting for a page


def _identity(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("did_sid") or item.get("phonenumber")
    return getattr(item, "did_sid", None) or getattr(item, "phonenumber", None)


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


#: Records decoded between two turns of the event loop (a page of 1000 would otherwise
#: hold the loop several times as long as parsing it did; benchmarks/README.md, row 6).
DECODE_SLICE: Final = 250


def _in_slices(decode: Callable[..., list[T]]) -> Callable[[list[Any]], Awaitable[list[T]]]:
    """``decode`` a big page slice by slice, letting the event loop run before each slice."""

    async def run(items: list[Any]) -> list[T]:
        if len(items) <= DECODE_SLICE:
            return decode(items)
        done: list[T] = []
        for start in range(0, len(items), DECODE_SLICE):
            await asyncio.sleep(0)
            done += decode(items[start : start + DECODE_SLICE], start=start)
        return done

    return run


_decode_dids: Final = _in_slices(decode_dids)
_decode_fields: Final = _in_slices(decode_fields)


class _Stream(Generic[T]):
    """Owns one feed, made on first use: closed by ``async with``/``aclose()``, or
    cancelled when the stream is garbage collected."""

    def __init__(self, make_feed: Callable[[], _Feed[Any]], description: str = "") -> None:
        self._make_feed = make_feed
        self._started: _Feed[Any] | None = None
        self._description = description

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
        """Stop the stream now and release its connection."""
        await self._feed.aclose()

    @property
    def stats(self) -> StreamStats:
        """What this stream did so far: requests, retries, records, duplicates, heals, gaps."""
        return self._feed.stats

    def __del__(self) -> None:
        feed = getattr(self, "_started", None)
        if feed is not None:
            feed.cancel()


class PageIterator(_Stream[T]):
    """Pages of a stream, each holding the new records of one response."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Page[T]:
        page = await self._feed.next()
        if page is None:
            raise StopAsyncIteration
        return page


class ItemIterator(_Stream[T]):
    """Records of a stream, one by one."""

    def __init__(
        self,
        make_feed: Callable[[], _Feed[Any]],
        description: str = "",
        wrap: Callable[[list[Any]], list[T]] | None = None,
    ) -> None:
        super().__init__(make_feed, description)
        self._wrap = wrap  # makes a slice of a page's items as the first is handed out
        self._page: list[Any] = []
        self._next = 0  # where the page's next slice starts
        self._items: list[Any] = []  # the rest of the current slice, last record first

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        items = self._items
        if not items:
            items = await self._slice()
        return items.pop()  # type: ignore[no-any-return]  # freed when the caller drops it

    async def _slice(self) -> list[Any]:
        """The next DECODE_SLICE records, made in one pass, with a loop turn before each
        slice but a page's first (as when decoding)."""
        while self._next >= len(self._page):
            self._page = []  # all handed out: free the page before waiting for the next
            page = await self._feed.next()
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
    """

    def __init__(
        self, client: Client, queries: list[Query], *, prefetch: int, timeouts: _Timeouts
    ) -> None:
        self._queries = queries
        self._walk = functools.partial(_Feed, client, queries, prefetch=prefetch, timeouts=timeouts)
        # Records wait in their page as checked dicts and become AvailableDid objects a
        # slice at a time as they are handed out: a page waiting in the stream holds no
        # instances, and a consumer that keeps none leaves the collector less to do.
        super().__init__(
            functools.partial(self._walk, decode=_decode_fields), _describe(queries), as_dids
        )

    @property
    def query(self) -> Query:
        """The validated query (the first alternative of an ``|`` filter)."""
        return self._queries[0]

    def pages(self) -> PageIterator[AvailableDid]:
        """A fresh walk of the same query, yielding Page objects."""
        return PageIterator(functools.partial(self._walk, decode=_decode_dids), self._description)

    def dicts(self) -> ItemIterator[dict[str, Any]]:
        """A fresh walk of the same query, yielding the records as plain dicts."""
        return ItemIterator(functools.partial(self._walk, decode=_decode_dicts), self._description)
