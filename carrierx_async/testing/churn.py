"""Churn between requests: numbers rented and added while a client walks the inventory.

``apply_churn`` carries out one ``Churn`` fault on the fake's inventory: it rents (removes)
and adds numbers where ``fault.at`` says, deterministically from the fault's seed and the
request number. An added number copies a neighbour, with a fresh ``did_sid`` and the nearest
unused lower ``phonenumber``, and is inserted just before that neighbour.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any, Final

from .faults import Churn
from .inventory import _Inventory
from .records import _formats

__all__ = ["apply_churn"]

_ADDED_SID_PREFIX: Final = "ad000000-0000-4000-8000-"  # numbers Churn adds


def apply_churn(
    inv: _Inventory,
    fault: Churn,
    *,
    served: Callable[[], list[int]],
    request_no: int,
    added: int,
) -> int:
    """Rent and add numbers where ``fault.at`` says; ``served()`` is the part of the result
    set served so far (positions). Returns the new count of numbers added by churn."""
    rng = random.Random(f"{fault.seed}:{request_no}")
    if fault.at == "anywhere":  # inventory positions; an added number copies anyone
        n = len(inv)
        rented = [inv.nth(k) for k in rng.sample(range(n), min(n, fault.remove))]
        gone = set(rented)
        before: list[int] = []
        while len(before) < fault.add and len(gone) < n:
            if (i := inv.nth(rng.randrange(n))) not in gone:
                before.append(i)
    else:
        so_far = served()
        if fault.at == "front":
            rented = so_far[: fault.remove]
            before = so_far[fault.remove : fault.remove + 1] * fault.add
        else:
            rented = rng.sample(so_far, min(fault.remove, len(so_far)))
            gone = set(rented)
            rest = [i for i in so_far if i not in gone]
            before = [rng.choice(rest) for _ in range(fault.add)] if rest else []
    wires = [inv.wire(i) for i in before]  # neighbours, found again by did_sid
    for i in rented:
        inv.remove(i)
    if not wires:
        return added
    inv.materialize()  # the rented ones leave; positions below are final
    numbers = inv.numbers()
    placed = []
    for wire in wires:
        k = inv.find(wire["did_sid"])
        if k is not None:
            added += 1
            placed.append((k, _copy(wire, numbers, added)))
    inv.insert(placed)
    return added


def _copy(wire: Mapping[str, Any], numbers: set[str], serial: int) -> dict[str, Any]:
    """A new number just below ``wire``'s, otherwise like it (an added number)."""
    record = dict(wire)
    record["did_sid"] = f"{_ADDED_SID_PREFIX}{serial:012x}"
    phone = str(record.get("phonenumber") or "1")
    width, n = len(phone), int(phone) if phone.isdigit() else 10 ** (len(phone) - 1)
    while (candidate := f"{n:0{width}d}") in numbers:
        n -= 1
    numbers.add(candidate)
    record["phonenumber"] = candidate
    record["in_country_format"], record["international_format"] = _formats(candidate)
    return record
