"""Decoding: JSON bytes -> models, through the one cattrs converter built here.

Lenient by default (unknown keys ignored, API reference 8.1 "accept unknown extra
keys"); tests build a strict converter with ``forbid_extra_keys=True`` so a new API
field is noticed. Errors name the record and the field that failed.

Speed (benchmarks/README.md): JSON is parsed by orjson. A page of records is structured
with no Python code run per record: each kind of field is type-checked in one C-level
pass over the page, capabilities and prices come from small caches, and each instance's
``__dict__`` is its JSON object with the typed values swapped in (what the attrs ``__init__``
does, minus 27 keyword arguments and a copy; the model is frozen but not slotted for this).
``decode_dids`` therefore takes ownership of the dicts it is given.
A page the fast path cannot vouch for is decoded again record by record by cattrs with
detailed validation, which accepts exactly what it accepted before and raises the
precise error. Records of a page share one ``present_fields`` set when they have the
same fields, as they do in practice; nested ``attributes``/``transformations`` are the
parsed objects themselves, not copies.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, Final

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn

from ._errors import ResponseDecodeError
from ._models import DID_FIELDS, AvailableDid, Capability, Page

__all__ = [
    "decode_did",
    "decode_dids",
    "decode_envelope",
    "decode_json",
    "decode_page",
    "excerpt",
    "make_converter",
]

_EXCERPT: Final = 120


def _structure_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"expected a decimal string, got {type(value).__name__}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite decimal number: {value!r}")
    return result


def _structure_capability(value: Any, _: type) -> Capability:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer bitmask, got {type(value).__name__}")
    return Capability(value)


def _structure_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def make_converter(*, forbid_extra_keys: bool = False) -> cattrs.Converter:
    """Build the converter for this API's models (never touches cattrs' global one)."""
    conv = _Converter(forbid_extra_keys=forbid_extra_keys)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(Capability, _structure_capability)
    conv.register_structure_hook(str, _structure_str)
    did_fn = make_dict_structure_fn(
        AvailableDid,
        conv,
        _cattrs_forbid_extra_keys=forbid_extra_keys,
        present_fields=cattrs.gen.override(omit=True),
    )

    def structure_did(value: Any, _: type) -> AvailableDid:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        did = did_fn(value, AvailableDid)
        object.__setattr__(did, "present_fields", DID_FIELDS.intersection(value))
        return did

    conv.register_structure_hook(AvailableDid, structure_did)
    conv.page_decoder = _PageDecoder(forbid_extra_keys=forbid_extra_keys) if _FAST else None
    return conv


# --- the per-page fast path --------------------------------------------------------------

_STR: Final = frozenset({str, type(None)})
_INT: Final = frozenset({int, type(None)})
_DICT: Final = frozenset({dict, type(None)})
_LIST: Final = frozenset({list, type(None)})
_DICT_ONLY: Final = frozenset({dict})
# Every bitmask of the five documented bits (reference 8.2); other values take the slow path.
_CAPABILITIES: Final[dict[Any, Capability | None]] = {
    **{value: Capability(value) for value in range(32)},
    None: None,
}
_PRICES_MAX: Final = 4096
_KINDS: Final = {
    "active_capabilities": "capability",
    "capabilities": "capability",
    "price": "decimal",
    "attributes": "dict",
    "transformations": "list",
}


def _fast_path_possible() -> bool:
    """The model is what the fast path assumes: a plain __dict__, plain fields, no init logic."""
    fields = attrs.fields(AvailableDid)
    return (
        "__slots__" not in vars(AvailableDid)
        and not hasattr(AvailableDid, "__attrs_pre_init__")
        and not hasattr(AvailableDid, "__attrs_post_init__")
        and all(a.validator is None and a.converter is None and a.init for a in fields)
        and {a.name for a in fields} == {"present_fields", *DID_FIELDS}
        and set(_KINDS) <= DID_FIELDS
    )


class _Fallback(Exception):
    """The fast path cannot vouch for this page: decode it record by record."""


def _picker(keys: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """``itemgetter(*keys)`` that always returns a tuple, even of one or no item."""
    if len(keys) > 1:
        return itemgetter(*keys)
    if keys:
        (only,) = keys
        return lambda obj: (obj[only],)
    return lambda obj: ()


class _Shape:
    """How to check and complete records that carry one set of fields, prepared once."""

    def __init__(self, present: frozenset[str]) -> None:
        names = sorted(present)

        def of(kind: str) -> list[str]:
            return [n for n in names if _KINDS.get(n, "str") == kind]

        self.present = present
        self.strs, self.dicts, self.lists = (
            _picker(of("str")),
            _picker(of("dict")),
            _picker(of("list")),
        )
        self.capabilities, self.prices = of("capability"), of("decimal")
        self.absent = sorted(DID_FIELDS - present)


class _PageDecoder:
    """Structures a whole page of DID dicts at once, or raises _Fallback.

    Each record's JSON object becomes its instance's ``__dict__``, with the typed values
    swapped in: one C-level pass per field kind, no Python code run per record. The
    objects are changed only once every check has passed, so a page that falls back to
    the precise path is seen there unchanged.
    """

    def __init__(self, *, forbid_extra_keys: bool) -> None:
        self._strict = forbid_extra_keys
        self._shapes: dict[frozenset[str], _Shape] = {DID_FIELDS: _Shape(DID_FIELDS)}
        self._prices: dict[Any, Decimal | None] = {None: None}

    def __call__(self, items: list[Any]) -> list[AvailableDid]:
        n = len(items)
        if not n:
            return []
        if not _DICT_ONLY.issuperset(map(type, items)):
            raise _Fallback
        keys = frozenset(items[0])
        if set(map(len, items)) != {len(keys)}:
            raise _Fallback  # records with different fields: rare, take the precise path
        extra = keys - DID_FIELDS
        if extra and self._strict:
            raise _Fallback  # the precise path names the unknown key
        present = keys - extra
        shape = self._shapes.get(present)
        if shape is None:
            if len(self._shapes) >= 64:
                self._shapes = {DID_FIELDS: self._shapes[DID_FIELDS]}
            shape = self._shapes[present] = _Shape(present)
        try:  # every record has as many keys as the first and all of these: the same keys
            if extra:
                deque(map(_picker(sorted(extra)), items), 0)
            lists = list(chain.from_iterable(map(shape.lists, items)))
            if not (
                _STR.issuperset(map(type, chain.from_iterable(map(shape.strs, items))))
                and _DICT.issuperset(map(type, chain.from_iterable(map(shape.dicts, items))))
                and _LIST.issuperset(map(type, lists))
                # transformations: lists of objects
                and _DICT_ONLY.issuperset(map(type, chain.from_iterable(filter(None, lists))))
            ):
                raise _Fallback
            typed_columns: list[tuple[str, list[Any]]] = [
                (name, self._capabilities(list(map(itemgetter(name), items))))
                for name in shape.capabilities
            ]
            typed_columns += [
                (name, self._decimals(list(map(itemgetter(name), items)))) for name in shape.prices
            ]
        except KeyError:
            raise _Fallback from None
        # Every check has passed: from here on nothing fails, and the JSON objects are
        # taken over as the instances' __dict__ (the caller parsed them for this).
        records = items
        put = dict.__setitem__
        for name, column in typed_columns:
            deque(map(put, records, repeat(name), column), 0)
        for name in extra:
            deque(map(dict.__delitem__, records, repeat(name)), 0)
        for name in shape.absent:
            deque(map(put, records, repeat(name), repeat(None, n)), 0)
        deque(map(put, records, repeat("present_fields"), repeat(shape.present, n)), 0)
        dids: list[AvailableDid] = list(map(object.__new__, repeat(AvailableDid, n)))
        deque(map(object.__setattr__, dids, repeat("__dict__"), records), 0)
        return dids

    @staticmethod
    def _capabilities(col: list[Any]) -> list[Capability | None]:
        """Bitmasks as Capability, from a table of the 32 documented values."""
        if not _INT.issuperset(map(type, col)):
            raise _Fallback
        try:
            return list(map(_CAPABILITIES.__getitem__, col))
        except KeyError:
            raise _Fallback from None

    def _decimals(self, col: Sequence[Any]) -> list[Decimal | None]:
        """Prices as Decimal, each distinct string parsed once (most pages have few)."""
        if not _STR.issuperset(map(type, col)):
            raise _Fallback
        prices = self._prices
        new = set(col).difference(prices)
        if new:
            if len(prices) + len(new) > _PRICES_MAX:
                prices.clear()
                prices[None] = None
                new = set(col).difference(prices)
            for text in new:
                prices[text] = _structure_decimal(text, Decimal)
        return list(map(prices.__getitem__, col))


class _Converter(cattrs.Converter):
    """A cattrs Converter that also carries its page-at-once decoder."""

    __slots__ = ("page_decoder",)
    page_decoder: _PageDecoder | None


_FAST: Final = _fast_path_possible()
_CONVERTER: Final = make_converter()


def excerpt(body: bytes, limit: int = _EXCERPT) -> str:
    """The start of a body as text, for error messages."""
    return body[:limit].decode("utf-8", "replace")


def decode_json(body: bytes, *, status: int = 200) -> Any:
    """Parse a JSON body or raise ResponseDecodeError with a short excerpt."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ResponseDecodeError(
            f"malformed JSON ({exc})", status=status, excerpt=excerpt(body)
        ) from None


