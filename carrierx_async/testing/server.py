"""A fake CarrierX Core API v2 server for tests: ``async with FakeCarrierX() as fake: ...``.

It is a real ``aiohttp.web`` app on 127.0.0.1 serving "Browse Available DIDs" (API
reference section 4) from a deterministic synthetic inventory, with scriptable faults
(``fake.add_fault(Status(503, retry_after="2"))``). Every request is recorded in
``fake.requests`` with the Authorization value redacted.

Simulated as documented:
- routes ``GET /phonenumber/available_dids``, its deprecated alias ``GET /dids/inventory``
  and ``GET /phonenumber/available_dids/{did_sid}`` (4, 4.6); Bearer auth (2.1);
- the list envelope with ``total: null`` and an absolute ``pagination.next`` (4.5, 5.2);
- ``limit``/``offset``/``order``/``filter``/``include_fields``/``exclude_fields`` (5.1, 6, 7);
- DID objects with every attribute of 8.1, ``status: "available"``, owner fields null,
  ``active_capabilities`` = 4 if voice else 0 (messaging disabled, 8.1);
- ``include_external=true``: offset must be 0, the filter needs ``country_code eq``,
  internal numbers first, then at most 10 external ones (4.1).

Assumptions, where the reference says [NOT DOCUMENTED]:
- ``limit`` outside 1..1000, a bad ``offset``/``order``/field name, or both
  ``include_fields`` and ``exclude_fields`` -> 400; the error body is
  ``{"message", "errors": [{"field", "message", "reference_sid"}]}`` (9.2). Unknown
  query arguments are ignored. Only Bearer auth is accepted (no HTTP Basic).
- ``nearby`` (4.2): ``npa:`` means the number's area code; ``zip:``/``latlng:`` mean the
  number's locality lies within ``NEARBY_KM`` of the point. Results keep inventory order.
- ``order``: nulls sort last ascending and first descending; ties keep inventory order;
  ``shuffle`` is a fixed permutation per seed.
- ``include_external=true`` does not enforce the (unretrieved, 4.3) field/operator
  whitelist. External numbers have ``classification_sid == EXTERNAL_CLASSIFICATION_SID``
  and a did_sid starting ``EXTERNAL_SID_PREFIX``; they are not in the inventory (the
  by-SID route answers 404). ``has_more`` is true when more internal matches exist or
  external numbers were added, and then ``pagination.next`` is set: clients must ignore both.

Faults (``add_fault(fault, times=1, path=None)``) are consumed by the next matching requests
in order, before authentication, and are recorded on ``RecordedRequest.fault``: ``Status``,
``Raw``, ``MalformedJson``, ``HtmlPage``, ``Disconnect`` replace the answer; ``Delay`` holds
it; ``SlowDrip``, ``Truncated``, ``Reset`` change how the real body travels;
``ForeignNext``, ``Stuck``, ``EmptyHasMore``, ``Churn`` change a list page or the inventory.

Your own inventory: ``FakeCarrierX(inventory=[did_record(state="NY", price="0.5"), ...])``
serves exactly those records, in that order. ``did_record(**fields)`` builds one complete DID
object (every field of 8.1) from a few overrides; any full wire dict is accepted too.
Defaults: ``status: "available"``, owner fields null, a NEW YORK, NY number (USA) with
``in_country_format``/``international_format`` derived from ``phonenumber``,
``capabilities`` 7 with ``active_capabilities`` to match (4 if voice else 0), price "0.6".
``did_sid`` and ``phonenumber``, unless given, come from a process-wide counter: unique
per call and the same for the same order of calls (pass them to pin them). An unknown
keyword is a TypeError naming the valid fields; a value the library cannot decode (checked
with ``decode_did``), or one JSON cannot carry, is a ValueError.

Record ``i`` of a generated inventory is a pure function of ``(seed, i)``. Up to
``EAGER_SIZE`` records are built and decoded once at construction; larger inventories
are generated on demand, so an unfiltered page at any offset is cheap, while a filtered
or ordered request scans (and decodes) every record.
"""

