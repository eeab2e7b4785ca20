"""What each filter field accepts: its operators, its value kind, and the wire form of a value.

Decisions (where sections 6.1, 6.2 and 11 leave things open):

- One table, ``_FIELDS``, says per field which operators apply and what value each takes.
  Every DID attribute (8.1) is a string with ``eq ne like``; string ``lt le gt ge`` are
  refused because the server's string ordering is undocumented. ``price`` takes Decimal or
  int (never float: money is Decimal). ``capabilities``/``active_capabilities`` take
  Capability or int with ``eq ne bit``. ``npa``/``npa_nxx`` are virtual keys (4.4) kept as
  digit strings. ``attributes``/``transformations`` are not filterable. No field is boolean,
  so bool values are refused, and so is None (null filtering is undocumented).
- Quoting (6.1): a value made only of ``A-Z a-z 0-9 _ . % : + @ / -`` (and not the word
  and/or/not) is sent bare; anything else is double-quoted, or single-quoted when it holds
  a ``"``. There is no escape syntax, so a value with both quote kinds or a control character
  is refused: no value can close its quotes early and smuggle in a second condition.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

from ._errors import FilterError
from ._models import DID_FIELDS, Capability

__all__ = ["Condition", "Nearby", "check_operator"]

NearbyKind = Literal["npa", "zip", "latlng"]


@attrs.frozen
class Nearby:
    """A ``phonenumber nearby`` location (4.2): npa/zip value is a digit str, latlng a pair."""

    kind: NearbyKind
    value: str | tuple[float, float]

    def __str__(self) -> str:
        v = self.value
        text = v if isinstance(v, str) else ",".join(_coord_text(c) for c in v)
        return f"{self.kind}:{text}"


@attrs.frozen
class Condition:
    """One ``field operator value`` condition; ``op`` is the wire operator."""

    field: str
    op: str
    value: str | Decimal | Capability | Nearby

    def __str__(self) -> str:
        return f"{self.field} {self.op} {_FIELDS[self.field][self.op].render(self.value)}"


# --- value kinds: Python value -> stored value, wire text -> Python value, stored -> wire ---


@attrs.frozen
class _Kind:
    coerce: Callable[[object], Any]
    parse: Callable[[str], object] = lambda s: s
    render: Callable[[Any], str] = str


_BARE: Final = re.compile(r"[A-Za-z0-9_.%:+@/-]+")
_RESERVED: Final = frozenset({"and", "or", "not"})
_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _text(v: object) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected str, got {type(v).__name__}")
    v = str.__str__(v)
    bad = next((c for c in v if unicodedata.category(c) in ("Cc", "Cs")), None)
    if bad is not None:
        raise ValueError(f"control character {bad!r} in {v!r}")
    if '"' in v and "'" in v:
        raise ValueError(f"{v!r} holds both quote kinds and the filter syntax has no escape")
    return v


def _quote(v: str) -> str:
    if _BARE.fullmatch(v) and v.lower() not in _RESERVED:
        return v
    return f"'{v}'" if '"' in v else f'"{v}"'


def _price(v: object) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, int | Decimal):
        hint = " (money is Decimal: use Decimal('0.5'))" if isinstance(v, float) else ""
        raise TypeError(f"expected Decimal or int, got {type(v).__name__}{hint}")
    d = Decimal(v)
    if not d.is_finite():
        raise ValueError(f"{v!r} is not a finite number")
    return d


def _number_text(s: str) -> str:
    if not _NUMBER.fullmatch(s):
        raise ValueError(f"{s!r} is not a plain decimal number")
    return s


_ALL_CAPABILITIES: Final = sum(Capability)  # 31 (8.2)


def _bits(low: int) -> Callable[[object], Capability]:
    def coerce(v: object) -> Capability:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"expected Capability or int, got {type(v).__name__}")
        if not low <= v <= _ALL_CAPABILITIES:
            raise ValueError(f"{int(v)} is outside {low}..{_ALL_CAPABILITIES}")
        return Capability(int(v))

    return coerce


def _int_text(s: str) -> int:
    if not (s.isascii() and s.isdigit()):
        raise ValueError(f"{s!r} is not an integer")
    return int(s)


def _digits(n: int) -> Callable[[object], str]:
    def coerce(v: object) -> str:
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise TypeError(f"expected int or {n}-digit str, got {type(v).__name__}")
        s = str(v) if isinstance(v, int) else str.__str__(v)
        if not (len(s) == n and s.isascii() and s.isdigit()):
            raise ValueError(f"{v!r} is not {n} digits")
        return s

    return coerce


def _coord(v: object, limit: int) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | Decimal | str):
        raise TypeError(f"expected a number, got {type(v).__name__}")
    f = float(_number_text(v) if isinstance(v, str) else v)
    if not (math.isfinite(f) and -limit <= f <= limit):
        raise ValueError(f"{v!r} is not within -{limit}..{limit}")
    return round(f, 6) + 0.0  # + 0.0 turns -0.0 into 0.0


def _coord_text(f: float) -> str:
    return format(f, ".6f").rstrip("0").rstrip(".")


def _nearby(v: object) -> Nearby:
    """Validate a Nearby, or build one from a ``(kind, value)`` pair."""
    if isinstance(v, Nearby):
        kind, value = v.kind, v.value
    elif isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str):
        kind, value = v
    else:
        raise TypeError(f"expected Nearby, got {type(v).__name__}")
    if kind == "npa":
        return Nearby(kind="npa", value=_digits(3)(value))
    if kind == "zip":
        if not isinstance(value, str):
            raise TypeError(f"zip takes a 5-digit str (leading zeros matter), not {value!r}")
        return Nearby(kind="zip", value=_digits(5)(value))
    if kind == "latlng":
        pair = value.split(",") if isinstance(value, str) else value
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise ValueError(f"latlng takes (latitude, longitude), not {value!r}")
        return Nearby(kind="latlng", value=(_coord(pair[0], 90), _coord(pair[1], 180)))
    raise ValueError(f"unknown nearby kind {kind!r}; valid kinds: npa, zip, latlng")


def _nearby_text(s: str) -> tuple[str, str]:
    kind, sep, rest = s.partition(":")
    if not sep:
        raise ValueError(f"{s!r} is not npa:<npa>, zip:<zip> or latlng:<lat>,<lng>")
    return kind, rest


_TEXT: Final = _Kind(_text, render=_quote)
_PRICE: Final = _Kind(
    _price, parse=lambda s: Decimal(_number_text(s)), render=lambda d: format(d, "f")
)
_BITS: Final = _Kind(_bits(0), parse=_int_text, render=lambda c: str(int(c)))
_MASK: Final = _Kind(_bits(1), parse=_int_text, render=lambda c: str(int(c)))
_NPA: Final = _Kind(_digits(3))
_NPA_NXX: Final = _Kind(_digits(6))
_NEARBY: Final = _Kind(_nearby, parse=_nearby_text)


def _ops(kind: _Kind, ops: str) -> dict[str, _Kind]:
    return dict.fromkeys(ops.split(), kind)


# THE table: field -> {wire operator: value kind}. Every DID attribute (8.1) is a string unless
# listed; npa/npa_nxx are virtual filter keys (4.4); an empty mapping means "not filterable".
_FIELDS: Final[Mapping[str, Mapping[str, _Kind]]] = dict(
    sorted(
        {
            **dict.fromkeys(DID_FIELDS, _ops(_TEXT, "eq ne like")),
            "active_capabilities": _ops(_BITS, "eq ne") | _ops(_MASK, "bit"),  # 8.2
            "attributes": {},
            "capabilities": _ops(_BITS, "eq ne") | _ops(_MASK, "bit"),  # 8.2
            "npa": _ops(_NPA, "eq ne"),
            "npa_nxx": _ops(_NPA_NXX, "eq ne"),
            "phonenumber": _ops(_TEXT, "eq ne like") | _ops(_NEARBY, "nearby"),  # 4.2
            "price": _ops(_PRICE, "eq ne lt le gt ge"),
            "transformations": {},
        }.items()
    )
)
_OPERATORS: Final = frozenset(op for ops in _FIELDS.values() for op in ops)
_SPELLING: Final = {
    "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
    "like": ".like()", "bit": ".bit()", "nearby": ".nearby()",
}  # fmt: skip


class _UnknownFieldError(FilterError, AttributeError):
    """Also an AttributeError, so ``hasattr(F, name)`` and ``getattr(F, name, None)`` work."""


def _unknown(name: str, choices: Iterable[str]) -> FilterError:
    valid = sorted(choices)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    return _UnknownFieldError(f"unknown field {name!r}{hint} valid fields: {', '.join(valid)}")


def check_operator(field: str, op: str) -> None:
    """FilterError unless ``field op <value>`` can be written (what the DSL accepts)."""
    if field not in _FIELDS:
        raise _unknown(field, _FIELDS)
    _kind(field, op)


def _kind(field: str, op: str) -> _Kind:
    ops = _FIELDS[field]
    if op in ops:
        return ops[op]
    if not ops:
        raise FilterError(f"field {field!r} is not filterable (an object, not a value)")
    valid = ", ".join(f"{o} ({_SPELLING[o]})" for o in ops)
    raise FilterError(f"operator {op!r} does not apply to {field!r}; valid operators: {valid}")


def _condition(field: str, op: str, value: object, *, text: bool = False) -> Condition:
    kind = _kind(field, op)
    try:
        return Condition(field, op, kind.coerce(kind.parse(value) if text else value))  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise FilterError(f"bad value for '{field} {op}': {e}") from None
