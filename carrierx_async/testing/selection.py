"""Which records a list request gets: ``select`` (filter, order, offset, limit) and
``external`` (the provider's numbers of ``include_external=true``, reference 4.1).

An ordered request walks ``_Inventory.ordered`` (sorted once, kept until numbers are
added) and stops after ``offset + limit + 1`` matches; a condition on the order field that
bounds where the walk starts (``gt``/``ge`` ascending, ``lt``/``le`` descending: a keyset
seek) is found by bisection, so a seek costs what its page costs, not the inventory's size.
An unordered request walks the inventory (or the seed's shuffle) the same way.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from typing import Any, Final

from .arguments import _ListArgs
from .filtering import Condition, compile_filter
from .geography import _LOCALITIES, _near
from .inventory import EXTERNAL_SID_PREFIX, _digest, _Inventory, _record

__all__ = ["external", "select"]

#: At most this many external numbers per request (reference 4.1).
EXTERNAL_MAX: Final = 10
_EXTERNAL_TRIES: Final = 3000


def _start(keys: Sequence[tuple[Any, ...]], args: _ListArgs) -> int:
    """How many entries of the ordered list the filter's bounds on the order field rule out."""
    start, n = 0, len(keys)
    for c in args.filter or ():
        if c.field != args.order:
            continue
        if not args.descending and c.op in ("gt", "ge"):
            find = bisect.bisect_right if c.op == "gt" else bisect.bisect_left
            start = max(start, find(keys, (0, c.value)))
        elif args.descending and c.op in ("lt", "le"):
            find = bisect.bisect_left if c.op == "lt" else bisect.bisect_right
            start = max(start, n - find(keys, (0, c.value)))
    return start


def _candidates(inv: _Inventory, args: _ListArgs) -> Iterator[int]:
    """Available base indices in the order the request asks for."""
    if args.order is None or args.order == "shuffle":
        return inv.indices(shuffle=args.order == "shuffle")
    keys, order = inv.ordered(args.order, descending=args.descending)
    start = _start(keys, args)
    return (order[k] for k in range(start, len(order)) if inv.available(order[k]))


def select(inv: _Inventory, args: _ListArgs) -> tuple[list[int], bool]:
    """Base indices of the page at ``args.offset``, and whether more follow."""
    start, stop = args.offset, args.offset + args.limit
    if args.filter is None and args.order is None:
        end = min(stop, len(inv))
        return [inv.nth(k) for k in range(start, end)], stop < len(inv)
    picked = _candidates(inv, args)
    if args.filter is not None:
        match = compile_filter(args.filter, _near)
        picked = (i for i in picked if match(inv.wire(i)))
    page = list(itertools.islice(picked, start, stop + 1))
    return page[: args.limit], len(page) > args.limit


def external(seed: int, conditions: Sequence[Condition], need: int) -> list[dict[str, Any]]:
    """Up to ``need`` deterministic external-provider numbers that match, best effort."""
    countries = {c.value for c in conditions if c.field == "country_code" and c.op == "eq"}
    areas = {
        int(c.value[1] if c.op == "nearby" else c.value)
        for c in conditions
        if (c.field, c.op) == ("npa", "eq") or (c.op == "nearby" and c.value[0] == "npa")
    }  # where to look: the provider searches where asked, not at random
    places = [
        (loc, a)
        for loc in _LOCALITIES
        if not countries or loc.country in countries
        for a in loc.area_codes
        if not areas or a in areas
    ]
    match = compile_filter(conditions, _near)
    found: list[dict[str, Any]] = []
    if not places:
        return found
    for j in range(_EXTERNAL_TRIES):
        d = _digest(seed, "external", " and ".join(map(str, conditions)), j)
        loc, area = places[d % len(places)]
        d //= len(places)
        sid = f"{EXTERNAL_SID_PREFIX}0000-4000-8000-{d & 0xFFFFFFFFFFFF:012x}"
        record = _record(
            did_sid=sid, loc=loc, area=area, serial=d >> 48, draw=d >> 96, external=True
        )
        if match(record):
            found.append(record)
            if len(found) == need:
                break
    return found
