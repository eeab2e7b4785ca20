"""The filter DSL: a small immutable expression tree whose ``str()`` is the wire text (API ref 6).

    F.state == "NY"                          state eq NY
    (F.price <= Decimal("1")) & F.capabilities.bit(Capability.VOICE)
                                             price le 1 and capabilities bit 4
    Filter.nearby(npa=516)                   phonenumber nearby npa:516        (4.2)
    parse_filter("state eq NY")              the same tree, back from wire text

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
- Parsing: ``and`` and operators in any case (rendered lower case), field names exact,
  any whitespace between tokens; ``or``, ``not``, parentheses and dot notation are errors.
- ``matches`` (local evaluation, used by tests and the fake server): eq/ne/like are
  case-sensitive; ``like`` is SQL LIKE over the whole value (``%`` any run, ``_`` one
  character, no escape); ``bit m`` holds when every bit of ``m`` is set; a field that is None
  (absent or null) matches no condition, not even ``ne``. ``npa``/``npa_nxx`` are digits 2-4
  and 2-7 of an 11-digit phonenumber starting with 1 (country code 1 is exactly NANP, so
  ``country_code`` is not consulted), None otherwise. ``nearby`` goes to the caller's
  ``near`` predicate; without one, ``nearby npa:N`` is ``npa eq N`` and zip/latlng raise.
  latlng coordinates are kept to 6 decimal places (about 0.1 m).
- Beyond the wire: ``|`` and ``in_`` build a disjunction, held in disjunctive normal form;
  ``alternatives()`` gives one wire-ready conjunction per request. A disjunction renders as
  ``(a) | (b)``, which no server accepts. ``~`` and ``bool()`` raise: CarrierX has no ``not``,
  and ``0 < F.price < 1`` would silently keep only half of the condition.
"""

from __future__ import annotations

import difflib
import functools
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

from ._errors import FilterError
from ._models import DID_FIELDS, AvailableDid, Capability

__all__ = [
    "F",
    "Condition",
    "Field",
    "Filter",
    "Nearby",
    "check_operator",
    "field_name",
    "parse_filter",
]

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


# --- the expression tree ---

_Conj = tuple[Condition, ...]
Near = Callable[[AvailableDid, Nearby], bool]
_Check = Callable[[AvailableDid, Near | None], bool]


def _normalise(dnf: Iterable[_Conj]) -> tuple[_Conj, ...]:
    """Drop repeated conditions in a conjunction and alternatives with the same conditions."""
    seen: dict[frozenset[Condition], _Conj] = {}
    for conj in dnf:
        unique = tuple(dict.fromkeys(conj))
        seen.setdefault(frozenset(unique), unique)
    return tuple(seen.values())


@attrs.frozen(repr=False)
class Filter:
    """An immutable filter expression; ``str()`` of a conjunction is the wire text (6.1)."""

    _dnf: tuple[_Conj, ...] = attrs.field(converter=_normalise)
    _compiled: tuple[tuple[tuple[_Check, ...], ...], Nearby | None] | None = attrs.field(
        init=False, default=None, eq=False
    )

    @classmethod
    def nearby(
        cls,
        *,
        npa: int | str | None = None,
        zip: str | None = None,
        latlng: tuple[float | Decimal, float | Decimal] | None = None,
    ) -> Filter:
        """``phonenumber nearby <kind>:<value>`` (4.2); pass exactly one keyword."""
        return F.phonenumber.nearby(npa=npa, zip=zip, latlng=latlng)

    @property
    def is_disjunction(self) -> bool:
        """True when this filter needs more than one request (built with ``|`` or ``in_``)."""
        return len(self._dnf) > 1

    def conditions(self) -> tuple[Condition, ...]:
        """The conditions of a conjunction; a disjunction raises FilterError."""
        if self.is_disjunction:
            raise FilterError(f"{self} is a disjunction; use alternatives() for its conjunctions")
        return self._dnf[0]

    def alternatives(self) -> tuple[Filter, ...]:
        """Disjunctive normal form: one wire-ready conjunction per request, duplicates removed."""
        return (self,) if not self.is_disjunction else tuple(Filter((c,)) for c in self._dnf)

    def matches(self, did: AvailableDid, *, near: Near | None = None) -> bool:
        """Evaluate locally with server semantics (see the module docstring)."""
        compiled = self._compiled
        if compiled is None:  # once per filter, not once per record
            places = [c.value for conj in self._dnf for c in conj if isinstance(c.value, Nearby)]
            compiled = (
                tuple(tuple(_compile(c) for c in conj) for conj in self._dnf),
                next((p for p in places if p.kind != "npa"), None),
            )
            object.__setattr__(self, "_compiled", compiled)
        checks, blocker = compiled
        if near is None and blocker is not None:
            raise FilterError(f"cannot evaluate nearby {blocker.kind} locally; pass near=...")
        return any(all(check(did, near) for check in conj) for conj in checks)

    def __and__(self, other: object) -> Filter:
        if not isinstance(other, Filter):
            return NotImplemented
        return Filter(a + b for a in self._dnf for b in other._dnf)

    def __or__(self, other: object) -> Filter:
        if not isinstance(other, Filter):
            return NotImplemented
        return Filter(self._dnf + other._dnf)

    def __invert__(self) -> Filter:
        raise FilterError("CarrierX filters have no 'not'; use != on a field or another operator")

    def __bool__(self) -> bool:
        raise TypeError("a Filter has no truth value; combine filters with & and |")

    def __str__(self) -> str:
        texts = [" and ".join(map(str, conj)) for conj in self._dnf]
        return texts[0] if len(texts) == 1 else " | ".join(f"({t})" for t in texts)

    def __repr__(self) -> str:
        return f"Filter({str(self)!r})"


