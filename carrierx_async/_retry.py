"""The retry policy for GET requests: which failures to retry, how long to wait, and a budget.

API reference /work/shared/carrierx-api.md section 9.3: no rate limits, quotas or
``Retry-After`` headers are documented, so we treat 429 and 503 (and 408, 500, 502, 504)
as retryable, back off exponentially with full jitter, and honour ``Retry-After`` if sent.

Design:

* Pure: no I/O, no sleeping, no randomness of its own. The client passes ``rng`` (e.g.
  ``random.random``) and, for HTTP-dates, ``now``; ``decide`` only says what to do.
* Transport failures (refused, reset, truncated body, timeout) are ``status=None`` and
  retryable. Other 4xx are never retried. A 2xx with malformed JSON is never retried
  either: the client raises ResponseDecodeError and never asks ``decide``.
* A ``Retry-After`` beyond ``max_retry_after`` is not waited out: ``decide`` returns
  ``retry_after_too_long=True`` and the client raises RateLimitError(retry_after=...) at once.
* ``parse_retry_after`` never raises; anything it cannot read (garbage, NaN, inf,
  out-of-range dates) is ``None``, i.e. "no usable header". A huge but readable value
  (a year, a date in 9999) is kept: like any wait over ``max_retry_after`` it means
  RateLimitError at once, never a retry at normal speed.
* ``decide`` is stateless; the shared ``RetryBudget`` is separate mutable state. The client
  retries only if ``decision.retry and budget.try_spend()``, and calls
  ``budget.record_success()`` on each 2xx, so a 429 storm across many concurrent
  streams cannot multiply the load.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

import attrs

from ._errors import ConfigurationError

__all__ = [
    "RETRYABLE_STATUSES",
    "Decision",
    "RetryBudget",
    "RetryPolicy",
    "decide",
    "parse_retry_after",
]

# Reference section 9.3: nothing documented; 429/503 retryable per its recommendation.
RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})

# Longer header values cannot be a sensible number or date; skip parsing them at all.
_MAX_HEADER_LENGTH: Final = 64
# RFC 9110 delta-seconds is 1*DIGIT; a decimal fraction is accepted too. ASCII digits only.
_DELTA_SECONDS: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# RetryBudget counts in millionths of a token so that refills add up exactly.
_UNITS_PER_TOKEN: Final = 1_000_000


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _check_max_retries(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigurationError(f"max_retries must be an int >= 0, not {value!r}")


def _check_positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not _finite(value) or value <= 0:
        raise ConfigurationError(f"{attribute.name} must be a finite number > 0, not {value!r}")


def _check_non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not _finite(value) or value < 0:
        raise ConfigurationError(f"{attribute.name} must be a finite number >= 0, not {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how long to retry a failed GET."""

    max_retries: int = attrs.field(default=2, validator=_check_max_retries)
    base: float = attrs.field(default=0.5, validator=_check_positive)
    cap: float = attrs.field(default=8.0, validator=_check_positive)
    max_retry_after: float = attrs.field(default=60.0, validator=_check_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.cap < self.base:
            raise ConfigurationError(f"cap ({self.cap!r}) must be >= base ({self.base!r})")

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full-jitter delay before the retry that follows 1-based ``attempt``; rng is in [0, 1)."""
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, not {attempt!r}")
        try:
            ceiling = math.ldexp(self.base, attempt - 1)
        except OverflowError:  # base * 2**(attempt-1) beyond any float; never a big int
            ceiling = math.inf
        return rng() * min(self.cap, ceiling)


@attrs.frozen(kw_only=True)
class Decision:
    """What to do after a failed attempt: retry after ``delay`` seconds, or give up."""

    retry: bool
    delay: float
    reason: str
    retry_after_too_long: bool = False


def decide(
    policy: RetryPolicy,
    *,
    attempt: int,
    status: int | None,
    retry_after: float | None,
    rng: Callable[[], float],
) -> Decision:
    """Whether to retry after 1-based ``attempt`` failed with ``status`` (None: transport)."""
    if status is not None and status not in RETRYABLE_STATUSES:
        return Decision(retry=False, delay=0.0, reason=f"status {status} not retryable")
    if retry_after is not None and not (_finite(retry_after) and retry_after >= 0):
        retry_after = None  # parse_retry_after never yields this; ignore a bad value
    if retry_after is not None and retry_after > policy.max_retry_after:
        return Decision(
            retry=False,
            delay=0.0,
            reason=f"Retry-After {retry_after:g}s exceeds {policy.max_retry_after:g}s",
            retry_after_too_long=True,
        )
    if attempt > policy.max_retries:
        return Decision(retry=False, delay=0.0, reason="no attempts left")
    cause = "transport failure" if status is None else f"status {status}"
    if retry_after is not None:
        return Decision(retry=True, delay=retry_after, reason=f"{cause}, Retry-After")
    return Decision(retry=True, delay=policy.backoff(attempt, rng), reason=cause)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    text = value.strip(" \t")
    if not text or len(text) > _MAX_HEADER_LENGTH:
        return None
    seconds = float(text) if _DELTA_SECONDS.fullmatch(text) else _seconds_until(text, now)
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _seconds_until(text: str, now: datetime | None) -> float | None:
    """Seconds from ``now`` (default: the real clock) until an HTTP-date; None if not a date."""
    try:
        when = parsedate_to_datetime(text)
        # HTTP-dates are GMT; asctime and "-0000" forms parse as naive datetimes.
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if now is None:
            now = datetime.now(UTC)
        elif now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return (when - now).total_seconds()
    except (ValueError, TypeError, OverflowError, IndexError):
        return None


@attrs.define(eq=False)
class RetryBudget:
    """A token bucket shared by one client: each retry spends a token, each success refills.

    Not thread-safe: use it from one event loop. A ``capacity`` of 0 disables retries.
    """

    capacity: float = attrs.field(
        default=10.0, validator=_check_non_negative, on_setattr=attrs.setters.frozen
    )
    refill: float = attrs.field(
        default=0.1, validator=_check_non_negative, on_setattr=attrs.setters.frozen
    )
    _units: int = attrs.field(init=False, repr=False)
    _capacity_units: int = attrs.field(init=False, repr=False)
    _refill_units: int = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._capacity_units = round(self.capacity * _UNITS_PER_TOKEN)
        self._refill_units = round(self.refill * _UNITS_PER_TOKEN)
        self._units = self._capacity_units

    @property
    def available(self) -> float:
        """Tokens left now (a retry needs one whole token)."""
        return self._units / _UNITS_PER_TOKEN

    def try_spend(self) -> bool:
        """Take one token for a retry; False (and nothing taken) if less than one is left."""
        if self._units < _UNITS_PER_TOKEN:
            return False
        self._units -= _UNITS_PER_TOKEN
        return True

    def record_success(self) -> None:
        """Add ``refill`` tokens after a successful response, up to ``capacity``."""
        self._units = min(self._capacity_units, self._units + self._refill_units)
