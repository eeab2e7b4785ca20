"""One GET with retries and a deadline: the only code that sends a request.

With ``_client`` it is one of the two modules that import aiohttp. A ``Transport`` owns (or
borrows) the aiohttp session, adds the credential, and turns every attempt into parsed
JSON (the ``load`` it is given, ``_body.parse_json`` by default) or a
``_Failure`` that the pure retry policy (``_retry.decide``) judges; what to raise for a
response is decided in ``_sansio``.

Limits it enforces: at most ``max_concurrency`` attempts of one client in flight (a FIFO
semaphore held around each attempt, so waiting calls are served in arrival order; a wait
for it is bounded by ``pool_timeout`` and stops the call's deadline clock, which measures
the server, not the queue); a body
read in chunks and abandoned as soon as it passes ``max_response_bytes`` after
decompression; one request on the wire per counted attempt (aiohttp's own silent resend
of an idempotent request on a dropped pooled connection is refused by a per-request
middleware). Every error leaving ``get_json`` is scrubbed of the token, and ``close()``
wakes every call waiting here (for a slot, a backoff or a response) with
ClientClosedError.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import aiohttp
import attrs
from yarl import URL

from ._body import parse_json
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    CarrierXError,
    ClientClosedError,
    ConfigurationError,
    PoolTimeoutError,
    ResponseDecodeError,
    ResponseTooLargeError,
    scrub_error,
    scrub_text,
)
from ._pagination import StreamStats
from ._retry import RetryBudget, RetryPolicy, decide, parse_retry_after
from ._sansio import error_from_response, expect_json, rate_limited

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_POOL_TIMEOUT",
    "Transport",
]

logger = logging.getLogger("carrierx_async")

R = TypeVar("R")

#: Client's default ``max_response_bytes``: about 25 times a full page of 1000 records.
DEFAULT_MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024
#: Client's default ``max_concurrency``: requests of one client in flight at once.
DEFAULT_MAX_CONCURRENCY: Final = 8
#: Client's default ``pool_timeout``: seconds a request may wait for a concurrency slot.
DEFAULT_POOL_TIMEOUT: Final = 60.0


class _Secret:
    """Holds a credential; its repr never shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<redacted>"


