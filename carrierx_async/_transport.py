"""The aiohttp shell: session ownership, retries, deadlines and the page loop.

The only module that imports aiohttp. Everything it decides is delegated to the
pure core (``_query``, ``_sansio``, ``_retry``, ``_convert``); this module moves
bytes, sleeps, and owns tasks.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import random
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Generic, Self, TypeVar

import aiohttp
import attrs
from yarl import URL

from ._convert import decode_did, decode_dids
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    CarrierXError,
    ClientClosedError,
    ConfigurationError,
    FilterError,
    RateLimitError,
    ResponseDecodeError,
)
from ._filters import Filter
from ._models import AvailableDid, Page
from ._query import Query, build_query, field_params, validate_fields, widen_external_filters
from ._retry import RetryBudget, RetryPolicy, decide, parse_retry_after
from ._sansio import Paginator, check_base_url, decipher, error_from_response

__all__ = ["DEFAULT_BASE_URL", "AvailableDidStream", "Client", "ItemIterator", "PageIterator"]

#: The production API root: Client's default ``base_url``.
DEFAULT_BASE_URL: Final = "https://api.carrierx.com/core/v2"
_LIST_PATH: Final = "phonenumber/available_dids"
_SID_CHARS: Final = frozenset("0123456789abcdefABCDEF-")
logger = logging.getLogger("carrierx_async")

T = TypeVar("T")


class _Secret:
    """Holds a credential; its repr never shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<redacted>"


