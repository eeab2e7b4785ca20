"""Evaluating a filter locally, with the server's semantics: ``Filter.matches`` (public API).
The fake server does not use it: ``testing/filtering.py`` is its own, independent evaluator.

Decisions (where sections 6.1, 6.2 and 11 leave things open):

- ``matches`` (local evaluation): eq/ne/like are
  case-sensitive; ``like`` is SQL LIKE over the whole value (``%`` any run, ``_`` one
  character, no escape); ``bit m`` holds when every bit of ``m`` is set; a field that is None
  (absent or null) matches no condition, not even ``ne``. ``npa``/``npa_nxx`` are digits 2-4
  and 2-7 of an 11-digit phonenumber starting with 1 (country code 1 is exactly NANP, so
  ``country_code`` is not consulted), None otherwise. ``nearby`` goes to the caller's
  ``near`` predicate; without one, ``nearby npa:N`` is ``npa eq N`` and zip/latlng raise.
  latlng coordinates are kept to 6 decimal places (about 0.1 m).
- Text fields order by code point for ``lt le gt ge`` (the server's collation is undocumented).
  ``attributes.<key>`` compares the key's value as text: a string as is, a boolean as
  ``true``/``false``, a number in its JSON form; a missing key, null, object or list matches
  nothing. Raw filter text cannot be evaluated locally: it raises FilterError.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from ._errors import FilterError
from ._filter_kinds import Condition, Nearby, Raw
from ._models import AvailableDid

Near = Callable[[AvailableDid, Nearby], bool]
Check = Callable[[AvailableDid, Near | None], bool]


def _nanp(did: AvailableDid) -> str | None:
    p = did.phonenumber
    return p[1:] if p and len(p) == 11 and p[0] == "1" and p.isascii() and p.isdigit() else None


_GETTERS: Final[Mapping[str, Callable[[AvailableDid], Any]]] = {
    "npa": lambda d: (n := _nanp(d)) and n[:3],
    "npa_nxx": lambda d: (n := _nanp(d)) and n[:6],
}


def _scalar_text(v: object) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str | int | float):
        return str(v)
    return None


def _nested(name: str) -> Callable[[AvailableDid], Any]:
    parent, _, key = name.partition(".")
    get = operator.attrgetter(parent)
    return lambda d: _scalar_text(obj.get(key)) if isinstance(obj := get(d), dict) else None


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


def _compile(c: Condition | Raw) -> Check:
    """One condition as a predicate, built once per filter, not once per record."""
    if isinstance(c, Raw):
        raise FilterError(f"raw filter text {c.text!r} cannot be evaluated locally")
    if isinstance(c.value, Nearby):
        where, npa = c.value, _GETTERS["npa"]
        # Without a geo predicate only ``nearby npa:N`` is decidable: it is ``npa eq N``.
        return lambda d, near: near(d, where) if near is not None else npa(d) == where.value
    get = _GETTERS.get(c.field) or (
        _nested(c.field) if "." in c.field else operator.attrgetter(c.field)
    )
    test = _test(c.op, c.value)

    def check(did: AvailableDid, near: Near | None) -> bool:
        x = get(did)
        return x is not None and test(x)

    return check
