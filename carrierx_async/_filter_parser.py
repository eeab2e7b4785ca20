"""Parsing filter wire text (the grammar of API reference 6.1) back into a Filter.

Decisions (where sections 6.1, 6.2 and 11 leave things open):

- Parsing: ``and`` and operators in any case (rendered lower case), field names exact,
  any whitespace between tokens; ``or``, ``not`` and parentheses are errors. Nested
  ``attributes.<key>`` is accepted (dot notation, 6.1). What the parser refuses can still be
  sent with ``Filter.raw``.
"""

from __future__ import annotations

import functools
import re
from typing import Final

import attrs

from ._errors import FilterError
from ._filter_kinds import (
    _OPERATORS,
    _WAY_OUT,
    Condition,
    _condition,
    _operators,
    not_a_value,
)
from ._filters import Filter

__all__ = ["parse_filter"]

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


_NO_OR_NOT: Final = "CarrierX filters join conditions with 'and' only: no 'or', no 'not'"


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
                raise _fail(source, tok.pos, "parentheses are not supported")
        if field.text.lower() == "not":
            raise _fail(source, field.pos, f"{_NO_OR_NOT} ('not')")
        if field.quoted:
            raise _fail(source, field.pos, f"expected a bare field name, got {field.text!r}")
        try:
            ops = _operators(field.text)
        except FilterError as e:
            raise _fail(source, field.pos, str(e)) from None
        if not ops:
            raise _fail(source, field.pos, str(not_a_value(field.text)))
        if op.quoted or op.text.lower() not in _OPERATORS:
            valid = ", ".join(ops) or "none"
            message = f"unknown operator {op.text!r}; valid for {field.text!r}: {valid}{_WAY_OUT}"
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
    """Parse filter text into the Filter the DSL builds, checked the same way.

    ``parse_filter("state eq NY and price le 1")``. A plain string given as ``filter=`` goes
    through it, so a typo fails before the request rather than with a 400. Operators and
    ``and`` in any case, field names exact; values bare or in double or single quotes.
    Raises ``FilterError`` naming the offset of the first problem (unknown field or
    operator, wrong value, ``or``/``not``/parentheses); a non-str raises ``TypeError``. To
    send text the client refuses, use ``Filter.raw``.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    return _parse_cached(text)
