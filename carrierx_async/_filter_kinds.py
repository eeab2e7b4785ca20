"""What each filter field accepts: its operators, its value kind, and the wire form of a value.

Decisions (the API reference, sections 4.4, 6.1, 6.2 and 11, leaves these open):

- Operator policy: the API documents its operators in general, not per field, and says any
  top-level field can be filtered "with some exceptions" it does not list. So every
  comparison (``eq ne lt le gt ge``) applies to every filterable field, with the value
  checked against the field's type; ``like`` applies to text, ``bit`` to the two bitmask
  fields, ``nearby`` to ``phonenumber``. Refused: unknown fields, other pairings, wrong value
  types. ``Filter.raw`` (``Raw`` here) is the way out when the server knows better.
- Value kinds: DID attributes (8.1) are text; ``price`` takes Decimal or int (never float:
  money is Decimal); ``capabilities``/``active_capabilities`` take Capability or int;
  ``npa``/``npa_nxx`` are virtual keys (4.4) kept as 3/6-digit strings. No field is boolean,
  so bool values are refused, and so is None (null filtering is undocumented).
- Nested fields (6.1 dot notation): ``attributes.<key>`` with a key of ``A-Z a-z 0-9 _ -``,
  a text value and the text operators. ``transformations`` (a list) is not filterable.
- Quoting (6.1): a value made only of ``A-Z a-z 0-9 _ . % : + @ / -`` (and not the word
  and/or/not) is sent bare; anything else is double-quoted, or single-quoted when it holds
  a ``"``. There is no documented escape syntax, so a value with both quote kinds, a
  backslash (a server could read it as an escape), a control character or a Unicode line
  or paragraph separator is refused: no value can close its quotes early and smuggle in a
  second condition. ``Filter.raw`` text and ``extra_params`` values are refused only for
  what cannot stand in one line of filter text (``control_character``: control
  characters, lone surrogates, line and paragraph separators).
"""

from __future__ import annotations

import difflib
import math
import re
import reprlib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

from ._errors import FilterAttributeError, FilterError
from ._models import DID_FIELDS, Capability

__all__ = ["Condition", "Nearby", "Raw", "check_operator"]

NearbyKind = Literal["npa", "zip", "latlng"]


@attrs.frozen
class Nearby:
    """A ``phonenumber nearby`` location: npa/zip value is a digit str, latlng a pair."""

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
        return f"{self.field} {self.op} {_operators(self.field)[self.op].render(self.value)}"


#: Control characters, lone surrogates and the Unicode line and paragraph separators: none
#: belongs in one line of filter text or in one query value.
_NOT_IN_A_VALUE: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})


def control_character(text: str) -> str | None:
    """The first character of ``text`` that cannot travel in one query value, or None."""
    return next((c for c in text if unicodedata.category(c) in _NOT_IN_A_VALUE), None)


@attrs.frozen
class Raw:
    """Filter text the client sends exactly as written, without checking it."""

    text: str = attrs.field()

    @text.validator
    def _check(self, _: object, text: object) -> None:
        if not isinstance(text, str):
            raise FilterError(f"Filter.raw takes a str, got {type(text).__name__}")
        if not text.strip():
            raise FilterError("Filter.raw takes filter text, got an empty string")
        if (bad := control_character(text)) is not None:
            raise FilterError(f"Filter.raw text holds the control character {bad!r}")

    def __str__(self) -> str:
        return self.text


# --- value kinds: Python value -> stored value, wire text -> Python value, stored -> wire ---


@attrs.frozen
class _Kind:
    coerce: Callable[[object], Any]
    parse: Callable[[str], object] = lambda s: s
    render: Callable[[Any], str] = str


_BARE: Final = re.compile(r"[A-Za-z0-9_.%:+@/-]+")
_RESERVED: Final = frozenset({"and", "or", "not"})
_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _got(v: object) -> str:
    """The caller's value for a message: its type and a short repr."""
    return f"{type(v).__name__} {reprlib.repr(v)}"


def _text(v: object) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected str, got {_got(v)}")
    v = str.__str__(v)
    if (bad := control_character(v)) is not None:
        raise ValueError(f"control character {bad!r} in {v!r}")
    if "\\" in v:
        raise ValueError(
            f"{v!r} holds a backslash: the filter syntax documents no escaping inside quotes, "
            "so the server could read it as one and end the value early"
        )
    if '"' in v and "'" in v:
        raise ValueError(f"{v!r} holds both quote kinds and the filter syntax has no escape")
    return v


def _quote(v: str) -> str:
    if _BARE.fullmatch(v) and v.lower() not in _RESERVED:
        return v
    return f"'{v}'" if '"' in v else f'"{v}"'


def _price(v: object) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, int | Decimal):
        if isinstance(v, float):  # echo the caller's value: repr is the shortest exact text
            raise TypeError(f"money is a Decimal or int, not float {v!r}: use Decimal('{v!r}')")
        raise TypeError(f"expected Decimal or int, got {_got(v)}")
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
            raise TypeError(f"expected Capability or int, got {_got(v)}")
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
            raise TypeError(f"expected int or {n}-digit str, got {_got(v)}")
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