class Client:
    """An async CarrierX Core API v2 client for browsing available phone numbers."""

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | URL = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        connect_timeout: float = 10.0,
        read_timeout: float = 20.0,
        prefetch: int = 1,
        retry_budget: RetryBudget | None = None,
        external_filters: Iterable[tuple[str, str]] = (),
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        _sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        token = (token if token is not None else os.environ.get("CARRIERX_TOKEN", "")).strip()
        if not token:
            raise ConfigurationError(
                "no CarrierX token: pass Client(token=...) or set the CARRIERX_TOKEN "
                "environment variable"
            )
        if any(c in token for c in "\r\n"):
            raise ConfigurationError("the token contains a line break")
        self._token = _Secret(token)
        self._base_url = check_base_url(base_url)
        self._list_url = self._base_url / _LIST_PATH
        self._timeouts = _timeouts(timeout, connect_timeout, read_timeout, ConfigurationError)
        _check_prefetch(prefetch, ConfigurationError)
        self._policy = RetryPolicy(max_retries=max_retries)
        self._budget = retry_budget if retry_budget is not None else RetryBudget()
        self._external_filters = widen_external_filters(external_filters)
        self._prefetch = prefetch
        if session is not None and trace_configs:
            raise ConfigurationError(
                "trace_configs apply to a session the client creates; attach them to the "
                "session you pass instead"
            )
        self._session = session
        self._owns_session = session is None
        self._trace_configs = list(trace_configs or ())
        self._closed = False
        self._sleep = _sleep
        self._feeds: weakref.WeakSet[_Feed[Any]] = weakref.WeakSet()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<Client base_url={str(self._base_url)!r}{state}>"

    @property
    def base_url(self) -> URL:
        """The API root every request goes to."""
        return self._base_url

    @property
    def closed(self) -> bool:
        """True once close() has been called."""
        return self._closed

    async def __aenter__(self) -> Self:
        self._ensure_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop open streams and close the session if this client created it."""
        if self._closed:
            return
        self._closed = True
        for feed in list(self._feeds):
            await feed.aclose(ClientClosedError("the Client was closed while this stream was open"))
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("this Client is closed; create a new one")
        if self._session is None:
            self._session = aiohttp.ClientSession(trace_configs=self._trace_configs or None)
        elif self._session.closed:
            raise ClientClosedError("the aiohttp session passed to this Client is closed")
        return self._session

    def available_dids(
        self,
        *,
        filter: Filter | str | None = None,
        order: str | None = None,
        page_size: int | None = None,
        max_items: int | None = None,
        include_fields: Iterable[Any] | None = None,
        exclude_fields: Iterable[Any] | None = None,
        include_external: bool = False,
        prefetch: int | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
    ) -> AvailableDidStream:
        """Stream available DIDs matching the query; no I/O until iterated."""
        if self._closed:
            raise ClientClosedError("this Client is closed; create a new one")
        query = build_query(
            filter=filter,
            order=order,
            page_size=page_size,
            max_items=max_items,
            include_fields=include_fields,
            exclude_fields=exclude_fields,
            include_external=include_external,
            external_filters=self._external_filters,
        )
        if prefetch is not None:
            _check_prefetch(prefetch, FilterError)
        timeouts = self._call_timeouts(timeout, connect_timeout, read_timeout)
        queries = (
            [query.with_filter(alt) for alt in query.filter.alternatives()]
            if query.filter is not None
            else [query]
        )
        return AvailableDidStream(
            self,
            queries,
            prefetch=self._prefetch if prefetch is None else prefetch,
            timeouts=timeouts,
        )

    async def get_available_did(
        self,
        did_sid: str,
        *,
        include_fields: Iterable[Any] | None = None,
        exclude_fields: Iterable[Any] | None = None,
        timeout: float | None = None,
    ) -> AvailableDid:
        """Fetch one available DID by its SID (``GET /phonenumber/available_dids/{did_sid}``)."""
        if not isinstance(did_sid, str) or not did_sid or not _SID_CHARS.issuperset(did_sid):
            raise FilterError(f"did_sid must be a SID like 'c3f8...-...', got {did_sid!r}")
        include, exclude = validate_fields(include_fields, exclude_fields)
        data = await self._get_json(
            self._list_url / did_sid,
            field_params(include, exclude),
            self._call_timeouts(timeout, None, None),
        )
        return decode_did(data)

    def _call_timeouts(
        self, timeout: float | None, connect_timeout: float | None, read_timeout: float | None
    ) -> _Timeouts:
        """The client's time limits with one call's overrides (a bad value: FilterError)."""
        base = self._timeouts
        if timeout is None and connect_timeout is None and read_timeout is None:
            return base
        return _timeouts(
            base.deadline if timeout is None else timeout,
            base.attempt.sock_connect if connect_timeout is None else connect_timeout,
            base.attempt.sock_read if read_timeout is None else read_timeout,
            FilterError,
        )

    async def _get_json(self, url: URL, params: dict[str, str], timeouts: _Timeouts) -> Any:
        """GET url?params with retries, all within the call's deadline; return JSON."""
        url = url.with_query(params)
        loop = asyncio.get_running_loop()
        attempts = 0
        try:
            async with asyncio.timeout(timeouts.deadline) as deadline:
                while True:
                    attempts += 1
                    try:
                        outcome = await self._attempt(url, attempts, timeouts.attempt)
                    except ResponseDecodeError as exc:  # a 2xx we cannot read: never retried
                        exc.attempts = attempts
                        raise
                    if not isinstance(outcome, _Failure):
                        self._budget.record_success()
                        return outcome
                    error = outcome.error
                    error.attempts = attempts
                    decision = decide(
                        self._policy,
                        attempt=attempts,
                        status=outcome.status,
                        retry_after=outcome.retry_after,
                        rng=random.random,
                    )
                    left = (deadline.when() or math.inf) - loop.time()
                    if (
                        isinstance(error, APIError)
                        and outcome.retry_after is not None
                        and (
                            decision.retry_after_too_long
                            or (decision.retry and decision.delay >= left)
                        )
                    ):
                        # Waiting as told would outlive the policy or the deadline: say so now.
                        raise _rate_limited(error, outcome.retry_after)
                    if not decision.retry or not self._budget.try_spend():
                        raise error
                    logger.info(
                        "GET %s: %s; retrying in %.2fs", url, decision.reason, decision.delay
                    )
                    await self._sleep(decision.delay)
        except TimeoutError:
            raise APITimeoutError(
                f"no complete response within the {timeouts.deadline:g}s deadline",
                url=str(url),
                attempts=attempts,
            ) from None

    async def _attempt(self, url: URL, attempt: int, timeout: aiohttp.ClientTimeout) -> Any:
        """One GET: the parsed JSON, or a _Failure for the retry policy to judge."""
        session = self._ensure_session()
        loop = asyncio.get_running_loop()
        started = loop.time()
        headers = {"Authorization": f"Bearer {self._token.value}", "Accept": "application/json"}
        failure: BaseException | None = None
        try:
            async with session.get(
                url,
                headers=headers,
                allow_redirects=False,
                raise_for_status=False,  # a borrowed session may say otherwise
                timeout=timeout,
            ) as resp:
                body = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = exc
        if failure is not None:  # handled outside the except block: no aiohttp __context__
            if self._closed:
                raise ClientClosedError("the Client was closed during the request")
            reason = self._describe(failure)
            logger.debug("GET %s attempt %d failed: %s", url, attempt, reason)
            kind = APITimeoutError if isinstance(failure, TimeoutError) else APIConnectionError
            broken = kind(f"request failed: {reason}", url=str(url), attempts=attempt)
            if isinstance(failure, aiohttp.ClientSSLError):
                raise broken  # a certificate problem: trying again cannot fix it
            return _Failure(None, None, broken)
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = loop.time() - started
            logger.debug("GET %s -> %d (attempt %d, %.3fs)", url, status, attempt, elapsed)
        if not 200 <= status < 300:
            error = error_from_response(status, resp_headers, body, url=str(url))
            retry_after = parse_retry_after(resp_headers.get("Retry-After"), now=datetime.now(UTC))
            return _Failure(status, retry_after, error)
        return decipher(status, resp_headers, body, url=str(url))

    def _describe(self, exc: BaseException) -> str:
        """An aiohttp exception as text, with the credential scrubbed just in case."""
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return text.replace(self._token.value, "<redacted>")


