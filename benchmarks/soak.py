"""Soak test: stream a million records through the fake server while faults rain down.

    python benchmarks/soak.py [--records N] [--page-size 1000] [--seed S]
    python -W error benchmarks/soak.py --records 20000      # the CI smoke check
    python benchmarks/soak.py --rent N|LO-HI --add N|LO-HI [--churn-at front|random|anywhere]
        [--churn-times T] [--pagination offset|keyset]    # churn mode
    python benchmarks/soak.py --churn K ...               # the same as --rent K --add K

Churn mode (``--rent`` or ``--add`` above 0): instead of faults, the fake rents N numbers
and adds N new ones after every request (``Churn(remove=, add=, at=--churn-at, seed=)``;
``LO-HI`` draws each request's count, seeded; ``--churn-times T``: after the first T
requests only), while one stream walks with ``--pagination``. ``--churn-at front`` rents
the first numbers of the list and adds in front of the first one left, ``random`` picks
positions behind the cursor, ``anywhere`` (the default) in the whole inventory. With
rentals, the inventory starts with ``--records`` (default 100,000 in this mode) extra
numbers and churn stops once about that many were rented (with ``--churn-times``: as many
extra as T requests can rent), so about ``--records`` are present throughout. Reported:
lost (numbers present throughout, i.e. in both the first and the last inventory, by
``did_sid``, never received), duplicated (received more than once), how many were rented
and added, the stream's ``stats`` (``windows_healed``, ``possible_gaps``,
``duplicates_dropped``) and a ``PaginationError`` that ended the walk; exit status 1 if
anything was lost or duplicated or the stream failed.

One ``Client`` walks an unfiltered ``FakeCarrierX(size=N + margin)`` (pages generated
lazily) to the end. Every 1..``--max-gap`` (3) pages of records the consumer loop injects one
fault, chosen by a seeded RNG: ``Status(503)``, ``Status(429, retry_after="0")``,
``Status(500)``, ``Truncated()``, ``Reset()``, ``HtmlPage(502)``, ``Disconnect()``, a
``Delay`` longer than the client's
``read_timeout``, and ``Churn(remove=k)``, k <= min(10, page_size // 4), which rents the
first k numbers away after the page is served (the client re-reads that many records at
each page boundary, so it bridges that many removals between two requests). At
most one fault is pending at a time, so one page never meets a pile of them. Backoff goes
through the client's private ``_transport._sleep`` hook and costs no real time
(``--backoff-scale``).

Checked afterwards (exit status 1 if any is wrong): the exact count, duplicates by
``did_sid`` (a harness-side set: its size is reported and excluded), records missing from
the expected set (the final inventory, i.e. the original minus what churn removed; a
removed record counts only if it was still there when its page was read), and records
that were never in the inventory. Reported: retries (INFO records of the
``carrierx_async`` logger saying "retrying"), requests the fake received, faults served,
elapsed time and records/s, the ``tracemalloc`` peak of a shorter separate traced segment
(``--trace-records``, 0 to skip: tracing is slow), and the process max RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import random
import re
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from carrierx_async import CarrierXError, Client, RetryBudget
from carrierx_async.testing import (
    Churn,
    Delay,
    Disconnect,
    FakeCarrierX,
    Fault,
    HtmlPage,
    Reset,
    Status,
    Truncated,
)

MB = 1024 * 1024
_REASON = re.compile(r": (.*); retrying in")


# -- fault injection ------------------------------------------------------------------------


class FaultInjector:
    """Adds one seeded-random fault every 1..max_gap pages, never two pending at once."""

    #: (weight, kind), dealt from shuffled decks; the first deck holds each kind once.
    MIX = (
        (3, "503"),
        (3, "429"),
        (2, "500"),
        (2, "truncated"),
        (2, "reset"),
        (2, "html502"),
        (1, "disconnect"),
        (1, "delay"),
        (2, "churn"),
    )

    def __init__(
        self,
        fake: FakeCarrierX,
        rng: random.Random,
        *,
        page_size: int,
        max_gap: int,
        read_timeout: float,
        churn_budget: int,
    ) -> None:
        self.fake = fake
        self.rng = rng
        self.page_size = page_size
        self.max_gap = max_gap
        self.delay = Delay(read_timeout * 3)
        # The client re-reads min(10, page_size // 4) records per boundary (README, "Live
        # inventory"): that is how many removals between two requests it can bridge.
        self.churn_max = min(10, page_size // 4)
        self.churn_budget = churn_budget  # records churn may still remove
        self.churned = 0
        self.added: Counter[str] = Counter()
        self._deck = [name for _, name in self.MIX]  # first deck: every kind once
        rng.shuffle(self._deck)
        self._uses_added = 0  # fault applications queued (Disconnect counts 2)
        self._uses_served = 0  # requests that carried a fault
        self._scanned = 0  # fake.requests already looked at
        self.next_at = self._gap(0)

    def _gap(self, received: int) -> int:
        if self.max_gap <= 0:
            return 1 << 62  # no faults
        return received + self.rng.randint(1, self.max_gap) * self.page_size

    def pending(self) -> int:
        requests = self.fake.requests
        for request in requests[self._scanned :]:
            if request.fault is not None:
                self._uses_served += 1
        self._scanned = len(requests)
        return self._uses_added - self._uses_served

    def _draw(self) -> str:
        """The next kind from a shuffled deck: exact proportions, every kind early."""
        if not self._deck:
            self._deck = [name for weight, name in self.MIX for _ in range(weight)]
            self.rng.shuffle(self._deck)
        return self._deck.pop()

    def tick(self, received: int) -> None:
        """Called by the consumer when ``received >= next_at``."""
        if self.pending() > 0:
            self.next_at = received + self.page_size  # try again a page later
            return
        self.next_at = self._gap(received)
        name = self._draw()
        times = 1
        fault: Fault
        match name:
            case "503":
                fault = Status(503)
            case "429":
                fault = Status(429, retry_after="0")
            case "500":
                fault = Status(500)
            case "truncated":
                fault = Truncated()
            case "reset":
                fault = Reset()
            case "html502":
                fault = HtmlPage(status=502)
            case "disconnect":
                fault = Disconnect()
            case "delay":
                fault = self.delay
            case _:
                k = self.rng.randint(1, self.churn_max) if self.churn_max else 0
                if k == 0 or self.churned + k > self.churn_budget:
                    return
                self.churned += k
                fault = Churn(remove=k)
        self.fake.add_fault(fault, times=times)
        self.added[name] += 1
        self._uses_added += times


def describe(fault: Fault) -> str:
    match fault:
        case Status(status=status):
            return f"Status({status})"
        case HtmlPage(status=status):
            return f"HtmlPage({status})"
        case Delay(seconds=seconds):
            return f"Delay({seconds:g}s)"
        case Churn():
            return "Churn"
    return f"{type(fault).__name__}()"


# -- observation ----------------------------------------------------------------------------


class RetryCounter(logging.Handler):
    """Counts the client's "retrying" log records, by reason."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0
        self.reasons: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "retrying" in message:
            self.count += 1
            match = _REASON.search(message)
            self.reasons[match.group(1) if match else "?"] += 1


