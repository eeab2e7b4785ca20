"""The filter expression tree: immutable, and its ``str()`` is the wire text (API ref 6).

    F.state == "NY"                          state eq NY
    (F.price <= Decimal("1")) & F.capabilities.bit(Capability.VOICE)
                                             price le 1 and capabilities bit 4
    Filter.nearby(npa=516)                   phonenumber nearby npa:516        (4.2)
    Filter.raw("state eq NY")                state eq NY, sent unchecked
    parse_filter("state eq NY")              the same tree, back from wire text

The typed field namespace ``F`` lives in ``_fields``; which operators and values each field
takes in ``_filter_kinds``; parsing wire text in ``_filter_parser``; evaluating a filter
locally (``matches``) in ``_filter_match``.

Decisions (where sections 6.1, 6.2 and 11 leave things open):

- Beyond the wire: ``|`` and ``in_`` build a disjunction, held in disjunctive normal form;
  ``alternatives()`` gives one wire-ready conjunction per request. A disjunction renders as
  ``(a) | (b)``, which no server accepts. ``~`` and ``bool()`` raise: CarrierX has no ``not``,
  and ``0 < F.price < 1`` would silently keep only half of the condition.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import attrs

from ._errors import FilterError
from ._filter_kinds import Condition, Nearby, Raw, _condition
from ._filter_match import Check, Near, _compile
from ._models import AvailableDid

__all__ = ["Filter", "nearby_condition"]

_Conj = tuple[Condition | Raw, ...]


def _normalise(dnf: Iterable[_Conj]) -> tuple[_Conj, ...]:
    """Drop repeated conditions in a conjunction and alternatives with the same conditions."""
    seen: dict[frozenset[Condition | Raw], _Conj] = {}
    for conj in dnf:
        unique = tuple(dict.fromkeys(conj))
        seen.setdefault(frozenset(unique), unique)
    return tuple(seen.values())


@attrs.frozen(repr=False)
class Filter:
    """An immutable filter expression; ``str()`` of a conjunction is the wire text.

    Build one from the fields of ``F`` (``F.state == "NY"``), with ``Filter.nearby(...)``,
    ``Filter.raw(text)`` or ``parse_filter(text)``; never call ``Filter(...)`` directly.
    ``a & b`` joins conditions with the API's ``and``. ``~a`` raises ``FilterError`` and
    ``bool(a)`` a ``TypeError`` (the API has no ``not``, and ``0 < F.price < 1`` would keep
    half of its condition). Bad fields, operators or values raise ``FilterError`` when the
    filter is built; ``help(F)`` lists what each field accepts.

    Beyond the API, which only knows ``and``: ``a | b`` (and ``F.<field>.in_([...])``) is a
    disjunction. ``client.available_dids(filter=a | b)`` runs one request stream per
    alternative, concurrently through the same client (sharing its ``max_concurrency``), and
    merges them into one stream without duplicates: it remembers the ``did_sid`` of every
    record it yielded, so its memory grows with its length. ``max_items`` applies to the
    merged stream; records arrive as the alternatives deliver them, so ``order=`` holds within
    each alternative, not across the stream. With ``pagination="keyset"`` each alternative
    seeks on its own, in order on its own. A disjunction cannot be combined with
    ``include_external=True``. Its ``str()`` is ``(a) | (b)``, which no server accepts.
    """

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
        """Numbers near a place: ``phonenumber nearby <kind>:<value>``.

        Pass exactly one keyword: ``npa=516`` (an area code), ``zip="10025"`` (a 5-digit
        string) or ``latlng=(40.8, -73.96)``. Anything else raises ``FilterError``.
        """
        return cls(((nearby_condition("phonenumber", npa=npa, zip=zip, latlng=latlng),),))

    @classmethod
    def raw(cls, text: str) -> Filter:
        """Filter text sent exactly as written, for what the client does not know yet.

        Nothing in it is checked except that it can travel as one query value: an empty
        text, a line break or another control character (or a Unicode line or paragraph
        separator) raises ``FilterError``. Combine it with typed filters by ``&`` (joined
        with ``and``) or ``|``. It cannot be evaluated locally (``matches`` raises). With
        ``include_external=True`` the raw part is not checked against ``EXTERNAL_FILTERS``
        and may carry the required ``country_code eq`` condition; the typed part still is.
        If the server refuses the text, that is its ``BadRequestError``.
        """
        return cls(((Raw(text),),))

    @property
    def is_disjunction(self) -> bool:
        """True when this filter needs more than one request (built with ``|`` or ``in_``)."""
        return len(self._dnf) > 1

    def conditions(self) -> tuple[Condition | Raw, ...]:
        """The conditions of a conjunction (raw text as ``Raw``); a disjunction raises."""
        if self.is_disjunction:
            raise FilterError(f"{self} is a disjunction; use alternatives() for its conjunctions")
        return self._dnf[0]

    def alternatives(self) -> tuple[Filter, ...]:
        """Disjunctive normal form: one wire-ready conjunction per request, duplicates removed."""
        return (self,) if not self.is_disjunction else tuple(Filter((c,)) for c in self._dnf)

    def matches(self, did: AvailableDid, *, near: Near | None = None) -> bool:
        """True when ``did`` passes the filter, evaluated locally with the server's rules.

        The fake server evaluates filters with it too. Text compares case-sensitively and,
        for ``lt le gt ge``, by code point (how the real server orders text is not
        documented); ``bit`` holds when every bit of the mask is set; a field that is absent
        or null matches no condition, not even ``ne``. ``attributes.<key>`` compares as text
        (a number or boolean as its JSON text; null, an object, a list or a missing key
        match nothing). ``near(did, place)`` decides ``nearby`` conditions; without it only
        ``npa:`` places can be evaluated and zip/latlng raise ``FilterError``, as does raw
        filter text.
        """
        compiled = self._compiled
        if compiled is None:  # once per filter, not once per record
            places = [
                c.value
                for conj in self._dnf
                for c in conj
                if isinstance(c, Condition) and isinstance(c.value, Nearby)
            ]
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


def nearby_condition(
    field: str,
    *,
    npa: int | str | None = None,
    zip: str | None = None,
    latlng: tuple[float | Decimal, float | Decimal] | None = None,
) -> Condition:
    """``<field> nearby <kind>:<value>`` from exactly one of the keywords."""
    given = [(k, v) for k, v in (("npa", npa), ("zip", zip), ("latlng", latlng)) if v is not None]
    if len(given) != 1:
        raise FilterError("nearby takes exactly one of npa=, zip=, latlng=")
    return _condition(field, "nearby", given[0])
