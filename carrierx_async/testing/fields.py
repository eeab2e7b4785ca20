"""The DID object as the fake knows it, from API reference 8.1 and 8.2 (not from the client).

``FIELDS`` maps each documented attribute to its kind: ``text`` (a string or null),
``bits`` (a capability bitmask, 0..31), ``price`` (decimal text such as ``"0.6"``),
``object`` (``attributes``) or ``list`` (``transformations``, a list of objects).
``record_problem`` says what is wrong with a record (or None); ``value_of`` reads a field
as the fake compares and orders it (a bitmask as int, a price as Decimal, text as str).
Field filtering (reference 7) is ``shape``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import Any, Final

__all__ = ["DECIMAL", "FIELDS", "ORDERABLE", "SCALAR_KINDS", "record_problem", "shape", "value_of"]

FIELDS: Final[Mapping[str, str]] = {
    "active_capabilities": "bits",
    "attributes": "object",
    "callback_url": "text",
    "campaign_sid": "text",
    "capabilities": "bits",
    "classification_sid": "text",
    "country_code": "text",
    "did_group_sid": "text",
    "did_sid": "text",
    "in_country_format": "text",
    "international_format": "text",
    "lata": "text",
    "locality": "text",
    "lrn_sid": "text",
    "name": "text",
    "ocn": "text",
    "partner_sid": "text",
    "phonenumber": "text",
    "porting_pin": "text",
    "price": "price",
    "state": "text",
    "status": "text",
    "string_key_1": "text",
    "string_key_2": "text",
    "transformations": "list",
    "trunk_group_sid": "text",
}
SCALAR_KINDS: Final = frozenset({"text", "bits", "price"})
#: Fields a list can be ordered by (and compared with ``lt``/``gt``): the scalar ones.
ORDERABLE: Final = frozenset(name for name, kind in FIELDS.items() if kind in SCALAR_KINDS)
_MAX_BITS: Final = 31  # every capability of 8.2
DECIMAL: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _problem(kind: str, value: Any) -> str | None:
    if value is None:
        return None
    if kind == "text" and not isinstance(value, str):
        return "must be a string or null"
    if kind == "bits" and (
        isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_BITS
    ):
        return f"must be an integer bitmask 0..{_MAX_BITS} or null"
    if kind == "price" and not (isinstance(value, str) and DECIMAL.fullmatch(value)):
        return 'must be decimal text such as "0.6" or null'
    if kind == "object" and not (isinstance(value, dict) and all(map(_is_str, value))):
        return "must be an object or null"
    if kind == "list" and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
        return "must be a list of objects or null"
    return None


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def record_problem(record: object) -> str | None:
    """What makes ``record`` not a DID object the fake can serve, or None. Unknown extra
    keys and missing fields are allowed (8.1: a client must tolerate both)."""
    if not isinstance(record, Mapping):
        return f"a DID object is a dict, got {type(record).__name__}"
    for name, kind in FIELDS.items():
        if (why := _problem(kind, record.get(name))) is not None:
            return f"{name} {why}, got {record[name]!r}"
    try:
        json.dumps(record, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"the record is not JSON: {exc}"
    return None


def value_of(field: str) -> Callable[[Mapping[str, Any]], Any]:
    """How the fake reads a scalar field to compare and order it (None: null or absent)."""
    if FIELDS[field] == "price":
        return lambda r: None if (v := r.get(field)) is None else Decimal(v)
    return lambda r: r.get(field)


def shape(record: Mapping[str, Any], keep: Collection[str] | None) -> dict[str, Any]:
    """The record as served (field filtering): every field, or only those in ``keep``."""
    if keep is None:
        return dict(record)
    return {k: v for k, v in record.items() if k in keep}