class Transport:
    """GETs for one Client: its session, credential, retry policy, budget and clock."""

    def __init__(
        self,
        token: str,
        *,
        session: aiohttp.ClientSession | None,
        trace_configs: Sequence[aiohttp.TraceConfig],
        policy: RetryPolicy,
        budget: RetryBudget,
        max_response_bytes: int,
        max_concurrency: int,
        pool_timeout: float | None,
        proxy: URL | None,
    ) -> None:
        self._token = _Secret(token)
        self.session = session
        self._owns_session = session is None
        self._trace_configs = list(trace_configs)
        self._policy = policy
        self._budget = budget
        self._max_bytes = max_response_bytes
        self._slots = asyncio.Semaphore(max_concurrency)
        self._max_concurrency = max_concurrency
        self._pool_timeout = pool_timeout
        self._proxy = proxy
        #: How backoff waits are slept; tests replace it after construction so that waits
        #: cost no real time.
        self._sleep: Callable[[float], Any] = asyncio.sleep
        self._calls: set[asyncio.Task[Any]] = set()
        self._woken: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def ensure_session(self) -> aiohttp.ClientSession:
        if self.closed:
            raise ClientClosedError("this Client is closed; create a new one")
        if self.session is None:
            self.session = aiohttp.ClientSession(
                trace_configs=self._trace_configs or None, proxy=self._proxy
            )
        elif self.session.closed:
            raise ClientClosedError("the aiohttp session passed to this Client is closed")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # aiohttp has no public accessor for a session's loop; a session of another
            # loop would otherwise fail deep inside aiohttp with a bare RuntimeError.
            if getattr(self.session, "_loop", loop) is not loop:
                raise ConfigurationError(
                    "the aiohttp session belongs to another event loop; create the session "
                    "(and the Client) inside the loop that uses them"
                )
            self._loop = loop
        return self.session

    def wake_all(self) -> None:
        """Make every call waiting in ``get_json`` fail with ClientClosedError now."""
        for task in self._calls:
            if not task.done() and task not in self._woken:
                self._woken.add(task)
                task.cancel()

    async def close_session(self) -> None:
        """Close the session if this transport created it; forget a borrowed one."""
        if self._owns_session and self.session is not None:
            await self.session.close()
        self.session = None

    def scrub(self, exc: CarrierXError) -> None:
        """Scrub the token from an error raised outside ``get_json`` (decoding a page)."""
        scrub_error(exc, self._token.value)

    async def get_json(
        self,
        url: URL,
        params: dict[str, str],
        timeouts: _Timeouts,
        parse: Callable[[Any], Awaitable[R]],
        stats: StreamStats | None = None,
        load: Callable[[bytes, int], Awaitable[Any]] | None = None,
    ) -> R:
        """GET url?params with retries, within the call's deadline; return ``await parse(json)``.

        ``load(body, status)`` parses a 2xx JSON body (default: ``parse_json``).

        The one exit of every request: errors from the server's answer, from ``parse``
        or from aiohttp leave here scrubbed of the token. ``stats`` (a stream's) counts
        every attempt and every retry.
        """
        task = asyncio.current_task()
        assert task is not None
        self._calls.add(task)
        try:
            got = await self._get(url.with_query(params), timeouts, stats, load or parse_json)
            return await parse(got)
        except CarrierXError as exc:
            self.scrub(exc)
            raise
        except asyncio.CancelledError:
            if task not in self._woken:
                raise
            self._woken.discard(task)
            task.uncancel()
            raise ClientClosedError("the Client was closed while this call waited") from None
        finally:
            self._calls.discard(task)
            self._woken.discard(task)

    async def _get(
        self,
        url: URL,
        timeouts: _Timeouts,
        stats: StreamStats | None,
        load: Callable[[bytes, int], Awaitable[Any]],
    ) -> Any:
        loop = asyncio.get_running_loop()
        attempts = 0
        retry_after: float | None = None  # the last Retry-After the server sent
        left = timeouts.deadline  # of the deadline, while its clock is stopped
        try:
            async with asyncio.timeout(None) as deadline:  # runs only while a slot is held
                while True:
                    attempts += 1
                    if stats is not None:
                        stats.requests += 1
                        stats.retries += attempts > 1
                    try:
                        if (when := deadline.when()) is not None:
                            left = when - loop.time()
                            deadline.reschedule(None)
                        await self._take_slot(url)
                        deadline.reschedule(loop.time() + left)
                        try:
                            started = loop.time()
                            outcome = await self._attempt(url, attempts, timeouts.attempt, load)
                            took = loop.time() - started
                        finally:
                            self._slots.release()
                    except (ResponseDecodeError, APIConnectionError) as exc:  # never retried
                        exc.attempts = attempts
                        raise
                    if not isinstance(outcome, _Failure):
                        self._budget.record_success()
                        return outcome
                    error = outcome.error
                    error.attempts = attempts
                    if outcome.retry_after is not None:
                        retry_after = outcome.retry_after
                    if isinstance(error, APIError) and retry_after is not None:
                        error.retry_after = retry_after
                    decision = decide(
                        self._policy,
                        attempt=attempts,
                        status=outcome.status,
                        retry_after=outcome.retry_after,
                        rng=random.random,
                    )
                    # A wait fits if an attempt as long as this one still fits after it.
                    left = (deadline.when() or math.inf) - loop.time() - took
                    too_long = decision.retry_after_too_long or (
                        decision.retry and decision.delay >= left
                    )
                    if too_long and isinstance(error, APIError) and outcome.retry_after is not None:
                        # Waiting as told would outlive the policy or the deadline: say so now.
                        raise rate_limited(error, outcome.retry_after)
                    if too_long or not decision.retry or not self._budget.try_spend():
                        raise error  # the next wait cannot fit: the error in hand, at once
                    self._log(
                        logging.INFO,
                        "GET %s: %s; retrying in %.2fs",
                        url,
                        decision.reason,
                        decision.delay,
                    )
                    await self._sleep(decision.delay)
        except TimeoutError:
            raise APITimeoutError(
                f"no complete response within the {timeouts.deadline:g}s deadline",
                url=str(url),
                attempts=attempts,
            ) from None

    async def _take_slot(self, url: URL) -> None:
        """One of the ``max_concurrency`` slots, waited for at most ``pool_timeout``."""
        try:
            async with asyncio.timeout(self._pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeoutError(
                f"no free max_concurrency={self._max_concurrency} slot within "
                f"pool_timeout={self._pool_timeout:g}s: this client has more requests "
                "waiting than it sends at once; raise Client(max_concurrency=...) or "
                "Client(pool_timeout=...), or start fewer streams at a time",
                url=str(url),
            ) from None

    async def _attempt(
        self,
        url: URL,
        attempt: int,
        timeout: aiohttp.ClientTimeout,
        load: Callable[[bytes, int], Awaitable[Any]],
    ) -> Any:
        """One GET: ``load``'s parse of the body, or a _Failure for the retry policy."""
        session = self.ensure_session()
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
                middlewares=(_one_send(), *getattr(session, "_middlewares", ())),
            ) as resp:
                status, resp_headers = resp.status, resp.headers
                body = await self._read(resp, url)
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = exc
        if failure is not None:  # handled outside the except block: no aiohttp __context__
            reason = _describe(failure)
            self._log(logging.DEBUG, "GET %s attempt %d failed: %s", url, attempt, reason)
            kind = APITimeoutError if isinstance(failure, TimeoutError) else APIConnectionError
            broken = kind(f"request failed: {reason}", url=str(url), attempts=attempt)
            if isinstance(failure, aiohttp.ClientSSLError | aiohttp.ClientResponseError):
                # A certificate problem, or a response aiohttp refuses to parse (a header
                # over its limits, a malformed status line): trying again cannot fix it.
                raise broken
            return _Failure(None, None, broken)
        elapsed = loop.time() - started
        self._log(logging.DEBUG, "GET %s -> %d (attempt %d, %.3fs)", url, status, attempt, elapsed)
        if not 200 <= status < 300:
            error = error_from_response(status, resp_headers, body, url=str(url))
            retry_after = parse_retry_after(resp_headers.get("Retry-After"), now=datetime.now(UTC))
            return _Failure(status, retry_after, error)
        expect_json(status, resp_headers, body, url=str(url))
        return await load(body, status)

    def _log(self, level: int, msg: str, *args: object) -> None:
        """Log one record, formatted and then scrubbed of the token as a whole.

        The only way this module logs. A URL can carry server text (a keyset page's last
        phonenumber goes into the next request's filter), so no argument is trusted, and a
        number (a status, an attempt) is text once formatted.
        """
        if logger.isEnabledFor(level):
            logger.log(level, "%s", scrub_text(msg % args, self._token.value), stacklevel=2)

    async def _read(self, resp: aiohttp.ClientResponse, url: URL) -> bytes:
        """The body, read in chunks (decompressed by aiohttp) and abandoned past the cap."""
        limit = self._max_bytes
        declared = resp.content_length if "Content-Encoding" not in resp.headers else None
        size = 0 if declared is None else declared
        content = resp.content
        chunks: list[bytes] = []
        while size <= limit:
            chunk = await content.readany()
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            if declared is None:
                size += len(chunk)
            if content.at_eof() and size <= limit:
                # Whole body in hand: asking for the empty end-of-body chunk would cost
                # loop turns (a small page usually arrives in one chunk).
                return chunk if len(chunks) == 1 else b"".join(chunks)
        raise ResponseTooLargeError(
            f"the response body is over max_response_bytes={limit} ({limit / 2**20:g} MiB); "
            "pass Client(max_response_bytes=...) to raise the cap",
            status=resp.status,
        )


