"""Decoding: JSON bytes -> list envelopes and records, every decoder derived from the model.

The wire schema is ``AvailableDid``'s annotations (``_models.DID_TYPES``): msgspec parses
a typed page into them (prices and bitmasks as text and bounded ints, converted by table:
msgspec's Decimal and IntFlag decoding costs more than the parse), ``msgspec.convert`` of
the same types checks one record. ``.dicts()`` keeps values as sent; both modes check the
envelope and that items are objects. A body the fast decoder refuses is parsed as plain
JSON and checked record by record (``explain``): errors name the record and the field.
Limits, the same on every Python: ``MAX_DEPTH`` levels of nesting; one object or array
per ``BYTES_PER_CONTAINER`` bytes; a body over ``WHOLE_MAX`` not cut into pieces at record
boundaries (``slices``) is refused rather than parsed in one long hold. Pure.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from itertools import chain, compress, repeat
from operator import itemgetter, setitem
from types import GenericAlias
from typing import Any, Final, Required, TypedDict, cast

import msgspec

from ._errors import ResponseDecodeError
from ._models import DID_FIELDS, DID_TYPES, AvailableDid, Capability, Page

__all__ = ["decode_did", "decode_dids", "decode_envelope", "decode_json", "decode_page"]

_EXCERPT: Final = 120
#: Nesting levels a document may have (the envelope is one, its items two, a record three).
MAX_DEPTH: Final = 256
#: At most one JSON object or array per this many bytes of a body.
BYTES_PER_CONTAINER: Final = 8
#: Bytes of records per piece of a big body: a page of 1000 records (~600 KB) is five.
SLICE_BYTES: Final = 128 * 1024
#: The biggest body parsed in one piece when it cannot be cut.
WHOLE_MAX: Final = 2 * 1024 * 1024

_typed_dict: Final = cast("Callable[..., Any]", TypedDict)
RECORD: Final = _typed_dict("DidRecord", DID_TYPES, total=False)


class _Prices(dict[Any, Decimal | None]):
    """Price text -> finite Decimal, each distinct string parsed once (a Decimal is itself)."""

    def __missing__(self, text: Any) -> Decimal:
        price = text if isinstance(text, Decimal) else Decimal(text)  # text: msgspec's str
        if not price.is_finite():
            raise ValueError(text)
        if len(self) < 4096 and type(text) is str:
            self[text] = price
        return price


#: Types msgspec decodes slowly, parsed on the wire as cheaper ones and converted by a
#: table afterwards: (wire type, the table).
_BITS: Final[dict[Any, Capability | None]] = {None: None, **{v: Capability(v) for v in range(32)}}
_CHEAPER: Final[dict[Any, Any]] = {Decimal: (str, _Prices({None: None})), Capability: (int, _BITS)}
_KIND: Final = {n: t.__args__[0] for n, t in DID_TYPES.items()}  # each type is "X | None"
_CONVERT: Final = [(n, _CHEAPER[k][1]) for n, k in _KIND.items() if k in _CHEAPER]
_WIRE: Final = _typed_dict(
    "DidWire", {n: _CHEAPER.get(k, (k,))[0] | None for n, k in _KIND.items()}, total=False
)
_NESTED: Final = [n for n, k in _KIND.items() if getattr(k, "__origin__", k) in (dict, list)]


def _envelope(item: Any) -> Any:
    fields = {"items": Required[GenericAlias(list, item)], "has_more": bool, "pagination": Any}
    ints = dict.fromkeys(("count", "limit", "offset", "total"), int | None)
    return _typed_dict("Envelope", fields | ints, total=False)


#: (typed, whole body) -> the decoder of a body or of a run of records cut from one.
DECODERS: Final = {
    (typed, whole): msgspec.json.Decoder(_envelope(item) if whole else GenericAlias(list, item))
    for typed, item in ((True, _WIRE), (False, dict[str, Any]))
    for whole in (True, False)
}
_PLAIN: Final = msgspec.json.Decoder()
_CONTAINERS: Final = frozenset({dict, list})


def excerpt(body: bytes, limit: int = _EXCERPT) -> str:  # the start of a body as text
    return body[:limit].decode("utf-8", "replace")


def _error(message: str, status: int, body: bytes = b"") -> ResponseDecodeError:
    return ResponseDecodeError(message, status=status, excerpt=excerpt(body) if body else "")


def decode_json(body: bytes, *, status: int = 200) -> Any:
    """Plain JSON (an error body's, or one the fast decoder refused), or ResponseDecodeError."""
    if len(body) > WHOLE_MAX:
        why = "parsing it in one piece would hold the event loop too long"
        raise _error(f"a body over {WHOLE_MAX} bytes not cut at records: {why}", status, body)
    try:
        return _PLAIN.decode(body)
    except msgspec.DecodeError as exc:
        raise _error(f"malformed JSON ({exc})", status, body) from None
    except RecursionError:
        raise _error(f"JSON nested deeper than {MAX_DEPTH} levels", status, body) from None


def parse(doc: bytes, *, typed: bool, whole: bool = True) -> Any | None:
    """A body (or a run of records ``slices`` cut) through the fast decoder, or None when
    it refuses it or the records break a limit (``check_page``)."""
    try:
        data = DECODERS[typed, whole].decode(doc)
    except (msgspec.DecodeError, RecursionError):
        return None
    items = data["items"] if whole else data
    return data if check_page(items, len(doc), typed=typed) is None else None


def check_page(items: list[Any], size: int, *, typed: bool) -> str | None:
    """Why parsed records break a limit (nesting, objects per byte, a price that is not a
    finite number), or None. Walks only the values that can nest."""
    if typed:
        full = set(map(len, items)) <= {_FULL}
        for name, table in _CONVERT:  # typed values, by table (taking over the dicts)
            have = items if full else [r for r in items if name in r]
            try:
                column = list(map(table.__getitem__, map(itemgetter(name), have)))
            except (KeyError, ValueError, ArithmeticError):
                return f"{name}: not a value of its type"
            deque(map(setitem, have, repeat(name), column), 0)
        level = [v for n in _NESTED for v in filter(None, map(dict.get, items, repeat(n)))]
    else:
        values = list(filter(None, chain.from_iterable(map(dict.values, items))))
        level = list(compress(values, map(_CONTAINERS.__contains__, map(type, values))))
    depth, budget = 4, size // BYTES_PER_CONTAINER + 4096 - len(items)  # 4096: a short body's
    while level:
        budget -= len(level)
        if budget < 0:
            return f"more than one JSON object or array per {BYTES_PER_CONTAINER} bytes"
        if depth > MAX_DEPTH:
            return f"JSON nested deeper than {MAX_DEPTH} levels"
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) in _CONTAINERS
        ]
        depth += 1
    return None