from __future__ import annotations

import asyncio
import bisect
import difflib
import hashlib
import heapq
import itertools
import json
import math
import random
import socket
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final, Self, TypeAlias, overload

import attrs
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from ._convert import decode_did
from ._errors import FilterError, ResponseDecodeError
from ._filters import Filter, Nearby, parse_filter
from ._models import DID_FIELDS, AvailableDid

__all__ = [
    "DEFAULT_CLASSIFICATION_SID",
    "EAGER_SIZE",
    "EXTERNAL_CLASSIFICATION_SID",
    "EXTERNAL_SID_PREFIX",
    "MAX_SIZE",
    "NEARBY_KM",
    "Churn",
    "Delay",
    "Disconnect",
    "EmptyHasMore",
    "FakeCarrierX",
    "Fault",
    "ForeignNext",
    "HtmlPage",
    "MalformedJson",
    "Raw",
    "RecordedRequest",
    "Reset",
    "SlowDrip",
    "Status",
    "Stuck",
    "Truncated",
    "did_record",
]

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
#: Radius of ``phonenumber nearby zip:``/``latlng:`` in kilometres (an assumption, 4.2).
NEARBY_KM: Final = 50.0

_BASE_PATH: Final = "/core/v2"
_MAX_LIMIT: Final = 1000  # reference 5.1
_DEFAULT_LIMIT: Final = 10
_EXTERNAL_MAX: Final = 10  # reference 4.1
_EXTERNAL_TRIES: Final = 3000
_ORDERABLE: Final = DID_FIELDS - {"attributes", "transformations"}


# -- faults -------------------------------------------------------------------------------


@attrs.frozen
class Status:
    """Answer with this status, an optional Retry-After header and the JSON error body."""

    status: int
    retry_after: str | None = attrs.field(default=None, kw_only=True)
    message: str = attrs.field(default="injected fault", kw_only=True)


@attrs.frozen
class Delay:
    """Wait this many seconds before the headers, then answer normally."""

    seconds: float


@attrs.frozen
class SlowDrip:
    """Send the real response ``chunk_size`` bytes at a time, ``interval`` seconds apart."""

    chunk_size: int = 256
    interval: float = 0.05


@attrs.frozen
class Truncated:
    """Announce the full Content-Length, send ``fraction`` of the body, then close cleanly."""

    fraction: float = 0.5


@attrs.frozen
class Reset:
    """Send headers and ``fraction`` of the body, then reset the connection (RST)."""

    fraction: float = 0.5


@attrs.frozen
class Disconnect:
    """Close the connection without answering (aiohttp resends a GET once: use times=2)."""


@attrs.frozen
class MalformedJson:
    """Status 200, ``application/json``, a body that is not valid JSON."""

    body: bytes = b'{"count": 1, "has_more": true, "items": [{"did_sid": '


@attrs.frozen
class HtmlPage:
    """An HTML error page (a proxy's, say) with this status: the wrong content type."""

    status: int = 502


@attrs.frozen
class Raw:
    """Any body, status and content type you like."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


@attrs.frozen
class ForeignNext:
    """The real page, with ``pagination.next`` (when present) moved to another origin."""

    origin: str = "http://evil.example:1"


@attrs.frozen
class Churn:
    """After serving this request, remove the first ``remove`` records of its result set."""

    remove: int = 1


@attrs.frozen
class Stuck:
    """Serve the offset-0 page verbatim whatever offset was asked for."""


@attrs.frozen
class EmptyHasMore:
    """An empty page that still says ``has_more: true`` (next points at the same offset)."""


Fault: TypeAlias = (
    Status
    | Delay
    | SlowDrip
    | Truncated
    | Reset
    | Disconnect
    | MalformedJson
    | HtmlPage
    | Raw
    | ForeignNext
    | Churn
    | Stuck
    | EmptyHasMore
)


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request the fake received (the Authorization value is redacted)."""

    method: str
    path: str
    query: MultiDictProxy[str]
    headers: CIMultiDictProxy[str]
    authorized: bool
    fault: Fault | None = None


