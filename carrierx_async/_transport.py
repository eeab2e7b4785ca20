"""One GET with retries and a deadline: the only code that sends a request.

With ``_client`` it is one of the two modules that import aiohttp. A ``Transport`` owns (or
borrows) the aiohttp session, adds the credential, and turns every attempt into parsed
JSON or a ``_Failure`` that the pure retry policy (``_retry.decide``) judges; what to
raise for a response is decided in ``_sansio``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import attrs
from yarl import URL

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    CarrierXError,
    ClientClosedError,
    RateLimitError,
    ResponseDecodeError,
)
from ._retry import RetryBudget, RetryPolicy, decide, parse_retry_after
from ._sansio import decipher, error_from_response

__all__ = ["Transport"]

logger = logging.getLogger("carrierx_async")


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
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._token = _Secret(token)
        self.session = session
        self._owns_session = session is None
        self._trace_configs = list(trace_configs)
        self._policy = policy
        self._budget = budget
        self._sleep = sleep
        self.closed = False

    def ensure_session(self) -> aiohttp.ClientSession:
        if self.closed:
            raise ClientClosedError("this Client is closed; create a new one")
        if self.session is None:
            self.session = aiohttp.ClientSession(trace_configs=self._trace_configs or None)
        elif self.session.closed:
            raise ClientClosedError("the aiohttp session passed to this Client is closed")
        return self.session

    async def close_session(self) -> None:
        """Close the session if this transport created it; forget a borrowed one."""
        if self._owns_session and self.session is not None:
            await self.session.close()
        self.session = None

    async def get_json(self, url: URL, params: dict[str, str], timeouts: _Timeouts) -> Any:
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
            ) as resp:
                body = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except (TimeoutError, aiohttp.ClientError) as exc:
            failure = exc
        if failure is not None:  # handled outside the except block: no aiohttp __context__
            if self.closed:
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
