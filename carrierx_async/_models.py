"""Data classes for the Browse Available DIDs resource (API reference sections 5 and 8).

Field names are the wire names. Every field is optional because field filtering
(``include_fields`` / ``exclude_fields``) can drop any of them: absent means ``None``.
Models are data only: no client reference, no I/O.
"""

from __future__ import annotations

import enum
import typing
from decimal import Decimal
from typing import Any, Generic, TypeVar

import attrs

__all__ = ["AvailableDid", "Capability", "Page"]

T = TypeVar("T")
U = TypeVar("U")


class Capability(enum.IntFlag):
    """What a number can do: the ``capabilities`` bitmask (values summed, 31 = all).

    Only the five documented bits exist: a Capability of 64, or of -1, is a ValueError (a
    plain IntFlag keeps 64 and reads -1 as all five bits).

    ``str()`` (and ``print``, ``f"{mask}"``) names the bits, lowest first:
    ``str(Capability.VOICE | Capability.SMS_OUT) == "SMS_OUT|VOICE"``; no bits is ``"0"``.
    ``int(mask)``, ``format(mask, "d")`` and any other format spec give the number, and
    ``repr`` shows both: ``<Capability.SMS_OUT|VOICE: 6>``.
    """

    SMS_IN = 1
    SMS_OUT = 2
    VOICE = 4
    MMS_IN = 8
    MMS_OUT = 16

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if type(value) is int and 0 <= value <= 31:
            return super()._missing_(value)
        raise ValueError(f"{value!r} is not a capability bitmask (0..31)")

    def __invert__(self) -> Capability:
        return Capability(31 & ~self._value_)

    def __str__(self) -> str:
        return self.name or "0"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else int.__format__(self, spec)


# The wire schema, stated once: each field is named as on the wire and typed as the JSON
# value it is decoded from (``_convert`` derives every decoder from these annotations).
# Not slotted: the decoder fills a whole instance with one __dict__ assignment, several
# times faster than 27 slot writes (measured when it was chosen); frozen all the same.
@attrs.frozen(kw_only=True, slots=False)
class AvailableDid:
    """A rentable phone number: the API's DID object, every field ``None`` when absent.

    ``present_fields`` holds the wire names the server sent (tells absent from ``null``);
    ``to_dict()`` gives the record back as JSON-ready wire values.
    """

    active_capabilities: Capability | None = None
    attributes: dict[str, Any] | None = None
    callback_url: str | None = None
    campaign_sid: str | None = None
    capabilities: Capability | None = None
    classification_sid: str | None = None
    country_code: str | None = None
    did_group_sid: str | None = None
    did_sid: str | None = None
    in_country_format: str | None = None
    international_format: str | None = None
    lata: str | None = None
    locality: str | None = None
    lrn_sid: str | None = None
    name: str | None = None
    ocn: str | None = None
    partner_sid: str | None = None
    phonenumber: str | None = None
    porting_pin: str | None = None
    price: Decimal | None = None
    state: str | None = None
    status: str | None = None
    string_key_1: str | None = None
    string_key_2: str | None = None
    transformations: list[dict[str, Any]] | None = None
    trunk_group_sid: str | None = None
    # Which wire fields the server actually sent; lets callers tell "absent" from "null".
    present_fields: frozenset[str] = attrs.field(factory=frozenset, eq=False, repr=False)

    def to_dict(self, *, all_fields: bool = False) -> dict[str, Any]:
        """The record as the server sent it, ready for ``json.dumps``: wire names in wire
        order, ``price`` as its decimal string (``str`` of the Decimal, e.g. ``"0.50"``),
        ``capabilities``/``active_capabilities`` as ints, ``attributes`` and
        ``transformations`` as given (the record's own objects, not copies).

        Only the fields the server sent (``present_fields``), ``null`` ones included;
        ``all_fields=True`` gives every field, ``None`` for those not sent. The decoder
        reads the result back: ``decode_did(did.to_dict()) == did``.
        """
        values = vars(self)
        names = DID_FIELDS_ORDER if all_fields else _sent(self.present_fields)
        return {name: _to_json(values[name]) for name in names}


def _to_json(value: Any) -> Any:
    """A field's value as JSON: Decimal as its text, a Capability as its int."""
    kind = type(value)
    if kind is Decimal:
        return str(value)
    if kind is Capability:
        return int(value)
    return value


#: Each wire field's type, read from the annotations above.
DID_TYPES: dict[str, Any] = {
    name: kind
    for name, kind in typing.get_type_hints(AvailableDid).items()
    if name != "present_fields"
}
DID_FIELDS: frozenset[str] = frozenset(DID_TYPES)
#: The wire fields in wire order (API 8.1: alphabetical, as declared above).
DID_FIELDS_ORDER: tuple[str, ...] = tuple(DID_TYPES)


def _sent(present: frozenset[str]) -> tuple[str, ...] | list[str]:
    """The fields of ``present`` in wire order."""
    if present == DID_FIELDS:
        return DID_FIELDS_ORDER
    return [name for name in DID_FIELDS_ORDER if name in present]


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One response of a list request: the API's list envelope and its items."""

    items: list[T]
    count: int
    has_more: bool
    limit: int | None = None
    offset: int | None = None
    total: int | None = None
    next_url: str | None = None

    def with_items(self, items: list[U]) -> Page[U]:
        """The same envelope holding other items (cheaper than attrs.evolve per page)."""
        return Page(
            items=items,
            count=self.count,
            has_more=self.has_more,
            limit=self.limit,
            offset=self.offset,
            total=self.total,
            next_url=self.next_url,
        )