@attrs.define
class _Pending:
    fault: Fault
    times: int
    path: str | None


# -- synthetic inventory ------------------------------------------------------------------


@attrs.frozen
class _Locality:
    name: str
    state: str | None
    country: str
    area_codes: tuple[int, ...]
    lat: float
    lng: float
    zips: tuple[str, ...]
    lata: str | None
    weight: int


_LOCALITIES: Final = (
    _Locality("NEW YORK", "NY", "USA", (212, 646, 917), 40.7128, -74.0060,
              ("10001", "10025", "10036"), "132", 14),
    _Locality("BROOKLYN", "NY", "USA", (718, 347), 40.6782, -73.9442, ("11201", "11215"), "132", 6),
    _Locality("HEMPSTEAD", "NY", "USA", (516,), 40.7062, -73.6187, ("11550", "11551"), None, 4),
    _Locality("ALBANY", "NY", "USA", (518,), 42.6526, -73.7562, ("12203", "12207"), "130", 3),
    _Locality("LOS ANGELES", "CA", "USA", (213, 310, 323), 34.0522, -118.2437,
              ("90001", "90012", "90028"), "730", 12),
    _Locality("SAN FRANCISCO", "CA", "USA", (415, 628), 37.7749, -122.4194,
              ("94102", "94103", "94110"), "722", 8),
    _Locality("SAN DIEGO", "CA", "USA", (619, 858), 32.7157, -117.1611,
              ("92101", "92103"), "732", 5),
    _Locality("CHICAGO", "IL", "USA", (312, 773), 41.8781, -87.6298, ("60601", "60614"), "358", 10),
    _Locality("HOUSTON", "TX", "USA", (713, 832), 29.7604, -95.3698, ("77002", "77006"), "560", 8),
    _Locality("DALLAS", "TX", "USA", (214, 469), 32.7767, -96.7970, ("75201", "75204"), "552", 7),
    _Locality("MIAMI", "FL", "USA", (305, 786), 25.7617, -80.1918, ("33101", "33130"), "460", 7),
    _Locality("SALT LAKE CITY", "UT", "USA", (801, 385), 40.7608, -111.8910,
              ("84101", "84111"), "660", 5),
    _Locality("SEATTLE", "WA", "USA", (206,), 47.6062, -122.3321, ("98101", "98109"), "674", 6),
    _Locality("DENVER", "CO", "USA", (303, 720), 39.7392, -104.9903, ("80202", "80205"), None, 5),
    _Locality("LONDON", None, "GBR", (20,), 51.5074, -0.1278, (), None, 4),
    _Locality("MANCHESTER", None, "GBR", (161,), 53.4808, -2.2426, (), None, 2),
)  # fmt: skip
_WEIGHTED: Final = tuple(loc for loc in _LOCALITIES for _ in range(loc.weight))
_BY_PLACE: Final = {(loc.country, loc.state, loc.name): loc for loc in _LOCALITIES}
_ZIPS: Final = {z: (loc.lat, loc.lng) for loc in _LOCALITIES for z in loc.zips}
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


# -- records built by hand: did_record() ----------------------------------------------------

_BUILT: Final = itertools.count(1)
_BUILT_SID_PREFIX: Final = "d1d00000-0000-4000-8000-"


def _formats(number: str) -> tuple[str, str]:
    """(in_country_format, international_format) of a phonenumber, as the fake writes them."""
    if len(number) == 11 and number.startswith("1"):  # NANP, like the generated USA numbers
        n = number[1:]
        return f"({n[:3]}) {n[3:6]}-{n[6:]}", f"+1 {n[:3]}-{n[3:6]}-{n[6:]}"
    if number.startswith("44") and len(number) > 2:
        return f"0{number[2:]}", f"+44 {number[2:]}"
    return number, f"+{number}"


