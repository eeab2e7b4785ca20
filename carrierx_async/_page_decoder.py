"""The page-at-once fast path of decoding: a page of DID dicts -> records, or Fallback.

Each kind of field is type-checked in one C-level pass over the page; capabilities and
prices come from small caches; each record's JSON object, with the typed values swapped
in, becomes its instance's ``__dict__``. ``_convert`` falls back to cattrs, record by
record, for any page this module declines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from itertools import chain, repeat
from operator import delitem, getitem, itemgetter, setitem
from typing import Any, Final

import attrs

from ._models import DID_FIELDS, AvailableDid, Capability

__all__ = ["Fallback", "PageDecoder", "as_did", "as_dids", "fast_path_possible", "parse_decimal"]


def parse_decimal(value: Any) -> Decimal:
    """A JSON price as a finite Decimal, or TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"expected a decimal string, got {type(value).__name__}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite decimal number: {value!r}")
    return result


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


def fast_path_possible() -> bool:
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


class Fallback(Exception):
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
        self.strs = _picker(of("str"))  # one C-level pass over all string fields
        self.dicts, self.lists = of("dict"), of("list")
        self.capabilities, self.prices = of("capability"), of("decimal")
        self.columns = [n for n in names if n in _KINDS]
        self.absent = sorted(DID_FIELDS - present)


class PageDecoder:
    """Structures a whole page of DID dicts at once, or raises Fallback.

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
        return as_dids(self.fields(items))

    def fields(self, items: list[Any]) -> list[dict[str, Any]]:
        """The records as their instances' ``__dict__`` (see ``as_did``), or Fallback."""
        n = len(items)
        if not n:
            return []
        if not _DICT_ONLY.issuperset(map(type, items)):
            raise Fallback
        keys = frozenset(items[0])
        if set(map(len, items)) != {len(keys)}:
            raise Fallback  # records with different fields: rare, take the precise path
        extra = keys - DID_FIELDS
        if extra and self._strict:
            raise Fallback  # the precise path names the unknown key
        present = keys - extra
        shape = self._shapes.get(present)
        if shape is None:
            if len(self._shapes) >= 64:
                self._shapes = {DID_FIELDS: self._shapes[DID_FIELDS]}
            shape = self._shapes[present] = _Shape(present)
        try:  # every record has as many keys as the first and all of these: the same keys
            for name in extra:
                deque(map(getitem, items, repeat(name)), 0)
            strings_ok = _STR.issuperset(map(type, chain.from_iterable(map(shape.strs, items))))
            columns = {name: list(map(getitem, items, repeat(name))) for name in shape.columns}
        except KeyError:
            raise Fallback from None
        if not (
            strings_ok
            and all(_DICT.issuperset(map(type, columns[name])) for name in shape.dicts)
            and all(_LIST.issuperset(map(type, columns[name])) for name in shape.lists)
            and all(  # transformations: lists of objects
                _DICT_ONLY.issuperset(map(type, chain.from_iterable(filter(None, columns[name]))))
                for name in shape.lists
            )
        ):
            raise Fallback
        typed_columns: list[tuple[str, list[Any]]] = [
            (name, self._capabilities(columns[name])) for name in shape.capabilities
        ]
        typed_columns += [(name, self._decimals(columns[name])) for name in shape.prices]
        # Every check has passed: from here on nothing fails, and the JSON objects are
        # taken over as the instances' __dict__ (the caller parsed them for this).
        for name, column in typed_columns:
            deque(map(setitem, items, repeat(name), column), 0)
        for name in extra:
            deque(map(delitem, items, repeat(name)), 0)
        for name in shape.absent:
            deque(map(setitem, items, repeat(name), repeat(None, n)), 0)
        deque(map(setitem, items, repeat("present_fields"), repeat(shape.present, n)), 0)
        return items

    @staticmethod
    def _capabilities(col: list[Any]) -> list[Capability | None]:
        """Bitmasks as Capability, from a table of the 32 documented values."""
        if not _INT.issuperset(map(type, col)):
            raise Fallback
        try:
            return list(map(_CAPABILITIES.__getitem__, col))
        except KeyError:
            raise Fallback from None

    def _decimals(self, col: Sequence[Any]) -> list[Decimal | None]:
        """Prices as Decimal, each distinct string parsed once (most pages have few)."""
        if not _STR.issuperset(map(type, col)):
            raise Fallback
        prices = self._prices
        new = set(col).difference(prices)
        if new:
            if len(prices) + len(new) > _PRICES_MAX:
                prices.clear()
                prices[None] = None
                new = set(col).difference(prices)
            for text in new:
                prices[text] = parse_decimal(text)
        return list(map(prices.__getitem__, col))


def as_did(fields: dict[str, Any]) -> AvailableDid:
    """The AvailableDid whose ``__dict__`` is ``fields`` (from ``decode_fields``), uncopied."""
    did: AvailableDid = _new(AvailableDid)
    _set(did, "__dict__", fields)
    return did


_new: Final = object.__new__
_set: Final = object.__setattr__


def as_dids(records: list[dict[str, Any]]) -> list[AvailableDid]:
    """``as_did`` of each record, in two C-level passes."""
    dids: list[AvailableDid] = list(map(_new, repeat(AvailableDid, len(records))))
    deque(map(_set, dids, repeat("__dict__"), records), 0)
    return dids
