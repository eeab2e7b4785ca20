"""The prefetching feed: the pages of a stream's queries, fetched ahead and merged.

A ``_Feed`` walks one query per alternative of an ``|`` filter with a pure ``Paginator``,
fetches up to ``prefetch`` pages ahead in producer tasks, merges the alternatives and
de-duplicates across them. It counts what it did in one ``StreamStats`` and logs a
WARNING once per stream when a walk reports a slip it could not heal. After the transport
has parsed a big page (in pieces) it lets the event loop turn before the walk takes it;
a typed stream's pages are parsed with their records typed (``_body.parse_page``), and
its ``decode`` completes them.
A big page is decoded (in slices, see ``_stream``) by the producer, while its parsed
records are still in the CPU's cache (decoding it later, in the consumer, measured 10%
slower). A small page is decoded as the consumer takes it: the next request goes out
first, so decoding overlaps the server's answer (a tenth of a request's time on pages of
10). ``DECODE_SLICE`` tells one from the other.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from ._body import parse_page
from ._errors import CarrierXError
from ._models import Page
from ._pagination import Paginator, StreamStats
from ._query import Query

if TYPE_CHECKING:
    from weakref import WeakSet

    from yarl import URL

    from ._transport import Transport, _Timeouts

__all__ = ["DECODE_SLICE", "PREFETCH_TASK"]

T = TypeVar("T")

logger = logging.getLogger("carrierx_async")

_DONE: Final = object()
#: Name prefix of the prefetch tasks a stream runs (visible in asyncio.all_tasks()).
PREFETCH_TASK: Final = "carrierx_async prefetch"

#: Records decoded between two turns of the event loop (a page of 1000 would otherwise
#: hold the loop several times as long as parsing it did: the loop-hold benchmark row).
DECODE_SLICE: Final = 250


class _Undecoded:
    """A page whose records the consumer decodes as it takes the page (a small one)."""

    __slots__ = ("page",)

    def __init__(self, page: Page[Any]) -> None:
        self.page = page


class _Feed(Generic[T]):
    """Pages of one or more queries in order, fetched up to ``prefetch`` pages ahead.

    With several queries (the alternatives of an ``|`` filter) one producer task runs
    per query and their pages are merged; records are then de-duplicated by ``did_sid``
    across the alternatives and ``max_items`` applies to the merged stream. Once a feed
    has raised, it raises the same error again; once it has ended, it stays ended.
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
        decode: Callable[[list[Any]], Awaitable[list[T]]],
        typed: bool = False,
        after: str | None = None,
    ) -> None:
        self._transport = transport
        self._url = url
        self.stats = StreamStats()
        self._warned = False
        self._walkers = [Paginator(q, self.stats, after) for q in queries]
        self._timeouts = timeouts
        self._decode = decode
        self._load = functools.partial(parse_page, typed=typed)
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
        feeds.add(self)  # the client closes it

    async def _fetch(self, walker: Paginator) -> Page[T] | _Undecoded | None:
        """The walk's next page with new records (a step back to heal is not a page)."""
        while True:
            request = walker.next_request()
            if request is None:
                return None
            offset, limit, after = request
            params = walker.query.params(offset=offset, limit=limit, after=after)
            page = await self._transport.get_json(
                self._url,
                params,
                self._timeouts,
                functools.partial(self._page, walker, limit),
                self.stats,
                self._load,
            )
            if page is not None:
                return page

    async def _page(self, walker: Paginator, limit: int, data: Any) -> Page[T] | _Undecoded | None:
        """One response through the walk: its new records (a small page undecoded, see the
        module's docstring), or None for a page set aside."""
        if limit > DECODE_SLICE:
            await asyncio.sleep(0)  # parsing its last piece held the loop: let it turn first
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
        if not items and not walker.done:
            return None
        if len(items) <= DECODE_SLICE:
            return _Undecoded(envelope.with_items(items))
        return envelope.with_items(await self._decode(items))

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
                raw = await self._next_page()
                page = await self._decoded(raw) if isinstance(raw, _Undecoded) else raw
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

    async def _decoded(self, raw: _Undecoded) -> Page[T]:
        """The page with its records decoded; a decoding error told without the token."""
        try:
            return raw.page.with_items(await self._decode(raw.page.items))
        except CarrierXError as exc:
            self._transport.scrub(exc)
            raise

    async def _next_page(self) -> Page[T] | _Undecoded | None:
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
            page: Page[T] | _Undecoded = got
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