def did_record(**fields: Any) -> dict[str, Any]:
    """A complete, valid wire DID object (reference 8.1); any field can be overridden.

    ``FakeCarrierX(inventory=[did_record(state="NY", price="0.5"), did_record()])``.
    Defaults: status "available", owner fields null, a NEW YORK, NY number (country_code
    "USA"), capabilities 7 with active_capabilities 4 (4 if voice else 0), price "0.6".
    ``did_sid`` and ``phonenumber`` come from a process-wide counter unless given (unique
    per call); ``in_country_format``, ``international_format`` and ``active_capabilities``
    are derived from ``phonenumber`` and ``capabilities`` unless given.

    Raises TypeError for an unknown field (naming the valid ones) and ValueError for a
    value the library's decoder rejects (its own message) or that JSON cannot carry.
    """
    if unknown := sorted(set(fields) - DID_FIELDS):
        hints = [
            f"{name!r} (did you mean {close[0]!r}?)"
            if (close := difflib.get_close_matches(name, DID_FIELDS, n=1))
            else repr(name)
            for name in unknown
        ]
        raise TypeError(
            f"did_record() got unknown field {', '.join(hints)}; "
            f"valid fields: {', '.join(sorted(DID_FIELDS))}"
        )
    n = next(_BUILT)
    number = f"1212{200 + n // 10_000 % 800:03d}{n % 10_000:04d}"
    record: dict[str, Any] = {
        "active_capabilities": 4,
        "attributes": {},
        "callback_url": None,
        "campaign_sid": None,
        "capabilities": 7,
        "classification_sid": DEFAULT_CLASSIFICATION_SID,
        "country_code": "USA",
        "did_group_sid": None,
        "did_sid": f"{_BUILT_SID_PREFIX}{n:012x}",
        "in_country_format": None,
        "international_format": None,
        "lata": "132",
        "locality": "NEW YORK",
        "lrn_sid": None,
        "name": "N/A",
        "ocn": _OCNS[0],
        "partner_sid": None,
        "phonenumber": number,
        "porting_pin": None,
        "price": "0.6",
        "state": "NY",
        "status": "available",
        "string_key_1": None,
        "string_key_2": None,
        "transformations": [],
        "trunk_group_sid": None,
    }
    record.update(fields)
    phone = record["phonenumber"]
    national, international = _formats(phone) if isinstance(phone, str) else (None, None)
    if "in_country_format" not in fields:
        record["in_country_format"] = national
    if "international_format" not in fields:
        record["international_format"] = international
    caps = record["capabilities"]
    if "active_capabilities" not in fields and type(caps) is not bool:
        if caps is None:
            record["active_capabilities"] = None
        elif isinstance(caps, int):  # a bad type is left for decode_did to name
            record["active_capabilities"] = 4 if caps & 4 else 0  # messaging disabled (8.1)
    try:
        decode_did(record)
    except ResponseDecodeError as exc:
        detail = str(exc).removeprefix(f"HTTP {exc.status}: ")
        raise ValueError(f"did_record(): {detail}") from None
    try:
        json.dumps(record, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"did_record(): the record is not JSON: {exc}") from None
    return record


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