def _describe_cattrs_error(exc: Exception) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc, path="record"))
    return str(exc)


def decode_did(
    obj: Any,
    *,
    status: int = 200,
    index: int | None = None,
    converter: cattrs.Converter | None = None,
) -> AvailableDid:
    """Structure one DID object; errors say which record and field failed."""
    conv = converter or _CONVERTER
    try:
        return conv.structure(obj, AvailableDid)
    except Exception as exc:
        where = "DID object" if index is None else f"items[{index}]"
        sid = obj.get("did_sid") if isinstance(obj, dict) else None
        ident = f" (did_sid {sid})" if isinstance(sid, str) else ""
        raise ResponseDecodeError(
            f"{where}{ident} is not a valid DID: {_describe_cattrs_error(exc)}", status=status
        ) from None


def _optional_int(envelope: dict[str, Any], key: str, status: int) -> int | None:
    value = envelope.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ResponseDecodeError(f"envelope field {key!r} is not an integer", status=status)
    return value


def decode_envelope(obj: Any, *, status: int = 200) -> tuple[list[Any], Page[Any]]:
    """Check the list envelope; return raw items and a Page without items."""
    if not isinstance(obj, dict):
        raise ResponseDecodeError("expected a JSON object with 'items'", status=status)
    items = obj.get("items")
    if not isinstance(items, list):
        raise ResponseDecodeError("the list envelope has no 'items' array", status=status)
    has_more = obj.get("has_more", False)
    if not isinstance(has_more, bool):
        raise ResponseDecodeError("envelope field 'has_more' is not a boolean", status=status)
    count = _optional_int(obj, "count", status)
    pagination = obj.get("pagination")
    next_url = pagination.get("next") if isinstance(pagination, dict) else None
    page: Page[Any] = Page(
        items=[],
        count=len(items) if count is None else count,
        has_more=has_more,
        limit=_optional_int(obj, "limit", status),
        offset=_optional_int(obj, "offset", status),
        total=_optional_int(obj, "total", status),
        next_url=next_url if isinstance(next_url, str) else None,
    )
    return items, page


def decode_dids(
    items: list[Any], *, status: int = 200, converter: cattrs.Converter | None = None
) -> list[AvailableDid]:
    """Structure one page's raw records (taking over the dicts); errors name record and field."""
    conv = converter or _CONVERTER
    fast = conv.page_decoder if isinstance(conv, _Converter) else None
    if fast is not None:
        try:
            return fast(items)
        except (_Fallback, ValueError, TypeError):
            pass  # the precise path below decides, and names the record and field
    return [
        decode_did(item, status=status, index=i, converter=conv) for i, item in enumerate(items)
    ]


def decode_page(
    body: bytes, *, status: int = 200, converter: cattrs.Converter | None = None
) -> Page[AvailableDid]:
    """Decode a list response body into a Page of AvailableDid."""
    items, page = decode_envelope(decode_json(body, status=status), status=status)
    return page.with_items(decode_dids(items, status=status, converter=converter))
