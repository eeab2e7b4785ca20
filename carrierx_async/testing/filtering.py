"""The fake's own filter language, written from API reference 6.1, 6.2, 4.2 and 4.4 (not
from the client, so a mistake the client makes is one the fake can catch).

``parse(text)`` reads filter text into ``Condition`` values, or raises ``Rejected`` (the
server answers 400); ``compile_filter(conditions, near)`` makes one predicate over wire DID
dicts.

Grammar (6.1): ``condition ( and condition )*``, ``condition := field operator value``,
``value := bare | "double quoted" | 'single quoted'`` (no escapes). Tokens are separated by
whitespace; ``and`` and the operators are read in any case. ``or``, ``not`` and parentheses
are refused (6.1: not supported).

Fields: the top-level DID attributes of 8.1 except ``attributes`` and ``transformations``
as a whole, ``attributes.<key>`` (dot notation, 6.1), and the virtual keys ``npa`` and
``npa_nxx`` (4.4). Operators (6.2): ``eq ne lt le gt ge`` on every field, ``like`` on text,
``bit`` on the two bitmask fields, ``nearby`` on ``phonenumber`` with ``npa:<3 digits>``,
``zip:<digits>`` or ``latlng:<lat>,<lng>`` (4.2). Values: an integer for a bitmask, a
decimal number for ``price`` (compared as a number), 3 digits for ``npa``, 6 for
``npa_nxx``, any text otherwise. Everything else is refused.

Assumed where the reference is silent: text compares by code point, case-sensitively;
``like`` is SQL LIKE over the whole value (``%`` any run, ``_`` one character); ``bit m``
holds when every bit of ``m`` is set; a null or absent field matches no condition, not even
``ne``; ``attributes.<key>`` compares a string as is and a number or boolean by its JSON
text, anything else matches nothing; ``npa``/``npa_nxx`` are digits 2-4 / 2-7 of an
11-digit phonenumber starting with 1 (NANP), null otherwise.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import attrs

from .fields import DECIMAL, FIELDS, value_of

__all__ = ["Condition", "Near", "Rejected", "compile_filter", "parse"]

Record = Mapping[str, Any]
#: The ``nearby`` predicate: (record, kind, value) -> is the number near that place.
Near = Callable[[Record, str, Any], bool]


class Rejected(Exception):
    """Filter text the fake refuses (answered with 400)."""


@attrs.frozen
class Condition:
    """``field op value``; the value already read for the field (int, Decimal, str, or a
    ``(kind, value)`` pair for ``nearby``)."""

    field: str
    op: str
    value: Any


_TOKEN: Final = re.compile(r""""([^"]*)"|'([^']*)'|([^\s"']+)""")
_COMPARE: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_VIRTUAL: Final = {"npa": 3, "npa_nxx": 6}  # digits of the NANP number (4.4)
_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_DIGITS: Final = re.compile(r"[0-9]+")


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(text, quoted) per token."""
    out: list[tuple[str, bool]] = []
    pos, end = 0, len(text)
    while pos < end:
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if m is None:
            raise Rejected(f"unterminated quote at offset {pos}")
        if m.end() < end and not text[m.end()].isspace():
            raise Rejected(f"expected whitespace at offset {m.end()}")
        bare = m[3]
        out.append(
            (bare, False) if bare is not None else (m[1] if m[1] is not None else m[2], True)
        )
        pos = m.end()
    return out


def _kind(field: str) -> str:
    if field in _VIRTUAL:
        return "npa"
    if field.startswith("attributes."):
        if not _KEY.fullmatch(field.removeprefix("attributes.")):
            raise Rejected(f"cannot filter on {field!r}")
        return "text"
    kind = FIELDS.get(field)
    if kind is None:
        raise Rejected(f"unknown filter field {field!r}")
    if kind not in ("text", "bits", "price"):
        raise Rejected(f"{field!r} cannot be filtered as a whole")
    return kind


def _nearby(text: str) -> tuple[str, Any]:
    kind, _, value = text.partition(":")
    if kind == "npa" and len(value) == 3 and _DIGITS.fullmatch(value):
        return kind, value
    if kind == "zip" and _DIGITS.fullmatch(value):
        return kind, value
    if kind == "latlng":
        lat, _, lng = value.partition(",")
        if DECIMAL.fullmatch(lat) and DECIMAL.fullmatch(lng):
            point = float(lat), float(lng)
            if abs(point[0]) <= 90 and abs(point[1]) <= 180:
                return kind, point
    raise Rejected(f"nearby takes npa:<3 digits>, zip:<digits> or latlng:<lat>,<lng>, got {text!r}")


def _condition(field: str, op: str, value: str) -> Condition:
    kind = _kind(field)
    if op == "nearby":
        if field != "phonenumber":
            raise Rejected("nearby applies to phonenumber only")
        return Condition(field, op, _nearby(value))
    allowed = {"text": "like", "bits": "bit", "price": "", "npa": "like"}[kind]
    if op not in _COMPARE and op != allowed:
        raise Rejected(f"operator {op!r} does not apply to {field!r}")
    if kind == "bits":
        if not _DIGITS.fullmatch(value):
            raise Rejected(f"{field!r} takes an integer, got {value!r}")
        return Condition(field, op, int(value))
    if kind == "price":
        if not DECIMAL.fullmatch(value):
            raise Rejected(f"{field!r} takes a number, got {value!r}")
        return Condition(field, op, Decimal(value))
    if (
        kind == "npa"
        and op != "like"
        and not (len(value) == _VIRTUAL[field] and _DIGITS.fullmatch(value))
    ):
        raise Rejected(f"{field!r} takes {_VIRTUAL[field]} digits, got {value!r}")
    return Condition(field, op, value)


def parse(text: str) -> tuple[Condition, ...]:
    """The conditions of filter ``text`` (all must hold), or ``Rejected``."""
    tokens = _tokens(text)
    if not tokens:
        raise Rejected("empty filter")
    conditions: list[Condition] = []
    i = 0
    while True:
        if len(tokens) - i < 3:
            raise Rejected("a condition is field, operator and value")
        (field, fq), (op, oq), (value, _) = tokens[i : i + 3]
        for word, quoted in tokens[i : i + 3]:
            if not quoted and ("(" in word or ")" in word):
                raise Rejected("parentheses are not supported")
        if fq or oq or field.lower() == "not":
            raise Rejected(f"expected a field and an operator, got {field!r} {op!r}")
        conditions.append(_condition(field, op.lower(), value))
        i += 3
        if i == len(tokens):
            return tuple(conditions)
        joiner, quoted = tokens[i]
        if quoted or joiner.lower() != "and":
            raise Rejected(f"conditions are joined with 'and' only, got {joiner!r}")
        i += 1


def _nanp(record: Record) -> str | None:
    p = record.get("phonenumber")
    if isinstance(p, str) and len(p) == 11 and p[0] == "1" and p.isascii() and p.isdigit():
        return p[1:]
    return None


def _scalar_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def _getter(field: str) -> Callable[[Record], Any]:
    if field in _VIRTUAL:
        n = _VIRTUAL[field]
        return lambda r: None if (d := _nanp(r)) is None else d[:n]
    if field.startswith("attributes."):
        key = field.removeprefix("attributes.")
        return lambda r: (
            _scalar_text(a.get(key)) if isinstance(a := r.get("attributes"), dict) else None
        )
    return value_of(field)


def _like(pattern: str) -> Callable[[Any], bool]:
    wild = {"%": ".*", "_": "."}
    rx = re.compile("".join(wild.get(ch) or re.escape(ch) for ch in pattern), re.DOTALL)
    return lambda x: isinstance(x, str) and rx.fullmatch(x) is not None


def _test(c: Condition) -> Callable[[Any], bool]:
    if c.op == "like":
        return _like(c.value)
    if c.op == "bit":
        mask = c.value
        return lambda x: isinstance(x, int) and x & mask == mask
    compare, v = _COMPARE[c.op], c.value
    return lambda x: type(x) is type(v) and compare(x, v)


def compile_filter(conditions: Sequence[Condition], near: Near) -> Callable[[Record], bool]:
    """One predicate: every condition holds for the record."""
    checks = [_check(c, near) for c in conditions]
    if len(checks) == 1:
        return checks[0]
    return lambda r: all(check(r) for check in checks)


def _check(c: Condition, near: Near) -> Callable[[Record], bool]:
    if c.op == "nearby":
        kind, where = c.value
        return lambda r: near(r, kind, where)
    get, test = _getter(c.field), _test(c)
    return lambda r: test(get(r))  # a null never has the value's type: it matches nothing
