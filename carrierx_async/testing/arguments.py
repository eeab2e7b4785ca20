"""Request-argument parsing for ``FakeCarrierX``: the query string, validated.
``_list_args`` turns ``limit``/``offset``/``order``/``filter``/``include_external`` into
``_ListArgs`` (reference 4.1, 5.1, 6), ``_field_selector`` applies ``include_fields``/
``exclude_fields`` (7) and ``_sort_key`` orders by a field; a bad argument raises
``_BadRequest``, which the server answers with 400 and an ``_error_body`` (9.2).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from .._errors import FilterError
from .._filter_kinds import Condition
from .._filter_parser import parse_filter
from .._filters import Filter
from .._models import DID_FIELDS, AvailableDid

_MAX_LIMIT: Final = 1000  # reference 5.1
_DEFAULT_LIMIT: Final = 10
_ORDERABLE: Final = DID_FIELDS - {"attributes", "transformations"}


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
            isinstance(c, Condition) and c.field == "country_code" and c.op == "eq"
            for c in flt.conditions()
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
