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

__all__ = ["KINDS", "Fallback", "PageDecoder", "as_dids", "fast_path_possible", "parse_decimal"]


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
#: The fields that are not plain text, by kind; what each kind accepts on the wire is
#: checked here (and by ``_checked_json`` as it parses).
KINDS: Final = {
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
        and "__dict__" in vars(AvailableDid)
        and not hasattr(AvailableDid, "__attrs_pre_init__")
        and not hasattr(AvailableDid, "__attrs_post_init__")
        and all(a.validator is None and a.converter is None and a.init for a in fields)
        and {a.name for a in fields} == {"present_fields", *DID_FIELDS}
        and set(KINDS) <= DID_FIELDS
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
    """How to check and complete records that carry one set of keys, prepared once."""

    def __init__(self, keys: frozenset[str], *, strict: bool) -> None:
        self.size = len(keys)
        self.extra = sorted(keys - DID_FIELDS)
        #: The precise path names the unknown key (strict), or is the only one to see it.
        self.declined = bool(self.extra) and strict
        present = keys & DID_FIELDS
        names = sorted(present)
        kind = {n: KINDS.get(n, "str") for n in names}
        # Prices are strings on the wire: one C-level pass checks them with the rest.
        self.strs = _picker([n for n in names if kind[n] in ("str", "decimal")])
        typed = [n for n in names if n in KINDS]
        self.typed = _picker(typed)
        self.capabilities = [i for i, n in enumerate(typed) if kind[n] == "capability"]
        self.prices = [i for i, n in enumerate(typed) if kind[n] == "decimal"]
        self.dicts = [i for i, n in enumerate(typed) if kind[n] == "dict"]
        self.lists = [i for i, n in enumerate(typed) if kind[n] == "list"]
        self.names = typed
        #: What every record gains: None for each absent field, and which fields were sent.
        self.fill: dict[str, Any] = dict.fromkeys(sorted(DID_FIELDS - present))
        self.fill["present_fields"] = present


class PageDecoder:
    """Structures a whole page of DID dicts at once, or raises Fallback.

    Each record's JSON object becomes its instance's ``__dict__``, with the typed values
    swapped in: one C-level pass per field kind, no Python code run per record. The
    objects are changed only once every check has passed, so a page that falls back to
    the precise path is seen there unchanged.
    """

    def __init__(self, *, forbid_extra_keys: bool) -> None:
        self._strict = forbid_extra_keys
        self._shapes: dict[frozenset[str], _Shape] = {}
        self._prices: dict[Any, Decimal | None] = {None: None}

    def __call__(self, items: list[Any]) -> list[AvailableDid]:
        return as_dids(self.fields(items))

    def _shape(self, items: list[Any]) -> _Shape:
        """The prepared shape of the first record's keys (at most 64 kept)."""
        keys = frozenset(items[0])
        shape = self._shapes.get(keys)
        if shape is None:
            if len(self._shapes) >= 64:
                self._shapes.clear()
            shape = self._shapes[keys] = _Shape(keys, strict=self._strict)
        return shape

    def fields(self, items: list[Any], *, checked: bool = False) -> list[dict[str, Any]]:
        """The records as their instances' ``__dict__`` (see ``as_dids``), or Fallback.

        ``checked``: ``_checked_json`` parsed them, so each holds only model keys, each
        value of its field's wire type. Records that hold every field then need only
        their conversions; others are checked all the same (to prove they hold the same
        keys).
        """
        if not items:
            return []
        if not _DICT_ONLY.issuperset(map(type, items)):
            raise Fallback
        shape = self._shape(items)
        if shape.declined or set(map(len, items)) != {shape.size}:
            raise Fallback  # unknown keys (strict), or records with different fields: rare
        # Only model keys, and as many as the model has: every record holds them all.
        trusted = checked and shape.size == len(DID_FIELDS)
        try:  # every record has as many keys as the first and all of these: the same keys
            for name in shape.extra:
                deque(map(getitem, items, repeat(name)), 0)
            strings_ok = trusted or _STR.issuperset(
                map(type, chain.from_iterable(map(shape.strs, items)))
            )
            columns = list(zip(*map(shape.typed, items), strict=True)) if shape.names else []
        except KeyError:
            raise Fallback from None
        if not trusted and not (
            strings_ok
            and all(_DICT.issuperset(map(type, columns[i])) for i in shape.dicts)
            and all(_LIST.issuperset(map(type, columns[i])) for i in shape.lists)
            and all(  # transformations: lists of objects
                _DICT_ONLY.issuperset(map(type, chain.from_iterable(filter(None, columns[i]))))
                for i in shape.lists
            )
        ):
            raise Fallback
        names = shape.names
        typed: list[tuple[str, list[Any]]] = [
            (names[i], _capabilities(columns[i])) for i in shape.capabilities
        ]
        typed += [(names[i], self._decimals(columns[i])) for i in shape.prices]
        # Every check has passed: from here on nothing fails, and the JSON objects are
        # taken over as the instances' __dict__ (the caller parsed them for this).
        for name, column in typed:
            deque(map(setitem, items, repeat(name), column), 0)
        for name in shape.extra:
            deque(map(delitem, items, repeat(name)), 0)
        deque(map(dict.update, items, repeat(shape.fill)), 0)
        return items

    def _decimals(self, col: Sequence[Any]) -> list[Decimal | None]:
        """Prices (strings or None, checked) as Decimal, each distinct string parsed once."""
        prices = self._prices
        try:
            return list(map(prices.__getitem__, col))
        except KeyError:
            pass  # a price not seen before: most pages have none
        new = set(col).difference(prices)
        if len(prices) + len(new) > _PRICES_MAX:
            prices.clear()
            prices[None] = None
            new = set(col).difference(prices)
        for text in new:
            prices[text] = parse_decimal(text)
        return list(map(prices.__getitem__, col))


def _capabilities(col: Sequence[Any]) -> list[Capability | None]:
    """Bitmasks as Capability, from a table of the 32 documented values."""
    if not _INT.issuperset(map(type, col)):
        raise Fallback  # a bool or a float would find its equal int in the table
    try:
        return list(map(_CAPABILITIES.__getitem__, col))
    except KeyError:
        raise Fallback from None


_new: Final = object.__new__
# The instances' __dict__ descriptor, called directly: a little cheaper than setattr.
_set_dict: Final[Callable[[AvailableDid, dict[str, Any]], None]] = vars(AvailableDid)[
    "__dict__"
].__set__


def as_dids(records: list[dict[str, Any]]) -> list[AvailableDid]:
    """The AvailableDid whose ``__dict__`` is each record (from ``decode_fields``), uncopied,
    in two C-level passes."""
    dids: list[AvailableDid] = list(map(_new, repeat(AvailableDid, len(records))))
    deque(map(_set_dict, dids, records), 0)
    return dids
