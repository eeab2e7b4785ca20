"""The fake's numbers: the deterministic synthetic inventory.
``_record`` builds one DID object with every attribute of reference 8.1; ``_Generator``
makes record ``i`` a pure function of ``(seed, i)``; ``_Inventory`` is what is still
available (generated, eagerly up to ``EAGER_SIZE`` or on demand, or the caller's own
records) minus what was removed, and ``_InventoryView`` is its read-only public face.
``_Inventory.ordered`` is the inventory sorted by one field, kept until numbers are added,
so an ordered page (and a keyset seek) need not sort everything per request.
Records built by hand (``did_record``) live in ``records``.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, overload

from .fields import record_problem, value_of
from .geography import _WEIGHTED, _Locality

#: classification_sid of every internal number.
DEFAULT_CLASSIFICATION_SID: Final = "c1a55000-0000-4000-8000-000000000001"
#: classification_sid of the synthetic external-provider numbers.
EXTERNAL_CLASSIFICATION_SID: Final = "c1a55000-0000-4000-8000-0000000000e1"
#: did_sid prefix of the synthetic external-provider numbers.
EXTERNAL_SID_PREFIX: Final = "e0000000-"
#: Largest generated inventory (unique phone numbers per area code).
MAX_SIZE: Final = 7_000_000
#: Generated inventories up to this size are built and decoded at construction.
EAGER_SIZE: Final = 10_000
_RECENT_MAX: Final = 1 << 16  # records generated on demand and kept (a filtered walk rereads)

_CAPS: Final = {"USA": (4, 5, 7, 7, 31, 4, 5, 0), "GBR": (4, 5, 4, 31)}
_PRICES: Final = {
    "USA": ("0.6", "0.6", "0.75", "1.00", "1.5", "2.5", "0.5", "0.6"),
    "GBR": ("1.20", "2.5", "3.00"),
}
_OCNS: Final = ("251F", "7299", "9206", "0962", "6529", "375H")


def _digest(*parts: object) -> int:
    text = "|".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=16).digest(), "big")


def _coprime(n: int, start: int) -> int:
    """The first integer >= start that is coprime with n (a multiplier for a permutation)."""
    a = start % n or 1
    while math.gcd(a, n) != 1:
        a += 1
    return a


def _phone(loc: _Locality, area: int, serial: int, *, external: bool) -> tuple[str, str, str]:
    """(phonenumber, in_country_format, international_format), unique per (area, serial).

    Internal numbers use codes below MAX_SIZE, external ones the codes above: never equal.
    """
    code = MAX_SIZE + serial % (10**7 - MAX_SIZE) if external else serial
    if loc.country == "USA":
        n = f"{area}{200 + code // 10_000:03d}{code % 10_000:04d}"  # NXX 200..999
        return "1" + n, f"({n[:3]}) {n[3:6]}-{n[6:]}", f"+1 {n[:3]}-{n[3:6]}-{n[6:]}"
    sub = ("3" if area == 20 else "") + f"{code:07d}"
    head, tail = sub[:-4], sub[-4:]
    return f"44{area}{sub}", f"0{area} {head} {tail}", f"+44 {area} {head} {tail}"


def _record(
    *, did_sid: str, loc: _Locality, area: int, serial: int, draw: int, external: bool = False
) -> dict[str, Any]:
    """One DID object with every attribute of reference 8.1 (sample 4.5)."""
    caps = _CAPS[loc.country][draw % len(_CAPS[loc.country])]
    draw //= 8
    price = _PRICES[loc.country][draw % len(_PRICES[loc.country])]
    draw //= 8
    number, national, international = _phone(loc, area, serial, external=external)
    return {
        "active_capabilities": 4 if caps & 4 else 0,  # messaging disabled (8.1)
        "attributes": {},
        "callback_url": None,
        "campaign_sid": None,
        "capabilities": caps,
        "classification_sid": EXTERNAL_CLASSIFICATION_SID
        if external
        else DEFAULT_CLASSIFICATION_SID,
        "country_code": loc.country,
        "did_group_sid": None,
        "did_sid": did_sid,
        "in_country_format": national,
        "international_format": international,
        "lata": loc.lata,
        "locality": loc.name,
        "lrn_sid": None,
        "name": "N/A",
        "ocn": _OCNS[draw % len(_OCNS)],
        "partner_sid": None,
        "phonenumber": number,
        "porting_pin": None,
        "price": price,
        "state": loc.state,
        "status": "available",
        "string_key_1": None,
        "string_key_2": None,
        "transformations": [],
        "trunk_group_sid": None,
    }


class _Generator:
    """Record i as a pure function of (seed, i)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._mult = _coprime(MAX_SIZE, _digest(seed, "serial"))
        self._shift = _digest(seed, "shift") % MAX_SIZE
        h = _digest(seed, "sid")
        self._sid_mid = f"{h >> 64 & 0xFFFF:04x}-4{h >> 32 & 0xFFF:03x}-8{h & 0xFFF:03x}"

    def record(self, i: int) -> dict[str, Any]:
        d = _digest(self.seed, i)
        loc = _WEIGHTED[d % len(_WEIGHTED)]
        d //= len(_WEIGHTED)
        area = loc.area_codes[d % len(loc.area_codes)]
        d //= len(loc.area_codes)
        head = (d & 0xFFFFFFFF) % 0xE0000000  # never EXTERNAL_SID_PREFIX
        sid = f"{head:08x}-{self._sid_mid}-{i:012x}"
        serial = (self._mult * i + self._shift) % MAX_SIZE
        return _record(did_sid=sid, loc=loc, area=area, serial=serial, draw=d >> 32)

    def index_of(self, did_sid: str) -> int | None:
        tail = did_sid.rpartition("-")[2]
        if len(tail) != 12:
            return None
        try:
            return int(tail, 16)
        except ValueError:
            return None


