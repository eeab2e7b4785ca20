"""A fake CarrierX Core API v2 server for tests: ``async with FakeCarrierX() as fake: ...``.

It is a real ``aiohttp.web`` app on 127.0.0.1 serving "Browse Available DIDs" from a
deterministic synthetic inventory, with scriptable faults
(``fake.add_fault(Status(503, retry_after="2"))``). Every request is recorded in
``fake.requests`` with the Authorization value redacted.

Simulated as documented:
- routes ``GET /phonenumber/available_dids``, its deprecated alias ``GET /dids/inventory``
  and ``GET /phonenumber/available_dids/{did_sid}``; Bearer auth;
- the list envelope with ``total: null`` and an absolute ``pagination.next``;
- ``limit``/``offset``/``order``/``filter``/``include_fields``/``exclude_fields``;
- DID objects with every documented attribute, ``status: "available"``, owner fields null,
  ``active_capabilities`` = 4 if voice else 0 (messaging disabled);
- ``include_external=true``: offset must be 0 and the filter must hold a ``country_code``
  condition (else 400); internal numbers first (up to ``limit``) and, when they fall short
  of ``limit``, up to 10 external ones after them, so a page can hold ``limit + 10``.

Written from the API reference, not from the client: the fake has its own filter parser
and evaluator, record checks and field filtering, and imports nothing private from
``carrierx_async``, so a mistake the client makes is one the fake can disagree with.

Assumptions, where the API documentation is silent:
- ``limit`` outside 1..1000, a bad ``offset``/``order``/field name, or both
  ``include_fields`` and ``exclude_fields`` -> 400; the error body is
  ``{"message", "errors": [{"field", "message", "reference_sid"}]}``. Unknown
  query arguments are ignored. Only Bearer auth is accepted (no HTTP Basic).
- ``filter``: the documented grammar (conditions joined by ``and``; bare, double- or
  single-quoted values) over the DID fields, ``attributes.<key>`` and the virtual keys
  ``npa``/``npa_nxx``; ``eq ne lt le gt ge`` on every field, ``like`` on text, ``bit`` on
  the bitmasks, ``nearby`` on ``phonenumber``. Anything else (``or``, ``not``, parentheses,
  an unknown field, a value of the wrong type) is a 400. Text compares by code point,
  case-sensitively; ``price`` as a number; ``like`` is SQL LIKE (``%``, ``_``); ``bit m``
  means all of m's bits; a null field matches no condition; ``attributes.<key>`` compares
  as text; ``npa``/``npa_nxx`` exist only on 11-digit numbers starting with 1.
- ``nearby``: ``npa:`` means the number's area code; ``zip:``/``latlng:`` mean the
  number's locality lies within ``NEARBY_KM`` of the point. Results keep inventory order.
- ``order``: nulls sort last ascending and first descending; ties keep inventory order;
  ``shuffle`` is a fixed permutation per seed.
- ``include_external=true`` does not enforce the (unretrieved) field/operator
  whitelist, and looks external numbers up only when the internal ones fall short.
  External numbers have ``classification_sid == EXTERNAL_CLASSIFICATION_SID``
  and a did_sid starting ``EXTERNAL_SID_PREFIX``; they are not in the inventory (the
  by-SID route answers 404). ``has_more`` is true when more internal matches exist or
  external numbers were added, and then ``pagination.next`` is set: clients must ignore both.

Faults (``add_fault(fault, times=1, path=None)``) are consumed by the next matching requests
in order, before authentication, and are recorded on ``RecordedRequest.fault``: ``Status``,
``Raw``, ``MalformedJson``, ``HtmlPage``, ``Disconnect`` replace the answer; ``Delay`` holds
it; ``SlowDrip``, ``Truncated``, ``Reset`` change how the real body travels;
``ForeignNext``, ``Stuck``, ``EmptyHasMore``, ``Churn`` change a list page or the inventory.
``Churn(remove=, add=, at=, seed=)`` rents and adds numbers after serving a request, like
other customers between two requests of a walk: at the front of the result set, at seeded
random places within the part served so far, or anywhere. ``fake.remove(*sids)`` and
``fake.add(*records, at=None)`` change the inventory by hand; adding numbers to a generated
inventory holds it in memory from then on.

Your own inventory: ``FakeCarrierX(inventory=[did_record(state="NY", price="0.5"), ...])``
serves exactly those records, in that order. ``did_record(**fields)`` builds one complete DID
object (every documented field) from a few overrides; any full wire dict is accepted too.
Defaults: ``status: "available"``, owner fields null, a NEW YORK, NY number (USA) with
``in_country_format``/``international_format`` derived from ``phonenumber``,
``capabilities`` 7 with ``active_capabilities`` to match (4 if voice else 0), price "0.6".
``did_sid`` and ``phonenumber``, unless given, come from a process-wide counter: unique
per call and the same for the same order of calls (pass them to pin them). An unknown
keyword is a TypeError naming the valid fields; a value of the wrong type for its field
(text or null, a bitmask 0..31, a price as decimal text, ``attributes`` an object,
``transformations`` a list of objects), or one JSON cannot carry, is a ValueError; so is
such a record in ``inventory=``.

Record ``i`` of a generated inventory is a pure function of ``(seed, i)``. Up to
``EAGER_SIZE`` records are built once at construction; larger inventories are generated
on demand, so an unfiltered page at any offset is cheap. An ordered request walks the
inventory sorted by that field (sorted on first use, again after numbers are added) and
stops once its page is full; a bound on the order field (``phonenumber gt <key>`` in
``phonenumber`` order: a keyset seek) starts the walk by bisection. Edit records only
before serving them: the sorted order does not see later edits.
"""

from __future__ import annotations

from .faults import (
    Churn,
    Delay,
    Disconnect,
    EmptyHasMore,
    Fault,
    ForeignNext,
    HtmlPage,
    MalformedJson,
    Raw,
    Reset,
    SlowDrip,
    Status,
    Stuck,
    Truncated,
)
from .geography import NEARBY_KM
from .inventory import (
    DEFAULT_CLASSIFICATION_SID,
    EAGER_SIZE,
    EXTERNAL_CLASSIFICATION_SID,
    EXTERNAL_SID_PREFIX,
    MAX_SIZE,
)
from .records import did_record
from .server import FakeCarrierX, RecordedRequest

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
