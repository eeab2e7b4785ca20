"""Request-argument parsing for ``FakeCarrierX``: the query string, validated.
``_list_args`` turns ``limit``/``offset``/``order``/``filter``/``include_external`` into
``_ListArgs`` (reference 4.1, 5.1, 6) and ``_kept_fields`` reads ``include_fields``/
``exclude_fields`` (7); a bad argument raises ``_BadRequest``, which the server answers
with 400 and an ``_error_body`` (9.2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

import attrs

from .fields import FIELDS, ORDERABLE
from .filtering import Condition, Rejected, parse

_MAX_LIMIT: Final = 1000  # reference 5.1
_DEFAULT_LIMIT: Final = 10


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
    filter: tuple[Condition, ...] | None
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
        elif len(words) in (1, 2) and words[0] in ORDERABLE:
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
            flt = parse(text)
        except Rejected as exc:
            raise _BadRequest("filter", str(exc)) from None
    external_text = query.get("include_external", "false").lower()
    if external_text not in ("true", "false"):
        raise _BadRequest("include_external", "include_external must be true or false")
    external = external_text == "true"
    if external:  # reference 4.1
        if offset != 0:
            raise _BadRequest("offset", "offset must be 0 when include_external=true")
        if flt is None or not any(c.field == "country_code" for c in flt):
            raise _BadRequest("filter", "include_external=true needs a country_code filter")
    return _ListArgs(
        limit=limit,
        offset=offset,
        order=order,
        descending=descending,
        filter=flt,
        external=external,
    )


def _kept_fields(query: Mapping[str, str]) -> frozenset[str] | None:
    """Field filtering (reference 7): the fields to serve, None for all. Comma-separated
    names; an unknown name, or both arguments at once, is a 400 (both undocumented)."""
    include, exclude = query.get("include_fields", ""), query.get("exclude_fields", "")
    if include.strip() and exclude.strip():
        raise _BadRequest("include_fields", "use include_fields or exclude_fields, not both")
    for name, text in (("include_fields", include), ("exclude_fields", exclude)):
        fields = {f.strip() for f in text.split(",") if f.strip()}
        if unknown := sorted(fields - FIELDS.keys()):
            raise _BadRequest(name, f"unknown field {unknown[0]!r}")
        if fields:
            return frozenset(fields if name == "include_fields" else FIELDS.keys() - fields)
    return None
