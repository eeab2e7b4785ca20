"""Parse and type-check a page of DID records in one C pass (msgspec), or say it cannot.

orjson builds the records' dicts and the page decoder then checks each field's type in
a pass of its own: on a page of 1000 records the checks cost more than the parse. msgspec
parses a list envelope into the same dicts while checking each value against its field's
wire type, so what is left is the few conversions (``price``, the capability bitmasks)
and the fill of absent fields (``PageDecoder.fields(..., checked=True)``).

The wire types are the ones the page decoder's own checks accept (``_page_decoder.KINDS``):
a string or null for text and ``price``, an integer or null for the bitmasks, an object
or null for ``attributes``, an array of objects or null for ``transformations``. Keys
outside the model are dropped, as the lenient decoder drops them. A document that does
not parse, does not check or nests deeper than Python's recursion limit (orjson takes
1024 levels) comes back as None: the caller parses it with orjson and the
precise path decides, so the errors and what is accepted do not change. One difference
is deliberate: an integer beyond 64 bits inside ``attributes`` or ``transformations``
keeps its exact value (orjson makes it a float); elsewhere such a number is refused here,
as orjson's float is refused by the checks.

Pure: bytes in, JSON values out.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from types import GenericAlias
from typing import Annotated, Any, Final, TypedDict, cast

import msgspec

from ._models import DID_FIELDS
from ._page_decoder import KINDS

__all__ = ["ENVELOPE_KEYS", "checked_page", "checked_run"]

# Integers of 64 bits; orjson makes wider ones floats, which the checks refuse. (It also
# parses 2**63 .. 2**64-1 as int: msgspec bounds stop at int64, so those take its path.)
_INT: Final = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_WIRE: Final[dict[str, Any]] = {
    "str": str | None,
    "decimal": str | None,  # parsed to Decimal by the page decoder, from a cache
    "capability": _INT | None,
    "dict": dict[str, Any] | None,
    "list": list[dict[str, Any]] | None,
}
# The functional form with computed fields (mypy only takes a literal there).
_typed_dict: Final = cast("Callable[..., Any]", TypedDict)
_RECORD: Final = _typed_dict(
    "DidRecord", {name: _WIRE[KINDS.get(name, "str")] for name in DID_FIELDS}, total=False
)
_RECORDS: Final = GenericAlias(list, (_RECORD,))  # list[_RECORD], which mypy cannot read
#: The envelope fields ``_convert.decode_envelope`` reads, of the types it accepts.
ENVELOPE_KEYS: Final = ("items", "count", "has_more", "limit", "offset", "total", "pagination")
_ENVELOPE: Final = _typed_dict(
    "Envelope",
    {"items": _RECORDS, "has_more": Any, "pagination": Any}
    | {key: _INT | None for key in ("count", "limit", "offset", "total")},
    total=False,
)
_PAGE: Final = msgspec.json.Decoder(_ENVELOPE)
_RUN: Final = msgspec.json.Decoder(_RECORDS)


def _decode(decoder: msgspec.json.Decoder[Any], doc: bytes) -> Any:
    """``decoder.decode(doc)`` with the collector paused (see ``_convert.decode_json``),
    or None."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return decoder.decode(doc)
    except msgspec.DecodeError:  # also a value of the wrong type (ValidationError)
        return None
    except RecursionError:  # nesting past Python's limit; orjson's (1024 levels) decides
        return None
    finally:
        if paused:
            gc.enable()


def checked_page(body: bytes) -> dict[str, Any] | None:
    """A list envelope (an object; only ``ENVELOPE_KEYS`` kept) whose ``items``, when
    sent, are records of checked wire types; or None."""
    data: dict[str, Any] | None = _decode(_PAGE, body)
    return data


def checked_run(doc: bytes) -> list[dict[str, Any]] | None:
    """A JSON array of records of checked wire types (a piece ``_json_slices`` cut), or
    None."""
    data: list[dict[str, Any]] | None = _decode(_RUN, doc)
    return data