_COMPARE: Final = "eq ne lt le gt ge"
_TEXT_OPS: Final = _ops(_TEXT, f"{_COMPARE} like")
_BITMASK_OPS: Final = _ops(_BITS, _COMPARE) | _ops(_MASK, "bit")  # 8.2

# THE table: field -> {wire operator: value kind}. Every DID attribute (8.1) is text unless
# listed; npa/npa_nxx are virtual filter keys (4.4); an empty mapping means "not filterable
# itself" (attributes is filtered by key, see _NESTED).
_FIELDS: Final[Mapping[str, Mapping[str, _Kind]]] = dict(
    sorted(
        {
            **dict.fromkeys(DID_FIELDS, _TEXT_OPS),
            "active_capabilities": _BITMASK_OPS,
            "attributes": {},
            "capabilities": _BITMASK_OPS,
            "npa": _ops(_NPA, _COMPARE),
            "npa_nxx": _ops(_NPA_NXX, _COMPARE),
            "phonenumber": _TEXT_OPS | _ops(_NEARBY, "nearby"),  # 4.2
            "price": _ops(_PRICE, _COMPARE),
            "transformations": {},
        }.items()
    )
)
# Objects whose keys are filtered by dot notation (6.1): parent -> the operators of a key.
_NESTED: Final[Mapping[str, Mapping[str, _Kind]]] = {"attributes": _TEXT_OPS}
_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_OPERATORS: Final = frozenset(op for ops in _FIELDS.values() for op in ops)
_SPELLING: Final = {
    "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
    "like": ".like()", "bit": ".bit()", "nearby": ".nearby()",
}  # fmt: skip
_WAY_OUT: Final = "; if the API accepts it, send it with Filter.raw(...)"


#: The operators a field type offers as methods (the others are Python's comparisons).
OPERATOR_METHODS: Final = frozenset({"like", "bit", "nearby"})


def no_such_operator(field: str, op: str) -> FilterError:
    """The error for ``F.<field>.<op>(...)`` where ``op`` does not apply to the field."""
    try:
        _kind(field, op)
    except FilterError as e:
        return FilterAttributeError(str(e))
    raise AssertionError(f"{op!r} applies to {field!r}")  # pragma: no cover


def _unknown(name: str, choices: Iterable[str], way_out: str = "") -> FilterError:
    valid = sorted(choices)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    return FilterAttributeError(
        f"unknown field {name!r}{hint} valid fields: {', '.join(valid)}{way_out}"
    )


def not_a_value(field: str) -> FilterError:
    """The error for comparing a field that holds no single value (an object, a list)."""
    if field in _NESTED:
        return FilterError(
            f"field {field!r} is an object, not a value; filter one of its keys: "
            f"F.{field}['key'], or {field}.<key> in filter text"
        )
    return FilterError(f"field {field!r} is a list, not a value; it cannot be filtered")


def _operators(field: str) -> Mapping[str, _Kind]:
    """The operators of a field or of a nested ``parent.key``; FilterError if it has none."""
    ops = _FIELDS.get(field)
    if ops is not None:
        return ops
    parent, dot, key = field.partition(".")
    if not dot:
        raise _unknown(field, _FIELDS, _WAY_OUT)
    if parent not in _NESTED:
        nested = ", ".join(f"{p}.<key>" for p in _NESTED)
        raise FilterError(f"nested field {field!r}: only {nested} can be filtered by key")
    if not _KEY.fullmatch(key):
        raise FilterError(
            f"nested field {field!r}: a key is made of letters, digits, '_' and '-'{_WAY_OUT}"
        )
    return _NESTED[parent]


def nested_name(parent: str, key: object) -> str:
    """``parent.key`` for ``F.attributes[key]``, validated."""
    if not isinstance(key, str):
        raise FilterError(f"{parent}[...] takes a str key, got {type(key).__name__}")
    name = f"{parent}.{key}"
    _operators(name)
    return name


def check_operator(field: str, op: str) -> None:
    """FilterError unless ``field op <value>`` can be written (what the DSL accepts)."""
    _kind(field, op)


def _kind(field: str, op: str) -> _Kind:
    ops = _operators(field)
    if op in ops:
        return ops[op]
    if not ops:
        raise not_a_value(field)
    valid = ", ".join(f"{o} ({_SPELLING[o]})" for o in ops)
    raise FilterError(
        f"operator {op!r} does not apply to {field!r}; valid operators: {valid}{_WAY_OUT}"
    )


def _condition(field: str, op: str, value: object, *, text: bool = False) -> Condition:
    kind = _kind(field, op)
    try:
        return Condition(field, op, kind.coerce(kind.parse(value) if text else value))  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise FilterError(f"bad value for '{field} {op}': {e}") from None