class _Inventory:
    """The records still available: a base sequence minus the removed indices."""

    def __init__(self, seed: int, size: int, explicit: Sequence[Mapping[str, Any]] | None) -> None:
        self.seed = seed
        self._gen: _Generator | None = None
        self._wire: list[dict[str, Any]] | None = None
        self._dids: list[AvailableDid] | None = None
        self._sids: dict[str, int] = {}
        if explicit is not None:
            self._wire = [dict(r) for r in explicit]
        else:
            if not 0 <= size <= MAX_SIZE:
                raise ValueError(f"size must be between 0 and {MAX_SIZE}")
            self._gen = _Generator(seed)
            if size <= EAGER_SIZE:
                self._wire = [self._gen.record(i) for i in range(size)]
        if self._wire is not None:
            try:
                self._dids = [decode_did(r, index=i) for i, r in enumerate(self._wire)]
            except ResponseDecodeError as exc:
                raise ValueError(f"inventory record is not a DID object: {exc}") from exc
            self._sids = {d.did_sid: i for i, d in enumerate(self._dids) if d.did_sid}
            if len(self._sids) != len(self._wire):
                raise ValueError("inventory did_sid values must be present and unique")
        self.size = size if self._wire is None else len(self._wire)
        self._removed: list[int] = []  # sorted
        self._removed_set: set[int] = set()
        self._shuffled: list[int] | None = None

    def wire(self, i: int) -> dict[str, Any]:
        if self._wire is not None:
            return self._wire[i]
        assert self._gen is not None
        return self._gen.record(i)

    def did(self, i: int) -> AvailableDid:
        if self._dids is not None:
            return self._dids[i]
        return decode_did(self.wire(i), index=i)

    def find(self, did_sid: str) -> int | None:
        """The index of an available record with this SID."""
        if self._gen is not None and self._wire is None:
            i = self._gen.index_of(did_sid)
            if i is None or i >= self.size or self.wire(i)["did_sid"] != did_sid:
                return None
        else:
            i = self._sids.get(did_sid)
        return None if i is None or i in self._removed_set else i

    def remove(self, i: int) -> None:
        if i not in self._removed_set:
            self._removed_set.add(i)
            bisect.insort(self._removed, i)

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


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _near(did: AvailableDid, where: Nearby) -> bool:
    """The ``nearby`` predicate (4.2): npa = area code; zip/latlng = within NEARBY_KM."""
    if where.kind == "npa":
        number = did.phonenumber or ""
        return len(number) == 11 and number.startswith("1") and number[1:4] == where.value
    point = where.value if isinstance(where.value, tuple) else _ZIPS.get(where.value)
    loc = _BY_PLACE.get((did.country_code or "", did.state, did.locality or ""))
    if point is None or loc is None:
        return False
    return _distance_km(point, (loc.lat, loc.lng)) <= NEARBY_KM


# -- request handling ---------------------------------------------------------------------