class FastSleep:
    """The client's ``_transport._sleep``: yields to the loop, sleeps ``scale`` x the backoff."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.asked = 0.0

    async def __call__(self, delay: float) -> None:
        self.asked += delay
        await asyncio.sleep(delay * self.scale)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_now_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / MB
    except OSError:
        return None


def set_size_mb(items: set[str]) -> float:
    """The harness set's own footprint: its table plus the strings it keeps alive."""
    return (sys.getsizeof(items) + sum(map(sys.getsizeof, items))) / MB


# -- one streaming run ----------------------------------------------------------------------


@dataclass
class Run:
    received: int = 0
    seen: set[str] | None = None
    no_sid: int = 0
    elapsed: float = 0.0
    error: BaseException | None = None
    retries: RetryCounter = field(default_factory=RetryCounter)
    sleep: FastSleep = field(default_factory=lambda: FastSleep(0.0))
    injector: FaultInjector | None = None
    budget: RetryBudget | None = None
    requests: int = 0
    served: Counter[str] = field(default_factory=Counter)
    unconsumed: int = 0
    verdict: Verdict | None = None


async def stream(
    args: argparse.Namespace,
    *,
    size: int,
    seed: int,
    max_items: int | None,
    track: bool,
    on_fake: Callable[[], None] | None = None,
) -> Run:
    """Stream through a fresh fake + client; ``track`` keeps the did_sid set."""
    run = Run(seen=set() if track else None, sleep=FastSleep(args.backoff_scale))
    logger = logging.getLogger("carrierx_async")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(run.retries)
    pages = size // args.page_size + 1
    run.budget = RetryBudget(capacity=max(100, pages))
    try:
        async with FakeCarrierX(size=size, seed=seed) as fake:
            run.injector = injector = FaultInjector(
                fake,
                random.Random(seed),
                page_size=args.page_size,
                max_gap=args.max_gap,
                read_timeout=args.read_timeout,
                churn_budget=size - (max_items or args.records),
            )
            client = Client(
                fake.token,
                base_url=fake.base_url,
                read_timeout=args.read_timeout,
                max_retries=args.max_retries,
                retry_budget=run.budget,
            )
            client._transport._sleep = run.sleep  # a private hook: backoff costs no real time
            async with client:
                if on_fake is not None:
                    on_fake()
                started = time.perf_counter()
                try:
                    await _consume(client, args, run, injector, max_items)
                except Exception as exc:  # reported; the checks below then fail
                    run.error = exc
                run.elapsed = time.perf_counter() - started
            run.requests = len(fake.requests)
            run.served = Counter(describe(r.fault) for r in fake.requests if r.fault is not None)
            run.unconsumed = injector.pending()
            if track:
                run.verdict = verify(fake, run, size, seed)
    finally:
        logger.removeHandler(run.retries)
        logger.setLevel(level)
    return run


