"""The decoder as it was before the performance work (json + detailed cattrs), for A/B."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import cattrs
from cattrs.gen import make_dict_structure_fn

from carrierx_async._errors import ResponseDecodeError
from carrierx_async._models import DID_FIELDS, AvailableDid, Capability, Page

__all__ = [
    "decode_did",
    "decode_dids",
    "decode_envelope",
    "decode_json",
    "decode_page",
    "make_converter",
]

_EXCERPT = 120


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
    conv = cattrs.Converter(forbid_extra_keys=forbid_extra_keys)
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
    return conv


_CONVERTER = make_converter()


def _excerpt(body: bytes) -> str:
    return body[:_EXCERPT].decode("utf-8", "replace")


def decode_json(body: bytes, *, status: int = 200) -> Any:
    """Parse a JSON body or raise ResponseDecodeError with a short excerpt."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResponseDecodeError(
            f"malformed JSON ({exc})", status=status, excerpt=_excerpt(body)
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
    """Check the list envelope (reference 5.2); return raw items and a Page without items."""
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
    """Structure one page's raw records; errors say which record and field failed."""
    return [
        decode_did(item, status=status, index=i, converter=converter)
        for i, item in enumerate(items)
    ]


def decode_page(
    body: bytes, *, status: int = 200, converter: cattrs.Converter | None = None
) -> Page[AvailableDid]:
    """Decode a list response body into a Page of AvailableDid."""
    items, page = decode_envelope(decode_json(body, status=status), status=status)
    return Page(
        items=decode_dids(items, status=status, converter=converter),
        count=page.count,
        has_more=page.has_more,
        limit=page.limit,
        offset=page.offset,
        total=page.total,
        next_url=page.next_url,
    )