class Field:
    """A reference to a filterable name, ``F.state``; its operators build Filters."""

    __slots__ = ("name",)
    __hash__ = None  # type: ignore[assignment]  # == builds a Filter, so no hashing

    def __init__(self, name: str) -> None:
        if name not in _FIELDS:
            raise _unknown(name, _FIELDS)
        self.name: Final = name

    def _where(self, op: str, value: object) -> Filter:
        return Filter(((_condition(self.name, op, value),),))

    def __eq__(self, value: object) -> Filter:  # type: ignore[override]
        return self._where("eq", value)

    def __ne__(self, value: object) -> Filter:  # type: ignore[override]
        return self._where("ne", value)

    def __lt__(self, value: object) -> Filter:
        return self._where("lt", value)

    def __le__(self, value: object) -> Filter:
        return self._where("le", value)

    def __gt__(self, value: object) -> Filter:
        return self._where("gt", value)

    def __ge__(self, value: object) -> Filter:
        return self._where("ge", value)

    def like(self, pattern: str) -> Filter:
        """SQL-style pattern: ``%`` any run, ``_`` one character (6.2)."""
        return self._where("like", pattern)

    def bit(self, mask: Capability | int) -> Filter:
        """Every bit of ``mask`` is set in the field (6.2, 8.2)."""
        return self._where("bit", mask)

    def in_(self, values: Iterable[object]) -> Filter:
        """A disjunction of ``==`` conditions, one request per value (not wire syntax)."""
        if isinstance(values, str | bytes):
            raise FilterError(f"in_ takes a collection of values, not the string {values!r}")
        filters = [self == v for v in values]
        if not filters:
            raise FilterError(f"{self.name}.in_([]) matches nothing; give at least one value")
        return functools.reduce(Filter.__or__, filters)

    def nearby(
        self,
        *,
        npa: int | str | None = None,
        zip: str | None = None,
        latlng: tuple[float | Decimal, float | Decimal] | None = None,
    ) -> Filter:
        """``<field> nearby <kind>:<value>`` (4.2); pass exactly one keyword."""
        given = [
            (k, v) for k, v in (("npa", npa), ("zip", zip), ("latlng", latlng)) if v is not None
        ]
        if len(given) != 1:
            raise FilterError("nearby takes exactly one of npa=, zip=, latlng=")
        return self._where("nearby", given[0])

    def __repr__(self) -> str:
        return f"F.{self.name}"


