"""Tests for carrierx_async._retry: pure, no event loop, no sleeping, no real clock."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carrierx_async._errors import ConfigurationError
from carrierx_async._retry import (
    RETRYABLE_STATUSES,
    Decision,
    RetryBudget,
    RetryPolicy,
    decide,
    parse_retry_after,
)

NOW = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
ALMOST_ONE = 0.9999999999999999


def fixed(value: float):
    """An rng that always returns ``value``."""
    return lambda: value


def exploding_rng() -> float:
    raise AssertionError("rng must not be called")


# --- RETRYABLE_STATUSES ---------------------------------------------------------------


def test_retryable_statuses_are_exactly_the_documented_set():
    assert frozenset({408, 429, 500, 502, 503, 504}) == RETRYABLE_STATUSES


# --- decide ---------------------------------------------------------------------------

POLICY = RetryPolicy(max_retries=2, base=0.5, cap=8.0, max_retry_after=60.0)


@pytest.mark.parametrize(
    ("attempt", "status", "retry_after", "expected"),
    [
        # Retryable statuses and transport failures, with attempts left: jittered backoff.
        (1, 503, None, Decision(retry=True, delay=0.25, reason="status 503")),
        (2, 503, None, Decision(retry=True, delay=0.5, reason="status 503")),
        (1, 429, None, Decision(retry=True, delay=0.25, reason="status 429")),
        (1, 408, None, Decision(retry=True, delay=0.25, reason="status 408")),
        (1, 500, None, Decision(retry=True, delay=0.25, reason="status 500")),
        (1, 502, None, Decision(retry=True, delay=0.25, reason="status 502")),
        (2, 504, None, Decision(retry=True, delay=0.5, reason="status 504")),
        (1, None, None, Decision(retry=True, delay=0.25, reason="transport failure")),
        # Retry-After within the limit is the delay, whatever the backoff would be.
        (1, 429, 30.0, Decision(retry=True, delay=30.0, reason="status 429, Retry-After")),
        (2, 503, 60.0, Decision(retry=True, delay=60.0, reason="status 503, Retry-After")),
        (1, 503, 0.0, Decision(retry=True, delay=0.0, reason="status 503, Retry-After")),
        # Retry-After beyond the limit: give up at once, flagged.
        (
            1,
            429,
            120.0,
            Decision(
                retry=False,
                delay=0.0,
                reason="Retry-After 120s exceeds 60s",
                retry_after_too_long=True,
            ),
        ),
        (
            3,
            503,
            60.5,
            Decision(
                retry=False,
                delay=0.0,
                reason="Retry-After 60.5s exceeds 60s",
                retry_after_too_long=True,
            ),
        ),
        # Out of attempts: attempt 3 is the last one when max_retries=2.
        (3, 503, None, Decision(retry=False, delay=0.0, reason="no attempts left")),
        (3, None, None, Decision(retry=False, delay=0.0, reason="no attempts left")),
        (3, 429, 1.0, Decision(retry=False, delay=0.0, reason="no attempts left")),
        # Never retried, whatever the attempt or Retry-After.
        (1, 400, None, Decision(retry=False, delay=0.0, reason="status 400 not retryable")),
        (1, 401, None, Decision(retry=False, delay=0.0, reason="status 401 not retryable")),
        (1, 403, None, Decision(retry=False, delay=0.0, reason="status 403 not retryable")),
        (1, 404, 5.0, Decision(retry=False, delay=0.0, reason="status 404 not retryable")),
        (1, 409, None, Decision(retry=False, delay=0.0, reason="status 409 not retryable")),
        (1, 422, None, Decision(retry=False, delay=0.0, reason="status 422 not retryable")),
        (1, 501, None, Decision(retry=False, delay=0.0, reason="status 501 not retryable")),
        (1, 200, None, Decision(retry=False, delay=0.0, reason="status 200 not retryable")),
    ],
)
def test_decide_table(attempt, status, retry_after, expected):
    got = decide(POLICY, attempt=attempt, status=status, retry_after=retry_after, rng=fixed(0.5))
    assert got == expected


@pytest.mark.parametrize("status", [400, 404, 501, 999])
def test_decide_does_not_draw_randomness_when_not_retrying(status):
    got = decide(POLICY, attempt=1, status=status, retry_after=None, rng=exploding_rng)
    assert got.retry is False


def test_decide_with_retry_after_does_not_draw_randomness():
    got = decide(POLICY, attempt=1, status=503, retry_after=7.0, rng=exploding_rng)
    assert (got.retry, got.delay) == (True, 7.0)


def test_decide_zero_retries_never_retries():
    policy = RetryPolicy(max_retries=0)
    got = decide(policy, attempt=1, status=503, retry_after=None, rng=fixed(0.5))
    assert got == Decision(retry=False, delay=0.0, reason="no attempts left")


def test_decide_total_attempts_is_one_plus_max_retries():
    policy = RetryPolicy(max_retries=4)
    retried = [
        decide(policy, attempt=n, status=None, retry_after=None, rng=fixed(0.0)).retry
        for n in range(1, 8)
    ]
    assert retried == [True, True, True, True, False, False, False]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1.0])
def test_decide_ignores_an_unusable_retry_after(bad):
    got = decide(POLICY, attempt=1, status=429, retry_after=bad, rng=fixed(0.5))
    assert got == Decision(retry=True, delay=0.25, reason="status 429")


def test_decide_zero_max_retry_after_rejects_any_positive_wait():
    policy = RetryPolicy(max_retry_after=0.0)
    assert decide(policy, attempt=1, status=429, retry_after=0.0, rng=fixed(0.5)).retry
    late = decide(policy, attempt=1, status=429, retry_after=0.001, rng=fixed(0.5))
    assert late.retry_after_too_long
    assert not late.retry


@given(
    attempt=st.integers(min_value=1, max_value=10**6),
    status=st.one_of(st.none(), st.integers(min_value=100, max_value=599)),
    retry_after=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    r=st.floats(min_value=0.0, max_value=ALMOST_ONE),
)
def test_decide_invariants(attempt, status, retry_after, r):
    got = decide(POLICY, attempt=attempt, status=status, retry_after=retry_after, rng=fixed(r))
    assert math.isfinite(got.delay)
    assert 0.0 <= got.delay <= POLICY.max_retry_after
    if got.retry:
        assert status is None or status in RETRYABLE_STATUSES
        assert attempt <= POLICY.max_retries
    else:
        assert got.delay == 0.0
    if got.retry_after_too_long:
        assert not got.retry
        assert retry_after is not None
        assert retry_after > POLICY.max_retry_after


def test_decision_is_frozen():
    d = Decision(retry=True, delay=1.0, reason="x")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        d.retry = False  # type: ignore[misc]


# --- RetryPolicy.backoff --------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "r", "expected"),
    [
        (1, 0.0, 0.0),
        (1, 0.5, 0.25),
        (1, ALMOST_ONE, 0.5 * ALMOST_ONE),
        (2, 0.5, 0.5),
        (3, 0.5, 1.0),
        (4, 0.5, 2.0),
        (5, 0.5, 4.0),
        (5, ALMOST_ONE, 8.0 * ALMOST_ONE),
        (6, 0.5, 4.0),  # 16 capped at 8
        (6, ALMOST_ONE, 8.0 * ALMOST_ONE),
        (50, 0.5, 4.0),
    ],
)
def test_backoff_values(attempt, r, expected):
    assert RetryPolicy().backoff(attempt, fixed(r)) == expected


@pytest.mark.parametrize("attempt", [1024, 1025, 2100, 2101, 10**6, 10**30])
def test_backoff_huge_attempt_is_capped_without_overflow(attempt):
    assert RetryPolicy().backoff(attempt, fixed(0.5)) == 4.0


def test_backoff_tiny_base_and_huge_cap_still_reaches_cap():
    policy = RetryPolicy(base=5e-324, cap=1e308)
    assert policy.backoff(10**9, fixed(0.5)) == 0.5e308
    assert policy.backoff(1, fixed(1.0)) == 5e-324


@given(
    attempt=st.integers(min_value=1, max_value=10**40),
    r=st.floats(min_value=0.0, max_value=ALMOST_ONE),
    base=st.floats(min_value=1e-6, max_value=10.0),
    extra=st.floats(min_value=0.0, max_value=100.0),
)
def test_backoff_is_within_zero_and_the_cap(attempt, r, base, extra):
    policy = RetryPolicy(base=base, cap=base + extra)
    delay = policy.backoff(attempt, fixed(r))
    assert 0.0 <= delay <= policy.cap
    assert delay <= base * 2.0 ** min(attempt - 1, 1000)


@pytest.mark.parametrize("attempt", [0, -1, -(10**9)])
def test_backoff_rejects_attempt_below_one(attempt):
    with pytest.raises(ValueError, match="1-based"):
        RetryPolicy().backoff(attempt, fixed(0.5))


# --- RetryPolicy validation -----------------------------------------------------------


def test_policy_defaults():
    assert RetryPolicy() == RetryPolicy(max_retries=2, base=0.5, cap=8.0, max_retry_after=60.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"base": 0.0}, "base"),
        ({"base": -0.5}, "base"),
        ({"base": math.nan}, "base"),
        ({"base": math.inf}, "base"),
        ({"cap": 0.0}, "cap"),
        ({"cap": math.inf}, "cap"),
        ({"cap": 0.25}, "cap"),  # below the default base 0.5
        ({"base": 2.0, "cap": 1.0}, "cap"),
        ({"max_retry_after": -1.0}, "max_retry_after"),
        ({"max_retry_after": math.nan}, "max_retry_after"),
        ({"max_retry_after": math.inf}, "max_retry_after"),
        ({"base": "0.5"}, "base"),
    ],
)
def test_policy_rejects_bad_settings(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        RetryPolicy(**kwargs)


def test_configuration_error_is_a_value_error():
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)


def test_policy_accepts_edge_settings():
    policy = RetryPolicy(max_retries=0, base=1.0, cap=1.0, max_retry_after=0.0)
    assert policy.backoff(10, fixed(0.5)) == 0.5


def test_policy_is_frozen():
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        RetryPolicy().max_retries = 5  # type: ignore[misc]


# --- parse_retry_after ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("007", 7.0),
        ("  30\t", 30.0),
        ("31622400", 31622400.0),  # 366 days
        ("31622401", 31622401.0),  # over a year: kept, so the client refuses to wait it out
        ("1" + "0" * 30, 1e30),
    ],
)
def test_parse_delta_seconds(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Wed, 21 Oct 2015 07:30:00 GMT", 120.0),  # IMF-fixdate
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 09:30:00 +0200", 120.0),  # numeric zone
        ("Wed, 21 Oct 2015 07:30:00 -0000", 120.0),  # naive form, taken as UTC
        ("Wednesday, 21-Oct-15 07:30:00 GMT", 120.0),  # obsolete RFC 850
        ("Wed Oct 21 07:30:00 2015", 120.0),  # obsolete asctime
        ("Thu, 22 Oct 2015 07:28:00 GMT", 86400.0),
        ("Fri, 21 Oct 2016 07:28:00 GMT", 366 * 86400.0),  # a year on: kept, never waited
    ],
)
def test_parse_http_date(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 21 Oct 2015 07:27:59 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Mon, 01 Jan 1900 00:00:00 GMT",
    ],
)
def test_parse_past_date_is_zero(value):
    assert parse_retry_after(value, now=NOW) == 0.0


def test_parse_naive_now_is_taken_as_utc():
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now=naive) == 120.0


def test_parse_now_in_another_zone():
    now = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now=now) == 120.0


def test_parse_date_without_now_uses_the_clock():
    far_past = parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT")
    soon = (datetime.now(UTC) + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert far_past == 0.0
    got = parse_retry_after(soon)
    assert got is not None
    assert 3500.0 < got <= 3600.0


def test_parse_delta_seconds_ignores_now():
    assert parse_retry_after("5", now=None) == 5.0


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "-1",
        "-0",
        "+5",
        "1e3",
        "1e400",
        "nan",
        "NaN",
        "inf",
        "Infinity",
        "1_000",
        "0x10",
        ".5",
        "5.",
        "1.2.3",
        "12 s",
        "soon",
        "\u0661\u0662\u0660",  # Arabic-Indic 120: not ASCII digits
        "\uff11\uff12\uff10",  # fullwidth 120
        "9" * 400,  # float() would give inf
        "Fri, 31 Dec 99999 23:59:59 GMT",  # year out of range
        "Wed, 21 Oct 2015 07:30:00 +9999",  # offset out of range
        "Wed, 32 Oct 2015 07:30:00 GMT",
        "Wed, 21 Foo 2015 07:30:00 GMT",
        "Wed, 21 Oct 2015 25:30:00 GMT",
        "1 2 3 4 5",
        "0" * 65,  # longer than any sensible header
    ],
)
def test_parse_rejects_unusable_values(value):
    assert parse_retry_after(value, now=NOW) is None


def _ok(result):
    return result is None or (isinstance(result, float) and math.isfinite(result) and result >= 0)


@given(st.text())
def test_parse_arbitrary_text_never_raises(text):
    assert _ok(parse_retry_after(text, now=NOW))


@given(st.text(alphabet="0123456789.-+eE:, GMTWedOctSunNov\t"))
def test_parse_number_and_date_like_text_never_raises(text):
    assert _ok(parse_retry_after(text, now=NOW))


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_parse_rendered_floats(number):
    got = parse_retry_after(repr(number), now=NOW)
    assert _ok(got)
    if got is not None:
        assert got == number


@given(st.integers(min_value=-(10**400), max_value=10**400))
def test_parse_rendered_integers(number):
    got = parse_retry_after(str(number), now=NOW)
    assert _ok(got)
    if 0 <= number < 10**308:
        assert got == float(number)
    else:
        assert got is None


@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_parse_rendered_dates(when, now):
    header = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    got = parse_retry_after(header, now=now)
    assert _ok(got)
    ahead = (when.replace(microsecond=0) - now).total_seconds()
    if ahead >= 0 and when.year >= 1000:
        assert got == ahead


# --- RetryBudget ----------------------------------------------------------------------


def test_budget_starts_full():
    budget = RetryBudget()
    assert (budget.capacity, budget.refill, budget.available) == (10.0, 0.1, 10.0)


def test_budget_spends_one_token_per_retry_until_empty():
    budget = RetryBudget(capacity=3)
    assert [budget.try_spend() for _ in range(5)] == [True, True, True, False, False]
    assert budget.available == 0.0


def test_budget_failed_spend_takes_nothing():
    budget = RetryBudget(capacity=1, refill=0.5)
    assert budget.try_spend()
    budget.record_success()
    assert not budget.try_spend()
    assert budget.available == 0.5


def test_budget_ten_successes_at_one_tenth_buy_exactly_one_retry():
    budget = RetryBudget(capacity=10, refill=0.1)
    while budget.try_spend():
        pass
    for _ in range(9):
        budget.record_success()
    assert not budget.try_spend()
    budget.record_success()
    assert budget.available == 1.0
    assert budget.try_spend()
    assert not budget.try_spend()


def test_budget_refill_stops_at_capacity():
    budget = RetryBudget(capacity=2, refill=0.75)
    budget.try_spend()
    for _ in range(10):
        budget.record_success()
    assert budget.available == 2.0


def test_budget_steady_state_allows_about_ten_percent_retries():
    budget = RetryBudget(capacity=10, refill=0.1)
    while budget.try_spend():
        pass
    retries = 0
    for _ in range(1000):
        budget.record_success()
        retries += budget.try_spend()
    assert retries == 100


def test_budget_zero_capacity_never_retries():
    budget = RetryBudget(capacity=0)
    budget.record_success()
    assert not budget.try_spend()
    assert budget.available == 0.0


def test_budget_zero_refill_never_recovers():
    budget = RetryBudget(capacity=1, refill=0)
    assert budget.try_spend()
    for _ in range(100):
        budget.record_success()
    assert not budget.try_spend()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"capacity": -1},
        {"capacity": math.nan},
        {"capacity": math.inf},
        {"refill": -0.1},
        {"refill": math.nan},
        {"refill": math.inf},
    ],
)
def test_budget_rejects_bad_settings(kwargs):
    with pytest.raises(ConfigurationError):
        RetryBudget(**kwargs)


def test_budget_settings_cannot_change_after_creation():
    budget = RetryBudget()
    with pytest.raises(attrs.exceptions.FrozenAttributeError):
        budget.capacity = 100.0


def test_budgets_compare_by_identity():
    assert RetryBudget() != RetryBudget()
