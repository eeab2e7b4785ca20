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


class Injector:
    """Queues one seeded-random fault every 1..max_gap pages, never two pending at once."""

    def __init__(self, fake: FakeCarrierX, args: argparse.Namespace, churn_budget: int) -> None:
        self.fake = fake
        self.page_size: int = args.page_size
        self.max_gap: int = args.max_gap
        self.rng = random.Random(args.seed)
        # (weight, fault); None is churn. The first deck holds each once, later ones weights.
        self.mix: list[tuple[int, Fault | None]] = [
            (3, Status(503, retry_after="0")),
            (3, Status(429, retry_after="0")),
            (2, Status(500)),
            (2, HtmlPage(status=502)),
            (2, Truncated()),
            (2, Reset()),
            (1, Disconnect()),
            (1, Delay(args.read_timeout * 3)),
            (2, None),
        ]
        self.deck = [fault for _, fault in self.mix]
        self.rng.shuffle(self.deck)
        # The offset walk re-reads min(10, page_size // 4) records a page: the removals
        # between two requests it can bridge.
        self.churn_max = min(10, self.page_size // 4)
        self.churn_budget = churn_budget
        self.queued = 0
        self.next_at = self._gap(0)

    def _gap(self, received: int) -> int:
        return received + self.rng.randint(1, self.max_gap) * self.page_size

    def tick(self, received: int) -> None:
        """Called by the consumer once ``received >= next_at``."""
        if self.queued > sum(r.fault is not None for r in self.fake.requests):  # pending
            self.next_at = received + self.page_size  # try again a page later
            return
        self.next_at = self._gap(received)
        if not self.deck:
            self.deck = [fault for weight, fault in self.mix for _ in range(weight)]
            self.rng.shuffle(self.deck)
        fault = self.deck.pop()
        if fault is None:
            k = self.rng.randint(1, self.churn_max) if self.churn_max else 0
            if not k or k > self.churn_budget:
                return
            self.churn_budget -= k
            fault = Churn(remove=k)
        self.fake.add_fault(fault)
        self.queued += 1


def describe(fault: Fault) -> str:
    status = getattr(fault, "status", None)
    return type(fault).__name__ + ("" if status is None else f"({status})")


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
    draws = [(rng.randint(rent_lo, rent_hi), rng.randint(add_lo, add_hi)) for _ in range(times)]
    return size, [(Churn(remove=r, add=a, at=args.churn_at, seed=args.seed), 1) for r, a in draws]


async def soak(args: argparse.Namespace) -> int:
    """One stream to the end of a fresh fake, counted against its inventory; prints a report."""
    margin = max(50, args.records // 100)  # what fault-mode churn may rent
    size, plan = churn_plan(args) if args.churning else (args.records + margin, [])
    seen: set[str] = set()
    received = duplicated = 0
    error: CarrierXError | None = None
    async with FakeCarrierX(size=size, seed=args.seed) as fake:
        first = {r["did_sid"] for r in fake.inventory}
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
            started = time.perf_counter()
            try:
                async with dids:
                    async for did in dids:
                        sid = did.did_sid or ""
                        duplicated += sid in seen
                        seen.add(sid)
                        received += 1
                        if injector is not None and received >= next_at:
                            injector.tick(received)
                            next_at = injector.next_at
            except CarrierXError as exc:
                error = exc
            elapsed = time.perf_counter() - started
        kept = lost = now = 0  # of the final inventory: also in the first; never received
        for record in fake.inventory:
            now += 1
            if record["did_sid"] in first:
                kept += 1
                lost += record["did_sid"] not in seen
        requests = len(fake.requests)
        served = Counter(describe(r.fault) for r in fake.requests if r.fault is not None)
    failed = bool(lost or duplicated or error)
    stats = dids.stats
    mode = (
        f"--rent {args.rent[0]}-{args.rent[1]} --add {args.add[0]}-{args.add[1]} "
        f"--churn-at {args.churn_at} --churn-times {args.churn_times}"
        if args.churning
        else f"--max-gap {args.max_gap} --read-timeout {args.read_timeout:g}"
    )
    faults = ", ".join(f"{k} {v}" for k, v in sorted(served.items())) or "none"
    out = [
        f"soak: --records {args.records:,} --page-size {args.page_size} --pagination "
        f"{args.pagination} --seed {args.seed} {mode}",
        f"inventory:   {len(first):,} at the start; {len(first) - kept:,} rented, "
        f"{now - kept:,} added during the walk",
        f"received:    {received:,} records in {elapsed:.1f}s",
        *([f"STREAM FAILED: {type(error).__name__}: {error}"] if error else []),
        f"lost:        {lost:,} of the {kept:,} present throughout",
        f"duplicated:  {duplicated:,}",
        f"faults:      {sum(served.values()):,} served in {requests:,} requests: {faults}",
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
    return asyncio.run(soak(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