async def _consume(
    client: Client,
    args: argparse.Namespace,
    run: Run,
    injector: FaultInjector,
    max_items: int | None,
) -> None:
    received = 0
    next_at = injector.next_at
    seen = run.seen
    add = seen.add if seen is not None else None
    try:
        async with client.available_dids(page_size=args.page_size, max_items=max_items) as dids:
            async for did in dids:
                received += 1
                if add is not None:
                    sid = did.did_sid
                    if sid is None:
                        run.no_sid += 1
                    else:
                        add(sid)
                if received >= next_at:
                    injector.tick(received)
                    next_at = injector.next_at
    finally:
        run.received = received


# -- verification ---------------------------------------------------------------------------


@dataclass
class Verdict:
    expected: int  # records the stream should have yielded
    kept: int  # final inventory size
    missing: int  # final-inventory records never received
    removed: int  # removed by churn
    removed_received: int  # ... after their page was read
    unexpected: int  # received sids never in the inventory
    leftover: int  # final-inventory records not in the original order (must be 0)
    seconds: float


def _sids(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    return (r["did_sid"] for r in records)


def verify(fake: FakeCarrierX, run: Run, size: int, seed: int) -> Verdict:
    """Walk the original inventory (an unstarted twin) and the final one in lockstep."""
    started = time.perf_counter()
    seen = run.seen
    assert seen is not None
    original = _sids(iter(FakeCarrierX(size=size, seed=seed).inventory))
    final = _sids(iter(fake.inventory))
    kept = missing = removed = removed_received = 0
    current = next(final, None)
    for sid in original:
        if sid == current:
            kept += 1
            if sid not in seen:
                missing += 1
            current = next(final, None)
        else:
            removed += 1
            if sid in seen:
                removed_received += 1
    leftover = (current is not None) + sum(1 for _ in final)
    return Verdict(
        expected=kept + removed_received,
        kept=kept,
        missing=missing,
        removed=removed,
        removed_received=removed_received,
        unexpected=len(seen) - (kept - missing) - removed_received,
        leftover=leftover,
        seconds=time.perf_counter() - started,
    )


# -- main -----------------------------------------------------------------------------------


def positive(text: str) -> int:
    value = int(text.replace("_", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def count_range(text: str) -> tuple[int, int]:
    """``N`` or ``LO-HI`` (numbers >= 0, LO <= HI)."""
    lo, _, hi = text.replace("_", "").partition("-")
    try:
        bounds = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or LO-HI, got {text!r}") from None
    if bounds[0] < 0 or bounds[0] > bounds[1]:
        raise argparse.ArgumentTypeError(f"expected 0 <= LO <= HI, got {text!r}")
    return bounds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--records", type=positive, help="at least this many (default 1,000,000; churn 100,000)"
    )
    p.add_argument(
        "--churn",
        type=count_range,
        metavar="K",
        help="churn mode, balanced: the same as --rent K --add K",
    )
    p.add_argument(
        "--rent",
        type=count_range,
        metavar="N|LO-HI",
        help="churn mode: rent N numbers after each request (LO-HI: seeded random per request)",
    )
    p.add_argument(
        "--add",
        type=count_range,
        metavar="N|LO-HI",
        help="churn mode: add N new numbers after each request (LO-HI as for --rent)",
    )
    p.add_argument(
        "--churn-at",
        choices=("front", "random", "anywhere"),
        default="anywhere",
        help="where churn rents and adds (the fake's Churn(at=...)); default anywhere",
    )
    p.add_argument(
        "--churn-times",
        type=int,
        default=0,
        metavar="T",
        help="churn after the first T requests only (default 0: after every request)",
    )
    p.add_argument("--pagination", choices=("offset", "keyset"), default="offset")
    p.add_argument("--page-size", type=int, default=1000, choices=range(1, 1001), metavar="1..1000")
    p.add_argument("--seed", type=int, default=20240611)
    p.add_argument("--max-gap", type=int, default=3, help="pages between faults: 1..this (0: none)")
    p.add_argument("--read-timeout", type=float, default=0.25, help="client read_timeout, s")
    p.add_argument("--max-retries", type=int, default=8)
    p.add_argument("--backoff-scale", type=float, default=0.0, help="real sleep = backoff x this")
    p.add_argument(
        "--trace-records",
        type=int,
        default=50_000,
        help="records in the separate tracemalloc segment (capped at --records; 0: skip)",
    )
    args = p.parse_args(argv)
    none = (0, 0)
    args.rent = args.rent or args.churn or none
    args.add = args.add or args.churn or none
    args.churning = args.rent != none or args.add != none
    if args.churn_times < 0:
        p.error("--churn-times must be >= 0")
    if args.records is None:
        args.records = 100_000 if args.churning else 1_000_000
    return args


def margin_for(records: int) -> int:
    """Extra inventory, so at least ``records`` remain after churn."""
    return max(1000, records // 100)


async def traced_segment(args: argparse.Namespace) -> tuple[list[str], bool]:
    n = min(args.trace_records, args.records)
    box: dict[str, float] = {}

    def start_tracing() -> None:  # after the fake and client are up: the stream only
        tracemalloc.start()
        box["base"] = tracemalloc.get_traced_memory()[0]

    try:
        run = await stream(
            args,
            size=n + margin_for(n),
            seed=args.seed + 1,
            max_items=n,
            track=False,
            on_fake=start_tracing,
        )
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    base = box.get("base", 0.0)
    ok = run.error is None and run.received == n
    lines = [
        f"traced segment:    {run.received:,} of {n:,} records in {run.elapsed:.1f}s under "
        f"tracemalloc, {run.retries.count} retries, {run.requests:,} requests"
        + ("" if ok else f"  <-- WRONG ({run.error!r})"),
        f"  tracemalloc peak: {(peak - base) / MB:.1f} MB above the pre-stream baseline "
        f"(client + in-process fake server, both sides' page buffers; the harness keeps "
        f"only a counter here)",
        f"  retained after the stream closed: {(current - base) / MB:+.2f} MB",
    ]
    return lines, ok


async def main_async(args: argparse.Namespace) -> int:
    traced, traced_ok = ["traced segment:    skipped (--trace-records 0)"], True
    if args.trace_records > 0:
        traced, traced_ok = await traced_segment(args)
    failed = not traced_ok
    rss_before = rss_now_mb()
    size = args.records + margin_for(args.records)
    run = await stream(args, size=size, seed=args.seed, max_items=None, track=True)
    seen = run.seen
    assert seen is not None and run.injector is not None and run.budget is not None
    dups = run.received - len(seen) - run.no_sid
    set_mb = set_size_mb(seen)
    rate = run.received / run.elapsed if run.elapsed else 0.0
    out = [
        f"soak: --records {args.records:,} --page-size {args.page_size} --seed {args.seed} "
        f"--max-gap {args.max_gap} --read-timeout {args.read_timeout:g} "
        f"--max-retries {args.max_retries}",
        f"inventory:         {size:,} records (N + {size - args.records:,} margin), "
        f"unfiltered, generated lazily",
        f"received:          {run.received:,} records in {run.elapsed:.1f}s"
        f" = {rate:,.0f} records/s",
    ]
    if run.error is not None:
        out.append(f"STREAM FAILED:     {type(run.error).__name__}: {run.error}")
        failed = True
    verdict = run.verdict
    if verdict is not None:
        checks = [
            ("count", run.received == verdict.expected and run.received >= args.records),
            ("duplicates", dups == 0 and run.no_sid == 0),
            ("missing", verdict.missing == 0),
            ("unexpected", verdict.unexpected == 0 and verdict.leftover == 0),
        ]
        bad = {name for name, good in checks if not good}
        failed |= bool(bad)

        def mark(name: str) -> str:
            return "  <-- WRONG" if name in bad else "  ok"

        out += [
            f"  expected count:  {verdict.expected:,} = {verdict.kept:,} in the final inventory"
            f" + {verdict.removed_received:,} churned away after being read"
            f" (>= {args.records:,}){mark('count')}",
            f"  duplicates:      {dups:,} by did_sid"
            + (f", {run.no_sid} records without a did_sid" if run.no_sid else "")
            + mark("duplicates"),
            f"  missing:         {verdict.missing:,} of the final inventory never received"
            + mark("missing"),
            f"  unexpected:      {verdict.unexpected:,} sids never in the inventory"
            + (f", {verdict.leftover} inventory oddities" if verdict.leftover else "")
            + mark("unexpected"),
            f"  churn:           {verdict.removed:,} records removed "
            f"({verdict.removed - verdict.removed_received:,} before their page was read); "
            f"verified in {verdict.seconds:.1f}s by walking the original and final inventory",
        ]
    served = sum(run.served.values())
    retryable = served - run.served["Churn"]
    out += [
        f"requests:          {run.requests:,} received by the fake; {served:,} carried a fault"
        f" ({retryable:,} retryable + {run.served['Churn']:,} churn)"
        + (f", {run.unconsumed} still queued at the end" if run.unconsumed else ""),
        "  faults served:   "
        + (", ".join(f"{k} {v}" for k, v in sorted(run.served.items())) or "none"),
        f"retries:          {run.retries.count:,} ('retrying' log records); backoff asked "
        f"{run.sleep.asked:.1f}s, slept x{args.backoff_scale:g}; "
        f"budget left {run.budget.available:.1f} of {run.budget.capacity:g}",
        "  by reason:       "
        + (", ".join(f"{k} {v}" for k, v in run.retries.reasons.most_common()) or "none"),
    ]
    # Every request on the wire is a counted attempt (aiohttp's own resend is refused), so
    # each retryable fault costs one retry; a spurious read timeout would add one.
    expected_retries = retryable
    out.append(
        f"  accounting:      {retryable:,} retryable faults served "
        + (
            "= retries"
            if run.retries.count == expected_retries
            else f"!= retries ({run.retries.count - expected_retries:+,}: spurious timeouts?)"
        )
        + f"; {run.requests - retryable:,} requests answered normally"
    )
    rss_max = max_rss_mb()
    out += traced
    out += [
        f"max RSS:           {rss_max:.0f} MB for the whole process: client + in-process fake "
        f"server + interpreter + harness set"
        + (f" (RSS {rss_before:.0f} MB before the main run)" if rss_before is not None else ""),
        f"  harness set of {len(seen):,} sids ≈ {set_mb:.0f} MB excluded: "
        f"≈ {rss_max - set_mb:.0f} MB without it",
        "RESULT:            " + ("FAIL" if failed else "PASS"),
    ]
    print("\n".join(out), flush=True)
    return 1 if failed else 0


def churn_plan(args: argparse.Namespace) -> tuple[int, list[tuple[Churn, int]]]:
    """The inventory size and the churn to queue, as ``(fault, times)``.

    Rentals are capped so that about ``--records`` numbers are present throughout: the
    inventory starts with ``--records`` more, and churn stops once about that many were
    rented (or after ``--churn-times`` requests, and the inventory starts with what they
    can rent more). Additions alone churn after every request.
    """
    (rent_lo, rent_hi), (add_lo, add_hi) = args.rent, args.add
    rent_mean = (rent_lo + rent_hi) / 2
    if args.churn_times:
        times = args.churn_times
        size = args.records + times * rent_hi
    elif rent_hi:
        times = math.ceil(args.records / rent_mean)
        size = 2 * args.records
    else:
        times, size = 1 << 40, args.records
    if rent_lo == rent_hi and add_lo == add_hi:
        return size, [(Churn(remove=rent_lo, add=add_lo, at=args.churn_at, seed=args.seed), times)]
    if times == 1 << 40:  # one fault a request: enough for any walk, heals cost a request or two
        advance = max(1, args.page_size - min(10, args.page_size // 4) - add_hi)
        times = 4 * (size // advance + 1) + 100
    rng = random.Random(args.seed)
    return size, [
        (
            Churn(
                remove=rng.randint(rent_lo, rent_hi),
                add=rng.randint(add_lo, add_hi),
                at=args.churn_at,
                seed=args.seed,
            ),
            1,
        )
        for _ in range(times)
    ]


def count_text(bounds: tuple[int, int]) -> str:
    lo, hi = bounds
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


async def churn_async(args: argparse.Namespace) -> int:
    """Churn mode: one stream against an inventory that changes after requests."""
    size, faults = churn_plan(args)
    error: BaseException | None = None
    async with FakeCarrierX(size=size, seed=args.seed) as fake:
        first = {r["did_sid"] for r in fake.inventory}
        for churn, times in faults:
            fake.add_fault(churn, times=times)
        async with Client(fake.token, base_url=fake.base_url) as client:
            dids = client.available_dids(page_size=args.page_size, pagination=args.pagination)
            received: Counter[str] = Counter()
            started = time.perf_counter()
            try:
                async with dids:
                    async for did in dids:
                        received[did.did_sid or ""] += 1
            except CarrierXError as exc:
                error = exc
            elapsed = time.perf_counter() - started
        last = {r["did_sid"] for r in fake.inventory}
        requests = len(fake.requests)
        churned = sum(isinstance(r.fault, Churn) for r in fake.requests)
    throughout = first & last
    lost = len(throughout - received.keys())
    duplicated = sum(n - 1 for n in received.values())
    stats = dids.stats
    failed = bool(lost or duplicated or error)
    times = f" --churn-times {args.churn_times}" if args.churn_times else ""
    out = [
        f"soak churn: --records {args.records:,} --page-size {args.page_size} "
        f"--rent {count_text(args.rent)} --add {count_text(args.add)} "
        f"--churn-at {args.churn_at}{times} --pagination {args.pagination} --seed {args.seed}",
        f"inventory:   {len(first):,} at the start, {len(last):,} at the end; "
        f"{len(first - last):,} rented, {len(last - first):,} added during the walk "
        f"(churn after {churned:,} of {requests:,} requests)",
        f"received:    {sum(received.values()):,} records in {elapsed:.1f}s",
    ]
    if error is not None:
        out.append(f"STREAM FAILED: {type(error).__name__}: {error}")
    out += [
        f"lost:        {lost:,} of the {len(throughout):,} present throughout",
        f"duplicated:  {duplicated:,}",
        f"stats:       requests {stats.requests:,}, retries {stats.retries:,}, "
        f"duplicates dropped {stats.duplicates_dropped:,}, windows healed "
        f"{stats.windows_healed:,}, possible gaps {stats.possible_gaps:,}",
        "RESULT:      " + ("FAIL" if failed else "PASS"),
    ]
    print("\n".join(out), flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.churning:
        return asyncio.run(churn_async(args))
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
