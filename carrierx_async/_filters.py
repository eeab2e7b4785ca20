"""The filter DSL: a small immutable expression tree whose ``str()`` is the wire text (API ref 6).

    F.state == "NY"                          state eq NY
    (F.price <= Decimal("1")) & F.capabilities.bit(Capability.VOICE)
                                             price le 1 and capabilities bit 4
    Filter.nearby(npa=516)                   phonenumber nearby npa:516        (4.2)
    parse_filter("state eq NY")              the same tree, back from wire text

Which operators and values each field takes lives in ``_filter_kinds``; parsing wire text in
``_filter_parser``; evaluating a filter locally (``matches``) in ``_filter_match``.

Decisions (where sections 6.1, 6.2 and 11 leave things open):

- Beyond the wire: ``|`` and ``in_`` build a disjunction, held in disjunctive normal form;
  ``alternatives()`` gives one wire-ready conjunction per request. A disjunction renders as
  ``(a) | (b)``, which no server accepts. ``~`` and ``bool()`` raise: CarrierX has no ``not``,
  and ``0 < F.price < 1`` would silently keep only half of the condition.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal
from typing import Final

import attrs

from ._errors import FilterError
from ._filter_kinds import _FIELDS, Condition, Nearby, _condition, _unknown
from ._filter_match import Check, Near, _compile
from ._models import DID_FIELDS, AvailableDid, Capability

__all__ = ["F", "Field", "Filter", "field_name"]

_Conj = tuple[Condition, ...]


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
    _compiled: tuple[tuple[tuple[Check, ...], ...], Nearby | None] | None = attrs.field(
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
