"""Decoding: JSON bytes -> models, through the one cattrs converter built here.

Lenient by default (unknown keys ignored, API reference 8.1 "accept unknown extra
keys"); tests build a strict converter with ``forbid_extra_keys=True`` so a new API
field is noticed. Errors name the record and the field that failed.

Speed (benchmarks/README.md): JSON is parsed by orjson, with the garbage collector
paused meanwhile; typed streams parse with msgspec instead, which checks each record's
wire types as it parses (``_checked_json``: ``checked=True`` below). A page of records
goes first to the page-at-once fast path in ``_page_decoder`` (no Python code run per
record); ``decode_fields`` stops before making the instances, which ``as_dids`` makes a
slice at a time, as a stream hands records out.
Decoding takes ownership of the dicts. A page the fast path cannot vouch for is decoded
again record by record by cattrs with detailed validation, which accepts exactly what it
accepted before and raises the precise error.
"""

from __future__ import annotations

import gc
from decimal import Decimal
from typing import Any, Final

import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn

from ._errors import ResponseDecodeError
from ._models import DID_FIELDS, AvailableDid, Capability, Page
from ._page_decoder import (
    Fallback,
    PageDecoder,
    as_dids,
    fast_path_possible,
    parse_decimal,
)

__all__ = [
    "as_dids",
    "decode_did",
    "decode_dids",
    "decode_envelope",
    "decode_fields",
    "decode_json",
    "decode_page",
    "excerpt",
    "make_converter",
]

_EXCERPT: Final = 120


def _structure_decimal(value: Any, _: type) -> Decimal:
    return parse_decimal(value)


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
    # cattrs structures a list from any iterable: a JSON object ({} -> []) must not pass.
    objects = conv.get_structure_hook(list[dict[str, Any]])

    def structure_objects(value: Any, kind: type) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return objects(value, kind)  # type: ignore[no-any-return]

    conv.register_structure_hook_func(lambda t: t == list[dict[str, Any]], structure_objects)
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
    conv.page_decoder = PageDecoder(forbid_extra_keys=forbid_extra_keys) if _FAST else None
    return conv


class _Converter(cattrs.Converter):
    """A cattrs Converter that also carries its page-at-once decoder."""

    __slots__ = ("page_decoder",)
    page_decoder: PageDecoder | None


_FAST: Final = fast_path_possible()
_CONVERTER: Final = make_converter()


def excerpt(body: bytes, limit: int = _EXCERPT) -> str:
    """The start of a body as text, for error messages."""
    return body[:limit].decode("utf-8", "replace")


def decode_json(body: bytes, *, status: int = 200) -> Any:
    """Parse a JSON body or raise ResponseDecodeError with a short excerpt.

    The garbage collector is paused while orjson builds the objects: otherwise a page of
    1000 records would set off several young collections midway, each scanning the
    half-built page (and, every tenth, all recent survivors), and would push the whole
    page on into the old generation, bringing the next full collection closer. Resumed
    before returning, it counts the page's objects once.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ResponseDecodeError(
            f"malformed JSON ({exc})", status=status, excerpt=excerpt(body)
        ) from None
    finally:
        if paused:
            gc.enable()


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
    ints = obj.get("count"), obj.get("limit"), obj.get("offset"), obj.get("total")
    if not _INT_OR_NONE.issuperset(map(type, ints)):  # one check; the loop names the field
        for key in ("count", "limit", "offset", "total"):
            _optional_int(obj, key, status)
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


_INT_OR_NONE: Final = frozenset({int, type(None)})


def decode_fields(
    items: list[Any],
    *,
    status: int = 200,
    converter: cattrs.Converter | None = None,
    start: int = 0,
    checked: bool = False,
) -> list[dict[str, Any]]:
    """Check and type raw records, each becoming the ``__dict__`` of its AvailableDid.

    ``as_dids`` makes the instances; streams do that only as they hand records out, so a
    page of records waiting to be read holds no instances for the garbage collector to
    scan. Takes over the dicts. ``items`` may be a slice of a page beginning at
    ``items[start]``: errors give the record's index in the whole page. ``checked``:
    ``_checked_json`` parsed them (their wire types need no second check).
    """
    conv = converter or _CONVERTER
    fast = conv.page_decoder if isinstance(conv, _Converter) else None
    if fast is not None:
        try:
            return fast.fields(items, checked=checked)
        except (Fallback, ValueError, TypeError):
            pass  # the precise path below decides, and names the record and field
    return [
        vars(decode_did(item, status=status, index=i, converter=conv))
        for i, item in enumerate(items, start)
    ]


def decode_dids(
    items: list[Any],
    *,
    status: int = 200,
    converter: cattrs.Converter | None = None,
    start: int = 0,
    checked: bool = False,
) -> list[AvailableDid]:
    """Structure raw records (taking over the dicts); errors name record and field."""
    return as_dids(
        decode_fields(items, status=status, converter=converter, start=start, checked=checked)
    )


def decode_page(
    body: bytes, *, status: int = 200, converter: cattrs.Converter | None = None
) -> Page[AvailableDid]:
    """Decode a list response body into a Page of AvailableDid."""
    items, page = decode_envelope(decode_json(body, status=status), status=status)
    return page.with_items(decode_dids(items, status=status, converter=converter))