_FULL: Final = len(DID_FIELDS)


def _describe(exc: Exception) -> str:
    """A msgspec error as ``what @ record.path``."""
    what, _, path = str(exc).rpartition(" - at `$")
    return f"{what} @ record{path.rstrip('`')}" if what else str(exc)


def decode_did(
    obj: Any, *, status: int = 200, index: int | None = None, strict: bool = False
) -> AvailableDid:
    """One DID object; errors name the record (``did_sid``) and the field. ``strict``: a key
    the model does not know is an error (tests use it to notice a new API field)."""
    return as_dids(complete([_record(obj, status, index, strict)]))[0]


def _record(obj: Any, status: int, index: int | None, strict: bool) -> dict[str, Any]:
    try:
        record: dict[str, Any] = msgspec.convert(obj, RECORD)
        if record.get("price") is not None and not record["price"].is_finite():
            raise ValueError("not a finite number @ record.price")
        if strict and not DID_FIELDS.issuperset(obj):
            raise ValueError(
                f"a field the model does not know @ record.{min(set(obj) - DID_FIELDS)}"
            )
    except (msgspec.ValidationError, ValueError) as exc:
        where = "DID object" if index is None else f"items[{index}]"
        sid = obj.get("did_sid") if isinstance(obj, dict) else None
        ident = f" (did_sid {sid})" if isinstance(sid, str) else ""
        raise _error(f"{where}{ident} is not a valid DID: {_describe(exc)}", status) from None
    return record


def explain(body: bytes, *, typed: bool, status: int = 200, strict: bool = False) -> Any:
    """A body the fast decoder refused, parsed and checked record by record: the precise
    error, or the page when plain JSON accepts what the single pass refused."""
    data = decode_json(body, status=status)
    items, _ = decode_envelope(data, status=status)
    why = check_page(items, len(body), typed=False)
    if why is not None:
        raise _error(why, status, body)
    if typed:
        data["items"] = [_record(item, status, i, strict) for i, item in enumerate(items)]
    return data