class _Failure:
    """A failed attempt: what the retry policy needs, and the error to raise if it says stop."""

    __slots__ = ("error", "retry_after", "status")

    def __init__(
        self,
        status: int | None,
        retry_after: float | None,
        error: APIError | APIConnectionError,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.error = error


def _rate_limited(error: APIError, retry_after: float) -> RateLimitError:
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


@attrs.frozen
class _Timeouts:
    """One call's time limits: its overall deadline and each attempt's socket timeouts."""

    deadline: float
    attempt: aiohttp.ClientTimeout


def _timeouts(deadline: Any, connect: Any, read: Any, exc: type[CarrierXError]) -> _Timeouts:
    """Checked time limits; ``exc`` is the error to raise for a bad value."""
    for name, value in (
        ("timeout", deadline),
        ("connect_timeout", connect),
        ("read_timeout", read),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6:
            raise exc(f"{name} must be a positive number of seconds, got {value!r}")
    return _Timeouts(
        float(deadline), aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)
    )


def _check_prefetch(value: Any, exc: type[CarrierXError]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise exc(f"prefetch must be a whole number >= 0, got {value!r}")


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
        decode: Callable[[list[Any]], list[T]],
    ) -> None:
        self._client = client
        self._walkers = [Paginator(q) for q in queries]
        self._timeouts = timeouts
        self._decode = decode
        self._inline = len(queries) == 1 and prefetch == 0
        self._prefetch = max(prefetch, 1)
        self._tasks: list[asyncio.Task[None]] = []
        self._queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        self._slots: list[asyncio.Semaphore] = []
        self._running = 0
        self._merge_seen: set[Any] | None = set() if len(queries) > 1 else None
        self._max_items = queries[0].max_items
        self._yielded = 0
        self._finished = False
        self._error: BaseException | None = None
        client._feeds.add(self)

    async def _fetch(self, walker: Paginator) -> Page[T] | None:
        request = walker.next_request()
        if request is None:
            return None
        offset, limit = request
        params = walker.query.params(offset=offset, limit=limit)
        data = await self._client._get_json(self._client._list_url, params, self._timeouts)
        items, envelope = walker.accept(data)
        return envelope.with_items(self._decode(items))

    async def _produce(self, index: int) -> None:
        walker, slots = self._walkers[index], self._slots[index]
        try:
            while True:
                await slots.acquire()
                page = await self._fetch(walker)
                self._queue.put_nowait((index, _DONE if page is None else page))
                if page is None:
                    return
        except Exception as exc:  # handed to the consumer, raised there
            self._queue.put_nowait((index, exc))

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
            return page

    async def _next_page(self) -> Page[T] | None:
        if self._inline:
            return await self._fetch(self._walkers[0])
        if not self._tasks:
            self._start()
        while self._running:
            index, got = await self._queue.get()
            if index < 0 or self._error is not None or self._finished:
                return None  # woken by aclose(); next() reports why
            if got is _DONE:
                self._running -= 1
                continue
            if isinstance(got, BaseException):
                raise got
            self._slots[index].release()
            # Let the producer send its next request now, before the consumer works through
            # this page without awaiting anything: otherwise "prefetch" starts too late.
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
            self._queue.put_nowait((-1, _DONE))  # wake a consumer waiting for a page


def _identity(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("did_sid") or item.get("phonenumber")
    return getattr(item, "did_sid", None) or getattr(item, "phonenumber", None)


def _decode_dicts(items: list[Any]) -> list[dict[str, Any]]:
    return items


class _Stream(Generic[T]):
    """Owns one feed, made on first use: closed by ``async with``/``aclose()``, or
    cancelled when the stream is garbage collected."""

    def __init__(self, make_feed: Callable[[], _Feed[T]]) -> None:
        self._make_feed = make_feed
        self._started: _Feed[T] | None = None

    @property
    def _feed(self) -> _Feed[T]:
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

    def __init__(self, make_feed: Callable[[], _Feed[T]]) -> None:
        super().__init__(make_feed)
        self._items: list[T] = []
        self._pos = 0

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        while self._pos >= len(self._items):
            page = await self._feed.next()
            if page is None:
                raise StopAsyncIteration
            self._items, self._pos = page.items, 0
        item = self._items[self._pos]
        self._pos += 1
        return item


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
        super().__init__(functools.partial(self._walk, decode=decode_dids))

    @property
    def query(self) -> Query:
        """The validated query (the first alternative of an ``|`` filter)."""
        return self._queries[0]

    def pages(self) -> PageIterator[AvailableDid]:
        """A fresh walk of the same query, yielding Page objects."""
        return PageIterator(functools.partial(self._walk, decode=decode_dids))

    def dicts(self) -> ItemIterator[dict[str, Any]]:
        """A fresh walk of the same query, yielding the records as plain dicts."""
        return ItemIterator(functools.partial(self._walk, decode=_decode_dicts))