def _describe(exc: BaseException) -> str:
    """An aiohttp exception as text (scrubbed of the token with every error later)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _one_send() -> Any:
    """A per-request aiohttp middleware that lets the request reach the wire only once.

    aiohttp resends an idempotent request once, silently, when a pooled connection drops
    (``ClientSession._request``); that resend would be an attempt the retry policy and
    budget never counted. Re-entry raises the first failure instead, which aiohttp then
    lets through (it resends at most once).
    """
    failure: BaseException | None = None

    async def middleware(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        nonlocal failure
        if failure is not None:
            raise failure
        try:
            return await handler(request)
        except aiohttp.ClientError as exc:
            failure = exc
            raise

    return middleware


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


@attrs.frozen
class _Timeouts:
    """One call's time limits: its overall deadline and each attempt's socket timeouts."""

    deadline: float
    attempt: aiohttp.ClientTimeout


def _check_seconds(name: str, value: Any, exc: type[CarrierXError]) -> None:
    """A time limit must be a positive number of seconds; ``exc`` is raised otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6:
        raise exc(f"{name} must be a positive number of seconds, got {value!r}")


def _timeouts(deadline: Any, connect: Any, read: Any, exc: type[CarrierXError]) -> _Timeouts:
    """Checked time limits; ``exc`` is the error to raise for a bad value."""
    _check_seconds("timeout", deadline, exc)
    _check_seconds("connect_timeout", connect, exc)
    _check_seconds("read_timeout", read, exc)
    return _Timeouts(
        float(deadline), aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)
    )
