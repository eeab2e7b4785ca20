"""Soak: stream a million records through the fake server while faults and churn rain down.

    python benchmarks/soak.py [--records N] [--page-size 1000] [--seed S] [--max-gap 3]
    python -W error benchmarks/soak.py --records 20000      # the CI smoke check
    python benchmarks/soak.py --rent N|LO-HI --add N|LO-HI [--churn-at front|random|anywhere]
        [--churn-times T]                                   # churn mode
    python benchmarks/soak.py --churn K ...                 # the same as --rent K --add K

One ``Client`` walks an unfiltered ``carrierx_async.testing.FakeCarrierX`` (generated
lazily) to the end, with ``--pagination offset|keyset``. Fault mode (the default): every
1..``--max-gap`` pages the consumer queues one fault, dealt from a seeded shuffled deck:
``Status(503)`` and ``Status(429)`` with ``Retry-After: 0``, ``Status(500)``,
``HtmlPage(502)``, ``Truncated()``, ``Reset()``, ``Disconnect()``, a ``Delay`` longer than
the client's ``read_timeout``, and ``Churn(remove=k)`` (k <= the client's re-read overlap,
what it bridges between two requests), never two pending at once. Backoff is real: the
soak uses the public API only. Churn mode: instead of faults the fake rents and adds
numbers after every request (``Churn(remove=, add=, at=, seed=)``; ``LO-HI`` draws each
request's counts, seeded); with rentals the inventory starts with ``--records`` extra
numbers and churn stops once about that many were rented.

The ground truth is the fake's inventory, read before and after the walk: lost = numbers
present throughout (in both, by ``did_sid``) never received; duplicated = received more
than once. Exit status 1 if anything was lost or duplicated or the stream failed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from carrierx_async import CarrierXError, Client, RetryBudget, StreamStats
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

# (weight, kind); the first deck holds each kind once, later decks the weights.
MIX = (
    (3, "503"),
    (3, "429"),
    (2, "500"),
    (2, "html502"),
    (2, "truncated"),
    (2, "reset"),
    (1, "disconnect"),
    (1, "delay"),
    (2, "churn"),
)


class Injector:
    """Queues one seeded-random fault every 1..max_gap pages, never two pending at once."""

    def __init__(self, fake: FakeCarrierX, args: argparse.Namespace, churn_budget: int) -> None:
        self.fake = fake
        self.page_size: int = args.page_size
        self.max_gap: int = args.max_gap
        self.rng = random.Random(args.seed)
        self.delay = Delay(args.read_timeout * 3)
        # The offset walk re-reads min(10, page_size // 4) records a page: the removals
        # between two requests it can bridge.
        self.churn_max = min(10, args.page_size // 4)
        self.churn_budget = churn_budget
        self.queued = 0
        self.deck = [kind for _, kind in MIX]
        self.rng.shuffle(self.deck)
        self.next_at = self._gap(0)

    def _gap(self, received: int) -> int:
        return received + self.rng.randint(1, self.max_gap) * self.page_size

    def pending(self) -> int:
        return self.queued - sum(r.fault is not None for r in self.fake.requests)

    def tick(self, received: int) -> None:
        """Called by the consumer once ``received >= next_at``."""
        if self.pending():
            self.next_at = received + self.page_size  # try again a page later
            return
        self.next_at = self._gap(received)
        if not self.deck:
            self.deck = [kind for weight, kind in MIX for _ in range(weight)]
            self.rng.shuffle(self.deck)
        fault: Fault
        match self.deck.pop():
            case "503":
                fault = Status(503, retry_after="0")
            case "429":
                fault = Status(429, retry_after="0")
            case "500":
                fault = Status(500)
            case "html502":
                fault = HtmlPage(status=502)
            case "truncated":
                fault = Truncated()
            case "reset":
                fault = Reset()
            case "disconnect":
                fault = Disconnect()
            case "delay":
                fault = self.delay
            case _:
                k = self.rng.randint(1, self.churn_max) if self.churn_max else 0
                if not k or k > self.churn_budget:
                    return
                self.churn_budget -= k
                fault = Churn(remove=k)
        self.fake.add_fault(fault)
        self.queued += 1


def describe(fault: Fault) -> str:
    match fault:
        case Status(status=status):
            return f"Status({status})"
        case HtmlPage(status=status):
            return f"HtmlPage({status})"
    return type(fault).__name__


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
    p.add_argument("--records", type=int, help="default 1,000,000; in churn mode 100,000")
    p.add_argument("--churn", type=count_range, metavar="K", help="--rent K --add K")
    p.add_argument("--rent", type=count_range, metavar="N|LO-HI", help="rented per request")
    p.add_argument("--add", type=count_range, metavar="N|LO-HI", help="added per request")
    p.add_argument("--churn-at", choices=("front", "random", "anywhere"), default="anywhere")
    p.add_argument("--churn-times", type=int, default=0, metavar="T", help="first T requests")
    p.add_argument("--pagination", choices=("offset", "keyset"), default="offset")
    p.add_argument("--page-size", type=int, default=1000, choices=range(1, 1001), metavar="1..1000")
    p.add_argument("--seed", type=int, default=20240611)
    p.add_argument("--max-gap", type=int, default=3, help="pages between faults: 1..this")
    p.add_argument("--read-timeout", type=float, default=0.25, help="the client's, seconds")
    args = p.parse_args(argv)
    none = (0, 0)
    args.rent = args.rent or args.churn or none
    args.add = args.add or args.churn or none
    args.churning = args.rent != none or args.add != none
    if args.churn_times < 0 or args.max_gap < 1:
        p.error("--churn-times must be >= 0 and --max-gap >= 1")
    if args.records is None:
        args.records = 100_000 if args.churning else 1_000_000
    if args.records < 1:
        p.error("--records must be >= 1")
    return args


def churn_plan(args: argparse.Namespace) -> tuple[int, list[tuple[Churn, int]]]:
    """The inventory size and the churn to queue, as ``(fault, times)``."""
    (rent_lo, rent_hi), (add_lo, add_hi) = args.rent, args.add
    if args.churn_times:
        times, size = args.churn_times, args.records + args.churn_times * rent_hi
    elif rent_hi:  # about --records rented in all, --records present throughout
        times, size = math.ceil(args.records / ((rent_lo + rent_hi) / 2)), 2 * args.records
    else:  # additions alone: after every request of the walk
        advance = max(1, args.page_size - min(10, args.page_size // 4) - add_hi)
        times, size = 4 * (args.records // advance + 1) + 100, args.records
    if rent_lo == rent_hi and add_lo == add_hi:
        return size, [(Churn(remove=rent_lo, add=add_lo, at=args.churn_at, seed=args.seed), times)]
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


@dataclass
class Walk:
    first: set[str] = field(default_factory=set)  # did_sids before the walk
    seen: set[str] = field(default_factory=set)
    received: int = 0
    duplicated: int = 0
    lost: int = 0
    throughout: int = 0
    rented: int = 0
    added: int = 0
    requests: int = 0
    served: Counter[str] = field(default_factory=Counter)
    error: CarrierXError | None = None
    stats: StreamStats | None = None
    elapsed: float = 0.0


async def walk(args: argparse.Namespace) -> Walk:
    """One stream to the end of a fresh fake, counted against its inventory."""
    w = Walk()
    margin = max(50, args.records // 100)  # what fault-mode churn may rent
    size, plan = churn_plan(args) if args.churning else (args.records + margin, [])
    async with FakeCarrierX(size=size, seed=args.seed) as fake:
        w.first = {r["did_sid"] for r in fake.inventory}
        for churn, times in plan:
            fake.add_fault(churn, times=times)
        injector = None if args.churning else Injector(fake, args, churn_budget=margin)
        budget = RetryBudget(capacity=max(100, size // args.page_size + 1))
        client = Client(
            fake.token,
            base_url=fake.base_url,
            read_timeout=args.read_timeout,
            max_retries=8,
            retry_budget=budget,
        )
        async with client:
            dids = client.available_dids(page_size=args.page_size, pagination=args.pagination)
            next_at = injector.next_at if injector else math.inf
            seen, started = w.seen, time.perf_counter()
            try:
                async with dids:
                    async for did in dids:
                        sid = did.did_sid or ""
                        if sid in seen:
                            w.duplicated += 1
                        seen.add(sid)
                        w.received += 1
                        if injector is not None and w.received >= next_at:
                            injector.tick(w.received)
                            next_at = injector.next_at
            except CarrierXError as exc:
                w.error = exc
            w.elapsed = time.perf_counter() - started
            w.stats = dids.stats
        last = {r["did_sid"] for r in fake.inventory}
        w.requests = len(fake.requests)
        w.served = Counter(describe(r.fault) for r in fake.requests if r.fault is not None)
    w.rented, w.added = len(w.first - last), len(last - w.first)
    throughout = w.first & last
    w.throughout, w.lost = len(throughout), len(throughout - seen)
    return w


def report(args: argparse.Namespace, w: Walk) -> int:
    stats = w.stats
    assert stats is not None
    failed = bool(w.lost or w.duplicated or w.error)
    mode = (
        f"--rent {args.rent[0]}-{args.rent[1]} --add {args.add[0]}-{args.add[1]} "
        f"--churn-at {args.churn_at} --churn-times {args.churn_times}"
        if args.churning
        else f"--max-gap {args.max_gap} --read-timeout {args.read_timeout:g}"
    )
    rate = w.received / w.elapsed if w.elapsed else 0.0
    out = [
        f"soak: --records {args.records:,} --page-size {args.page_size} --pagination "
        f"{args.pagination} --seed {args.seed} {mode}",
        f"inventory:   {len(w.first):,} at the start; {w.rented:,} rented, {w.added:,} "
        f"added during the walk",
        f"received:    {w.received:,} records in {w.elapsed:.1f}s = {rate:,.0f} records/s",
    ]
    if w.error is not None:
        out.append(f"STREAM FAILED: {type(w.error).__name__}: {w.error}")
    faults = ", ".join(f"{k} {v}" for k, v in sorted(w.served.items())) or "none"
    out += [
        f"lost:        {w.lost:,} of the {w.throughout:,} present throughout",
        f"duplicated:  {w.duplicated:,}",
        f"faults:      {sum(w.served.values()):,} served in {w.requests:,} requests: {faults}",
        f"stats:       requests {stats.requests:,}, retries {stats.retries:,}, "
        f"duplicates dropped {stats.duplicates_dropped:,}, windows healed "
        f"{stats.windows_healed:,}, possible gaps {stats.possible_gaps:,}",
        f"max RSS:     {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB "
        "(client, in-process fake and the harness's sets)",
        "RESULT:      " + ("FAIL" if failed else "PASS"),
    ]
    print("\n".join(out), flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return report(args, asyncio.run(walk(args)))


if __name__ == "__main__":
    sys.exit(main())