class _FieldNamespace:
    """``F.<field>``: a Field for each filterable name; misspellings raise FilterError."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Field:
        return Field(name)

    def __dir__(self) -> list[str]:
        return list(_FIELDS)

    def __repr__(self) -> str:
        return "F"


F: Final = _FieldNamespace()


def field_name(field: str | Field) -> str:
    """Validate a DID attribute name for include_fields / exclude_fields (7)."""
    name = field.name if isinstance(field, Field) else field
    if not isinstance(name, str):
        raise TypeError(f"expected str or Field, got {type(field).__name__}")
    if name in DID_FIELDS:
        return name
    if name in _FIELDS:
        raise FilterError(
            f"{name!r} is a filter-only key, not a DID attribute; it cannot be selected"
        )
    raise _unknown(name, DID_FIELDS)


# --- local evaluation ---


def _nanp(did: AvailableDid) -> str | None:
    p = did.phonenumber
    return p[1:] if p and len(p) == 11 and p[0] == "1" and p.isascii() and p.isdigit() else None


_GETTERS: Final[Mapping[str, Callable[[AvailableDid], Any]]] = {
    "npa": lambda d: (n := _nanp(d)) and n[:3],
    "npa_nxx": lambda d: (n := _nanp(d)) and n[:6],
}


def _like(pattern: str) -> re.Pattern[str]:
    wild = {"%": ".*", "_": "."}
    return re.compile("".join(wild.get(ch) or re.escape(ch) for ch in pattern), re.DOTALL)


def _test(op: str, v: Any) -> Callable[[Any], bool]:
    if op == "like":
        rx = _like(v)
        return lambda x: isinstance(x, str) and rx.fullmatch(x) is not None
    tests: dict[str, Callable[[Any], bool]] = {
        "eq": lambda x: bool(x == v),
        "ne": lambda x: bool(x != v),
        "lt": lambda x: bool(x < v),
        "le": lambda x: bool(x <= v),
        "gt": lambda x: bool(x > v),
        "ge": lambda x: bool(x >= v),
        "bit": lambda x: int(x) & v == v,
    }
    return tests[op]


def _compile(c: Condition) -> _Check:
    """One condition as a predicate, built once per filter, not once per record."""
    if isinstance(c.value, Nearby):
        where, npa = c.value, _GETTERS["npa"]
        # Without a geo predicate only ``nearby npa:N`` is decidable: it is ``npa eq N``.
        return lambda d, near: near(d, where) if near is not None else npa(d) == where.value
    get = _GETTERS.get(c.field) or operator.attrgetter(c.field)
    test = _test(c.op, c.value)

    def check(did: AvailableDid, near: Near | None) -> bool:
        x = get(did)
        return x is not None and test(x)

    return check


# --- parsing (grammar of 6.1) ---

_SPACE: Final = re.compile(r"\s+")
_TOKEN: Final = re.compile(r""""(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s"']+)""")


@attrs.frozen
class _Token:
    text: str
    quoted: bool
    pos: int
    end: int


def _fail(source: str, pos: int, message: str) -> FilterError:
    return FilterError(f"{message} at offset {pos} in filter {source!r}")


def _skip_space(source: str, pos: int) -> int:
    m = _SPACE.match(source, pos)
    return m.end() if m else pos


def _tokens(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = _skip_space(source, 0)
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            raise _fail(source, pos, f"unterminated quote {source[pos]}")
        bare = m["bare"]
        text = bare if bare is not None else m["dq"] if m["dq"] is not None else m["sq"]
        tokens.append(_Token(text, bare is None, pos, m.end()))
        end = _skip_space(source, m.end())
        if end == m.end() < len(source):
            raise _fail(source, end, "expected whitespace between tokens")
        pos = end
    return tokens


_NO_OR_NOT: Final = "CarrierX filters join conditions with 'and' only: no 'or', no 'not' (6.1)"


def _parse(source: str) -> Filter:
    tokens = _tokens(source)
    if not tokens:
        raise FilterError("empty filter")
    conditions: list[Condition] = []
    i = 0
    while True:
        if len(tokens) - i < 3:
            missing = ("a condition", "an operator", "a value")[len(tokens) - i]
            raise _fail(source, tokens[-1].end, f"expected {missing} after {tokens[-1].text!r}")
        field, op, value = tokens[i : i + 3]
        for tok in (field, op, value):
            if not tok.quoted and ("(" in tok.text or ")" in tok.text):
                raise _fail(source, tok.pos, "parentheses are not supported (6.1)")
        if field.text.lower() == "not":
            raise _fail(source, field.pos, f"{_NO_OR_NOT} ('not')")
        if field.quoted:
            raise _fail(source, field.pos, f"expected a bare field name, got {field.text!r}")
        if field.text not in _FIELDS:
            nested = " (nested fields are not supported)" if "." in field.text else ""
            raise _fail(source, field.pos, f"{_unknown(field.text, _FIELDS)}{nested}")
        if op.quoted or op.text.lower() not in _OPERATORS:
            valid = ", ".join(_FIELDS[field.text]) or "none"
            message = f"unknown operator {op.text!r}; valid for {field.text!r}: {valid}"
            raise _fail(source, op.pos, message)
        try:
            conditions.append(_condition(field.text, op.text.lower(), value.text, text=True))
        except FilterError as e:
            raise _fail(source, op.pos, str(e)) from None
        i += 3
        if i == len(tokens):
            return Filter((tuple(conditions),))
        joiner = tokens[i]
        if joiner.quoted or joiner.text.lower() != "and":
            word = joiner.text.lower()
            if word in ("or", "not"):
                raise _fail(source, joiner.pos, f"{_NO_OR_NOT} ({word!r})")
            raise _fail(source, joiner.pos, f"expected 'and', got {joiner.text!r}")
        i += 1


@functools.lru_cache(maxsize=256)
def _parse_cached(source: str) -> Filter:
    return _parse(source)


def parse_filter(text: str) -> Filter:
    """Parse wire text (6.1) into the Filter the DSL builds; FilterError says where it fails."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    return _parse_cached(text)