class _BadRequest(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _error_body(message: str, field: str | None = None, detail: str | None = None) -> bytes:
    """The error body shape of reference 9.2."""
    errors = [{"field": field, "message": detail or message, "reference_sid": None}]
    return json.dumps({"message": message, "errors": errors}).encode()


@attrs.frozen(kw_only=True)
class _ListArgs:
    limit: int
    offset: int
    order: str | None  # a field name, "shuffle" or None
    descending: bool
    filter: Filter | None
    external: bool


def _int_arg(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise _BadRequest(name, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise _BadRequest(name, f"{name} must be between {low} and {high}")
    return value


def _list_args(query: Mapping[str, str]) -> _ListArgs:
    """Validate the list query arguments (4.1, 5.1, 6)."""
    limit = _int_arg(query, "limit", _DEFAULT_LIMIT, 1, _MAX_LIMIT)
    offset = _int_arg(query, "offset", 0, 0, 2**63 - 1)
    order, descending = None, False
    if text := query.get("order", "").strip():
        words = text.split()
        if words == ["shuffle"]:
            order = "shuffle"
        elif len(words) in (1, 2) and words[0] in _ORDERABLE:
            order = words[0]
            direction = words[1].lower() if len(words) == 2 else "asc"
            if direction not in ("asc", "desc"):
                raise _BadRequest("order", f"unknown order direction {words[1]!r}")
            descending = direction == "desc"
        else:
            raise _BadRequest("order", f"cannot order by {text!r}")
    flt = None
    if text := query.get("filter", "").strip():
        try:
            flt = parse_filter(text)
        except FilterError as exc:
            raise _BadRequest("filter", str(exc)) from None
    external_text = query.get("include_external", "false").lower()
    if external_text not in ("true", "false"):
        raise _BadRequest("include_external", "include_external must be true or false")
    external = external_text == "true"
    if external:  # reference 4.1
        if offset != 0:
            raise _BadRequest("offset", "offset must be 0 when include_external=true")
        if flt is None or not any(
            c.field == "country_code" and c.op == "eq" for c in flt.conditions()
        ):
            raise _BadRequest("filter", "include_external=true needs a country_code eq filter")
    return _ListArgs(
        limit=limit,
        offset=offset,
        order=order,
        descending=descending,
        filter=flt,
        external=external,
    )


def _field_selector(query: Mapping[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Field filtering (reference 7): comma-separated names; both at once is an error."""
    include, exclude = query.get("include_fields", ""), query.get("exclude_fields", "")
    if include.strip() and exclude.strip():
        raise _BadRequest("include_fields", "use include_fields or exclude_fields, not both")
    for name, text in (("include_fields", include), ("exclude_fields", exclude)):
        fields = {f.strip() for f in text.split(",") if f.strip()}
        if unknown := sorted(fields - DID_FIELDS):
            raise _BadRequest(name, f"unknown field {unknown[0]!r}")
        if fields:
            keep = fields if name == "include_fields" else DID_FIELDS - fields
            return lambda record: {k: v for k, v in record.items() if k in keep}
    return lambda record: record


def _sort_key(field: str) -> Callable[[tuple[int, AvailableDid]], tuple[Any, ...]]:
    def key(item: tuple[int, AvailableDid]) -> tuple[Any, ...]:
        value = getattr(item[1], field)
        return (1,) if value is None else (0, value)

    return key


class FakeCarrierX:
    """A local fake of CarrierX's available-DIDs API, with scriptable faults.

    ``inventory``, when given, replaces the generated numbers (``size`` is then ignored):
    complete wire DID dicts, served in that order, such as ``did_record(state="NY")`` builds.
    """

    def __init__(
        self,
        *,
        token: str = "test-token",
        size: int = 3000,
        seed: int = 7,
        latency: float = 0.0,
        inventory: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.token = token
        self.seed = seed
        self.latency = latency
        self._inv = _Inventory(seed, size, inventory)
        #: The available records (wire dicts), a live read-only view.
        self.inventory: Sequence[dict[str, Any]] = _InventoryView(self._inv)
        #: Every request received, in order.
        self.requests: list[RecordedRequest] = []
        self._faults: list[_Pending] = []
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """The API root to give a client, e.g. ``http://127.0.0.1:PORT/core/v2``."""
        if self._base_url is None:
            raise RuntimeError("FakeCarrierX is not running; use 'async with' or start()")
        return self._base_url

    async def start(self) -> None:
        """Start serving on 127.0.0.1 on a free port."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get(_BASE_PATH + "/phonenumber/available_dids", self._handle_list)
        app.router.add_get(_BASE_PATH + "/dids/inventory", self._handle_list)
        app.router.add_get(_BASE_PATH + "/phonenumber/available_dids/{did_sid}", self._handle_one)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.25
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._base_url = f"http://{host}:{port}{_BASE_PATH}"

    async def close(self) -> None:
        """Stop serving; in-flight requests are cut off."""
        runner, self._runner, self._base_url = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def add_fault(self, fault: Fault, *, times: int = 1, path: str | None = None) -> None:
        """Apply ``fault`` to the next ``times`` requests (to ``path`` only, if given)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(_Pending(fault, times, path))

    def remove(self, *did_sids: str) -> int:
        """Take numbers out of the inventory (as if rented); returns how many were there."""
        found = [i for sid in did_sids if (i := self._inv.find(sid)) is not None]
        for i in found:
            self._inv.remove(i)
        return len(found)

    # -- internals ------------------------------------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        for pending in self._faults:
            if pending.path is None or path in (pending.path, _BASE_PATH + pending.path):
                pending.times -= 1
                if pending.times == 0:
                    self._faults.remove(pending)
                return pending.fault
        return None

    async def _begin(self, request: web.Request) -> tuple[Fault | None, bool]:
        """Record the request, take its fault, apply latency."""
        fault = self._take_fault(request.path)
        authorized = request.headers.get("Authorization") == f"Bearer {self.token}"
        headers = CIMultiDict(request.headers)
        if "Authorization" in headers:
            headers["Authorization"] = "<redacted>"
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=MultiDictProxy(MultiDict(request.query)),
                headers=CIMultiDictProxy(headers),
                authorized=authorized,
                fault=fault,
            )
        )
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if isinstance(fault, Delay):
            await asyncio.sleep(fault.seconds)
        return fault, authorized

    async def _handle_list(self, request: web.Request) -> web.StreamResponse:
        fault, authorized = await self._begin(request)
        if (early := self._early(request, fault)) is not None:
            return early
        try:
            if not authorized:
                return self._unauthorized()
            args = _list_args(request.query)
            select = _field_selector(request.query)
        except _BadRequest as exc:
            return self._bad_request(exc)
        if isinstance(fault, Stuck):
            args = attrs.evolve(args, offset=0)
        if isinstance(fault, EmptyHasMore):
            items: list[dict[str, Any]] = []
            has_more = True
        else:
            items, has_more = self._page(args)
        count = len(items)
        pagination: dict[str, str] = {}
        if has_more:
            next_url = request.url.update_query(offset=str(args.offset + count))
            pagination["next"] = str(next_url)
            if isinstance(fault, ForeignNext):
                pagination["next"] = fault.origin.rstrip("/") + next_url.raw_path_qs
        envelope = {
            "count": count,
            "has_more": has_more,
            "items": [select(r) for r in items],
            "limit": args.limit,
            "offset": args.offset,
            "pagination": pagination,
            "total": None,  # always null on available_dids (4.5)
        }
        if isinstance(fault, Churn):
            removed, _ = self._select(attrs.evolve(args, offset=0, limit=fault.remove))
            for i in removed:
                self._inv.remove(i)
        return await self._send(request, fault, 200, json.dumps(envelope).encode())

    async def _handle_one(self, request: web.Request) -> web.StreamResponse:
        fault, authorized = await self._begin(request)
        if (early := self._early(request, fault)) is not None:
            return early
        try:
            if not authorized:
                return self._unauthorized()
            select = _field_selector(request.query)
        except _BadRequest as exc:
            return self._bad_request(exc)
        i = self._inv.find(request.match_info["did_sid"])
        if i is None:
            body = _error_body("not found", "did_sid", "Cannot find item by SID")
            return await self._send(request, fault, 404, body)
        return await self._send(request, fault, 200, json.dumps(select(self._inv.wire(i))).encode())

    async def _handle_unknown(self, request: web.Request) -> web.StreamResponse:
        fault, _ = await self._begin(request)
        if (early := self._early(request, fault)) is not None:
            return early
        return await self._send(request, fault, 404, _error_body("not found", None))

    def _unauthorized(self) -> web.Response:
        body = _error_body("authentication required", None, "bad credentials")
        return web.Response(status=401, body=body, content_type="application/json")

    def _bad_request(self, exc: _BadRequest) -> web.Response:
        body = _error_body("invalid query argument", exc.field, exc.message)
        return web.Response(status=400, body=body, content_type="application/json")

    def _early(self, request: web.Request, fault: Fault | None) -> web.StreamResponse | None:
        """Faults that replace the response entirely."""
        match fault:
            case Status(status=status, retry_after=retry_after, message=message):
                headers = {} if retry_after is None else {"Retry-After": retry_after}
                return web.Response(
                    status=status,
                    body=_error_body(message),
                    content_type="application/json",
                    headers=headers,
                )
            case MalformedJson(body=body):
                return web.Response(status=200, body=body, content_type="application/json")
            case HtmlPage(status=status):
                html = f"<html><body><h1>{status} {HTTPStatus(status).phrase}</h1></body></html>"
                return web.Response(status=status, text=html, content_type="text/html")
            case Raw(body=body, status=status, content_type=content_type):
                return web.Response(status=status, body=body, content_type=content_type)
            case Disconnect():
                if request.transport is not None:
                    request.transport.close()
                return web.Response()  # aiohttp drops it: the transport is gone
        return None

    async def _send(
        self, request: web.Request, fault: Fault | None, status: int, body: bytes
    ) -> web.StreamResponse:
        """Deliver a JSON body, as the transport faults dictate."""
        if not isinstance(fault, SlowDrip | Truncated | Reset):
            return web.Response(status=status, body=body, content_type="application/json")
        response = web.StreamResponse(status=status)
        response.content_type = "application/json"
        response.content_length = len(body)
        await response.prepare(request)
        if isinstance(fault, SlowDrip):
            for start in range(0, len(body), max(1, fault.chunk_size)):
                await asyncio.sleep(fault.interval)
                await response.write(body[start : start + max(1, fault.chunk_size)])
            await response.write_eof()
            return response
        await response.write(body[: int(len(body) * fault.fraction)])
        transport = request.transport
        if transport is not None:
            if isinstance(fault, Reset):
                await asyncio.sleep(0.01)  # let the client read the headers first
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                transport.abort()
            else:
                transport.close()
        return response  # aiohttp's write_eof then fails quietly: the transport is gone

    def _page(self, args: _ListArgs) -> tuple[list[dict[str, Any]], bool]:
        """The page's wire dicts and has_more, with external numbers if asked (4.1)."""
        indices, has_more = self._select(args)
        items = [self._inv.wire(i) for i in indices]
        if args.external and args.filter is not None and len(items) < args.limit:
            external = self._external(args.filter, min(args.limit - len(items), _EXTERNAL_MAX))
            items += external
            has_more = has_more or bool(external)
        return items, has_more

    def _select(self, args: _ListArgs) -> tuple[list[int], bool]:
        """Base indices of the page at args.offset, and whether more follow."""
        start, stop = args.offset, args.offset + args.limit
        inv = self._inv
        if args.filter is None and args.order is None:
            end = min(stop, len(inv))
            return [inv.nth(k) for k in range(start, end)], stop < len(inv)
        flt = args.filter
        candidates: Iterator[tuple[int, AvailableDid]] = (
            (i, inv.did(i)) for i in inv.indices(shuffle=args.order == "shuffle")
        )
        if flt is not None:
            candidates = (c for c in candidates if flt.matches(c[1], near=_near))
        if args.order is None or args.order == "shuffle":
            picked = list(itertools.islice(candidates, stop + 1))
        elif args.descending:
            picked = heapq.nlargest(stop + 1, candidates, key=_sort_key(args.order))
        else:
            picked = heapq.nsmallest(stop + 1, candidates, key=_sort_key(args.order))
        return [i for i, _ in picked[start:stop]], len(picked) > stop

    def _external(self, flt: Filter, need: int) -> list[dict[str, Any]]:
        """Deterministic external-provider numbers that match ``flt``, best effort."""
        countries = {str(c.value) for c in flt.conditions() if c.field == "country_code"}
        places = [
            (loc, a) for loc in _LOCALITIES if loc.country in countries for a in loc.area_codes
        ]
        found: list[dict[str, Any]] = []
        if not places:
            return found
        for j in range(_EXTERNAL_TRIES):
            d = _digest(self.seed, "external", flt, j)
            loc, area = places[d % len(places)]
            d //= len(places)
            sid = f"{EXTERNAL_SID_PREFIX}0000-4000-8000-{d & 0xFFFFFFFFFFFF:012x}"
            record = _record(
                did_sid=sid, loc=loc, area=area, serial=d >> 48, draw=d >> 96, external=True
            )
            if flt.matches(decode_did(record), near=_near):
                found.append(record)
                if len(found) == need:
                    break
        return found