@functools.lru_cache(maxsize=8)
def _generated(seed: int, size: int) -> tuple[tuple[dict[str, Any], ...], dict[str, int]]:
    """An eager generated inventory (wire dicts, SID -> index), built once.

    Test suites start many fakes with the same seed and size; building 3,000 records takes
    tens of milliseconds, so each (seed, size) is built once per process. Callers copy the
    wire dicts (users may change theirs) and never change the rest. Generated records have
    empty ``attributes`` and ``transformations``.
    """
    gen = _Generator(seed)
    wire = tuple(gen.record(i) for i in range(size))
    return wire, {r["did_sid"]: i for i, r in enumerate(wire)}


def _checked(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``records``, each a DID object the fake can serve (else ValueError)."""
    out = []
    for i, record in enumerate(records):
        if (why := record_problem(record)) is not None:
            raise ValueError(f"record {i} is not a DID object: {why}")
        out.append(dict(record))
    return out


def _sids(wire: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    sids = {r.get("did_sid"): i for i, r in enumerate(wire)}
    if None in sids or len(sids) != len(wire):
        raise ValueError("inventory did_sid values must be present and unique")
    return sids  # type: ignore[return-value]  # None was ruled out


class _Inventory:
    """The records still available: a base sequence minus the removed indices."""

    def __init__(self, seed: int, size: int, explicit: Sequence[Mapping[str, Any]] | None) -> None:
        self.seed = seed
        self._gen: _Generator | None = None
        self._wire: list[dict[str, Any]] | None = None
        self._sids: dict[str, int] = {}
        if explicit is not None:
            self._wire = _checked(explicit)
            self._sids = _sids(self._wire)
        else:
            if not 0 <= size <= MAX_SIZE:
                raise ValueError(f"size must be between 0 and {MAX_SIZE}")
            self._gen = _Generator(seed)
            if size <= EAGER_SIZE:
                wire, sids = _generated(seed, size)
                # Copies down to the containers: one fake's changes (a user's edits, inserts)
                # never reach another fake or the cache.
                self._wire = [
                    dict(
                        r,
                        attributes=dict(r["attributes"]),
                        transformations=list(r["transformations"]),
                    )
                    for r in wire
                ]
                self._sids = dict(sids)
        self.size = size if self._wire is None else len(self._wire)
        self._removed: list[int] = []  # sorted
        self._removed_set: set[int] = set()
        self._shuffled: list[int] | None = None
        self._numbers: set[str] | None = None
        self._recent: dict[int, dict[str, Any]] = {}  # generated on demand, kept a while
        # field -> (keys ascending, base indices ascending, base indices descending)
        self._ordered: dict[str, tuple[list[tuple[Any, ...]], list[int], list[int]]] = {}

    def wire(self, i: int) -> dict[str, Any]:
        if self._wire is not None:
            return self._wire[i]
        if (record := self._recent.get(i)) is None:
            if len(self._recent) >= _RECENT_MAX:
                self._recent.clear()
            assert self._gen is not None
            record = self._recent[i] = self._gen.record(i)
        return record

    def find(self, did_sid: str) -> int | None:
        """The index of an available record with this SID."""
        if self._gen is not None and self._wire is None:
            i = self._gen.index_of(did_sid)
            if i is None or i >= self.size or self.wire(i)["did_sid"] != did_sid:
                return None
        else:
            i = self._sids.get(did_sid)
        return None if i is None or i in self._removed_set else i

    def materialize(self) -> None:
        """Hold the available records as one list (so numbers can be inserted anywhere)."""
        if self._gen is None and not self._removed:
            return
        wire = [self.wire(i) for i in self.indices(shuffle=False)]
        self._wire, self._gen = wire, None
        self._removed, self._removed_set, self._shuffled = [], set(), None
        self._sids = {r["did_sid"]: i for i, r in enumerate(wire)}
        self.size = len(wire)
        self._ordered.clear()  # base indices changed

    def insert(self, placed: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        """Put each record before the k-th available one (at the end if k is past it);
        every k counts positions before any of these inserts."""
        self.materialize()
        assert self._wire is not None
        wire = _checked(r for _, r in placed)
        sids = [r.get("did_sid") for r in wire]
        if None in sids or len(set(sids)) != len(sids) or not self._sids.keys().isdisjoint(sids):
            raise ValueError("added records need a did_sid not already in the inventory")
        size = len(self._wire)
        order = sorted(range(len(wire)), key=lambda j: max(0, min(placed[j][0], size)))
        for j in reversed(order):  # from the back: earlier positions stay valid
            self._wire.insert(max(0, min(placed[j][0], size)), wire[j])
        self._sids = {r["did_sid"]: i for i, r in enumerate(self._wire)}
        self.size = len(self._wire)
        self._ordered.clear()
        if self._numbers is not None:
            self._numbers.update(p for r in wire if isinstance(p := r.get("phonenumber"), str))

    def numbers(self) -> set[str]:
        """Every phonenumber the inventory holds or held (the live set)."""
        if self._numbers is None:
            self.materialize()
            assert self._wire is not None
            self._numbers = {p for r in self._wire if isinstance(p := r.get("phonenumber"), str)}
        return self._numbers

    def remove(self, i: int) -> None:
        if i not in self._removed_set:
            self._removed_set.add(i)
            bisect.insort(self._removed, i)

    def available(self, i: int) -> bool:
        return i not in self._removed_set

    def ordered(self, field: str, *, descending: bool) -> tuple[list[tuple[Any, ...]], list[int]]:
        """Every base index (removed ones too: callers skip them) sorted by ``field``: nulls
        last ascending and first descending, ties in inventory order; and the keys of the
        ascending order, ``(0, value)`` or ``(1,)`` for null, for bisecting. Kept until
        numbers are added (removing one does not move the others)."""
        if field not in self._ordered:
            get = value_of(field)
            keyed = sorted(
                ((0, v) if (v := get(self.wire(i))) is not None else (1,), i)
                for i in range(self.size)
            )
            keys = [k for k, _ in keyed]
            up = [i for _, i in keyed]
            groups = [list(g) for _, g in itertools.groupby(keyed, key=lambda e: e[0])]
            down = [i for g in reversed(groups) for _, i in g]
            self._ordered[field] = keys, up, down
        keys, up, down = self._ordered[field]
        return keys, down if descending else up

    def __len__(self) -> int:
        return self.size - len(self._removed)

    def nth(self, k: int) -> int:
        """The base index of the k-th available record (0-based)."""
        i = k
        while True:  # least fixed point of i = k + removed(<= i)
            j = k + bisect.bisect_right(self._removed, i)
            if j == i:
                return i
            i = j

    def indices(self, *, shuffle: bool) -> Iterator[int]:
        """Available base indices in inventory order, or the seed's shuffled order."""
        order: Iterable[int] = range(self.size)
        if shuffle and self.size:
            if self._wire is not None:
                if self._shuffled is None:
                    self._shuffled = list(range(self.size))
                    random.Random(self.seed).shuffle(self._shuffled)
                order = self._shuffled
            else:
                a = _coprime(self.size, _digest(self.seed, "shuffle"))
                b, n = _digest(self.seed, "offset") % self.size, self.size
                order = ((a * k + b) % n for k in range(n))
        return (i for i in order if i not in self._removed_set)


class _InventoryView(Sequence[dict[str, Any]]):
    """A read-only live view of the available wire dicts (do not mutate them)."""

    def __init__(self, inventory: _Inventory) -> None:
        self._inv = inventory

    def __len__(self) -> int:
        return len(self._inv)

    @overload
    def __getitem__(self, k: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, k: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, k: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        n = len(self)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError("inventory index out of range")
        return self._inv.wire(self._inv.nth(k))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self._inv.wire(i) for i in self._inv.indices(shuffle=False))