def decode_envelope(obj: Any, *, status: int = 200) -> tuple[list[Any], Page[Any]]:
    """Check the list envelope and that each item is an object; the items and a Page
    without items."""
    if not isinstance(obj, dict):
        raise _error("expected a JSON object with 'items'", status)
    items = obj.get("items")
    if not isinstance(items, list):
        raise _error("the list envelope has no 'items' array", status)
    if not {dict}.issuperset(map(type, items)):
        index = next(i for i, item in enumerate(items) if type(item) is not dict)
        raise _error(f"items[{index}] is not a JSON object", status)
    has_more = obj.get("has_more", False)
    if not isinstance(has_more, bool):
        raise _error("envelope field 'has_more' is not a boolean", status)
    ints = obj.get("count"), obj.get("limit"), obj.get("offset"), obj.get("total")
    for key, value in zip(("count", "limit", "offset", "total"), ints, strict=True):
        if value is not None and type(value) is not int:
            raise _error(f"envelope field {key!r} is not an integer", status)
    count, limit, offset, total = ints
    pagination = obj.get("pagination")
    next_url = pagination.get("next") if isinstance(pagination, dict) else None
    page: Page[Any] = Page(
        items=[],
        count=len(items) if count is None else count,
        has_more=has_more,
        limit=limit,
        offset=offset,
        total=total,
        next_url=next_url if isinstance(next_url, str) else None,
    )
    return items, page


def complete(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Typed records as their instances' ``__dict__``: absent fields None, and which fields
    were sent (``present_fields``). Takes over the dicts."""
    if set(map(len, records)) <= {_FULL}:  # every field sent: one C-level pass
        deque(map(setitem, records, repeat("present_fields"), repeat(DID_FIELDS)), 0)
        return records
    for record in records:
        present = frozenset(record)
        if len(present) < _FULL:
            record.update(dict.fromkeys(DID_FIELDS - present))
        record["present_fields"] = present
    return records


_new: Final = object.__new__
# The instances' __dict__ descriptor, called directly: a little cheaper than setattr.
_set_dict: Final[Callable[[AvailableDid, dict[str, Any]], None]] = vars(AvailableDid)[
    "__dict__"
].__set__


def as_dids(records: list[dict[str, Any]]) -> list[AvailableDid]:
    """The AvailableDid whose ``__dict__`` is each completed record, uncopied."""
    dids: list[AvailableDid] = list(map(_new, repeat(AvailableDid, len(records))))
    deque(map(_set_dict, dids, records), 0)
    return dids


def decode_dids(items: list[Any], *, status: int = 200, strict: bool = False) -> list[AvailableDid]:
    """Raw records -> AvailableDid, each checked on its own (errors name record and field)."""
    return [decode_did(item, status=status, index=i, strict=strict) for i, item in enumerate(items)]


def decode_page(body: bytes, *, status: int = 200, strict: bool = False) -> Page[AvailableDid]:
    """A list response body -> a Page of AvailableDid (parsed whole)."""
    data = None if strict else parse(body, typed=True)
    if data is None:
        data = explain(body, typed=True, status=status, strict=strict)
    items, page = decode_envelope(data, status=status)
    return page.with_items(as_dids(complete(items)))


# -- the cut: a big body as small documents (the envelope, then runs of records) ---------

_ITEMS: Final = re.compile(rb'"items"\s*:\s*\[')
_SEPARATOR: Final = re.compile(rb"\}\s*,\s*\{")


def slices(body: bytes, size: int = SLICE_BYTES) -> list[bytes] | None:
    """The envelope (``items: []``), then ``[run]``s of records, or None. Whatever parses
    them, they join to the body's JSON when all parse: ``"items": [`` is the only ``{``/``[``
    before the records; a run cut inside a string or nested array does not parse; the last
    ``]`` closes the array, and ``join`` checks the envelope's ``items`` is still []."""
    if len(body) < 2 * size:
        return None
    key = body.find(b'"items"')
    match = _ITEMS.match(body, key) if key >= 0 else None
    end = body.rfind(b"]")
    if match is None or end < match.end():
        return None
    start = match.end()
    head = body[:start]
    if head.count(b"{") != 1 or head.count(b"[") != 1:
        return None
    docs = [head + body[end:]]
    run = start
    while (cut := _SEPARATOR.search(body, run + size, end)) is not None:
        docs.append(b"".join((b"[", body[run : cut.start() + 1], b"]")))
        run = cut.end() - 1
    if len(docs) == 1:
        return None
    docs.append(b"".join((b"[", body[run:end], b"]")))
    return docs


def join(envelope: Any, runs: list[list[Any]]) -> Any | None:
    """The body's JSON from its parsed pieces, or None if they do not fit."""
    if type(envelope) is not dict or envelope.get("items") != []:
        return None
    envelope["items"] = list(chain.from_iterable(runs))
    return envelope
