"""The typed field namespace ``F``: one attribute per filterable field, typed by its value.

``F.state`` is a ``TextField``, ``F.price`` a ``PriceField`` and so on, so ``mypy --strict``
flags a misspelt field (``F.stat``) and a wrong value type (``F.price <= "1.5"``; an ``==``
with a wrong type is a ``bool``, which no filter argument accepts), and editors complete
field names. The runtime checks stay: every operator validates its value through
``_filter_kinds``, so untyped code gets the same ``FilterError``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Generic, NoReturn, TypeVar

from ._errors import FilterError
from ._filter_kinds import (
    _FIELDS,
    _WAY_OUT,
    OPERATOR_METHODS,
    _condition,
    _operators,
    _unknown,
    nested_name,
    no_such_operator,
    not_a_value,
)
from ._filters import Filter, nearby_condition
from ._models import DID_FIELDS, Capability

__all__ = [
    "AreaCodeField",
    "AttributesField",
    "BitmaskField",
    "F",
    "Field",
    "FieldNamespace",
    "ListField",
    "PhoneNumberField",
    "PriceField",
    "TextField",
    "field_name",
]

V = TypeVar("V")


class _Named:
    """A DID field name (``F.<name>``), usable in ``include_fields``/``exclude_fields``."""

    __slots__ = ("name",)
    __hash__ = None  # type: ignore[assignment]  # == builds a Filter, so no hashing

    def __init__(self, name: str) -> None:
        _operators(name)  # FilterError for an unknown field
        self.name: Final = name

    # For attributes/transformations, which compare with nothing: FilterError, not False.
    def __eq__(self, value: object) -> NoReturn:
        raise not_a_value(self.name)

    def __ne__(self, value: object) -> NoReturn:
        raise not_a_value(self.name)

    def __repr__(self) -> str:
        parent, dot, key = self.name.partition(".")
        return f"F.{parent}[{key!r}]" if dot else f"F.{parent}"

    if not TYPE_CHECKING:  # at run time only: mypy must keep flagging F.state.bit

        def __getattr__(self, attr: str) -> NoReturn:
            # Only for names normal lookup did not find: an operator this field lacks is a
            # FilterError (also an AttributeError) naming the ones it has and the way out.
            if attr in OPERATOR_METHODS:
                raise no_such_operator(self.name, attr)
            raise AttributeError(f"{type(self).__name__} object has no attribute {attr!r}")


class Field(_Named, Generic[V]):
    """A filterable field; each comparison builds a one-condition ``Filter``.

    ``==  !=  <  <=  >  >=`` send ``eq ne lt le gt ge``. A value of the wrong type or out of
    range raises ``FilterError``. ``in_(values)`` is a disjunction of ``==`` conditions.
    """

    __slots__ = ()

    def _where(self, op: str, value: object) -> Filter:
        return Filter(((_condition(self.name, op, value),),))

    def __eq__(self, value: V) -> Filter:  # type: ignore[override]
        return self._where("eq", value)

    def __ne__(self, value: V) -> Filter:  # type: ignore[override]
        return self._where("ne", value)

    def __lt__(self, value: V) -> Filter:
        return self._where("lt", value)

    def __le__(self, value: V) -> Filter:
        return self._where("le", value)

    def __gt__(self, value: V) -> Filter:
        return self._where("gt", value)

    def __ge__(self, value: V) -> Filter:
        return self._where("ge", value)

    def in_(self, values: Iterable[V]) -> Filter:
        """Any of ``values``: one request per value, merged (the API has no ``or``).

        Raises ``FilterError`` for a string (not a collection) or an empty collection.
        """
        if isinstance(values, str | bytes):
            raise FilterError(f"in_ takes a collection of values, not the string {values!r}")
        filters = [self == v for v in values]
        if not filters:
            raise FilterError(f"{self.name}.in_([]) matches nothing; give at least one value")
        return functools.reduce(Filter.__or__, filters)


class TextField(Field[str]):
    """A text field: compare with a ``str``; ``like`` matches a pattern."""

    __slots__ = ()

    def like(self, pattern: str) -> Filter:
        """SQL-style pattern: ``%`` any run of characters, ``_`` exactly one.

        Raises ``FilterError`` for a pattern that is not a ``str`` or cannot travel.
        """
        return self._where("like", pattern)


class PhoneNumberField(TextField):
    """``phonenumber``: text (E.164 digits without ``+``), and ``nearby`` a place."""

    __slots__ = ()

    def nearby(
        self,
        *,
        npa: int | str | None = None,
        zip: str | None = None,
        latlng: tuple[float | Decimal, float | Decimal] | None = None,
    ) -> Filter:
        """Numbers near a place; pass exactly one keyword (see ``Filter.nearby``).

        Raises ``FilterError`` for none or several keywords, or a value of the wrong form.
        """
        return Filter(((nearby_condition(self.name, npa=npa, zip=zip, latlng=latlng),),))


class PriceField(Field[Decimal | int]):
    """``price``: compare with a ``Decimal`` or ``int`` (a float raises: money is Decimal)."""

    __slots__ = ()


class BitmaskField(Field[Capability | int]):
    """A ``Capability`` bitmask: compare with a Capability or 0..31; ``bit`` tests bits."""

    __slots__ = ()

    def bit(self, mask: Capability | int) -> Filter:
        """Every bit of ``mask`` (1..31) is set in the field.

        Raises ``FilterError`` for a mask that is not a ``Capability`` or an int in 1..31.
        """
        return self._where("bit", mask)


class AreaCodeField(Field[int | str]):
    """``npa`` (3 digits) or ``npa_nxx`` (6 digits): compare with an int or a digit string."""

    __slots__ = ()


class AttributesField(_Named):
    """``attributes``: filter one key by dot notation, ``F.attributes["key"] == "x"``."""

    __slots__ = ()

    def __getitem__(self, key: str) -> TextField:
        """The text field ``attributes.<key>``; a key of letters, digits, ``_`` and ``-``.

        Raises ``FilterError`` for a key that is not a ``str`` or holds other characters.
        """
        return TextField(nested_name(self.name, key))


class ListField(_Named):
    """``transformations``: selectable with ``include_fields``, not filterable."""

    __slots__ = ()


class FieldNamespace:
    """``F.<field>``: every filterable DID field, typed by the values it compares with.

    ``F.state == "NY"`` is a ``Filter`` whose ``str()`` is the wire text ``state eq NY``. The
    API documents its operators in general, not per field, and says any top-level field can
    be filtered "with some exceptions" it does not list, so only what is clearly wrong is
    refused, with ``FilterError`` when the filter is built:

    - ``== != < <= > >=`` (sent ``eq ne lt le gt ge``) apply to every field, with a value of
      the field's type: ``str`` for text fields (``TextField``, ``PhoneNumberField``);
      ``Decimal`` or ``int`` for ``price`` (a ``float`` is refused: money is Decimal);
      ``Capability`` or an int in 0..31 for ``capabilities`` and ``active_capabilities``
      (``BitmaskField``); an int or digit string of 3 digits for ``npa`` and 6 for
      ``npa_nxx`` (``AreaCodeField``: virtual keys, the area code and exchange of a NANP
      number). ``None`` and ``bool`` values are refused.
    - ``.like(pattern)`` on text fields, ``.bit(mask)`` on the bitmasks (every bit of the
      mask set), ``.nearby(...)`` on ``phonenumber``; another pairing (``F.price.like("1%")``)
      is a ``FilterError`` naming the operators that apply.
    - ``F.attributes["key"]`` is the text field ``attributes.key`` (dot notation; a key of
      letters, digits, ``_`` and ``-``). ``transformations`` is selectable, not filterable.
    - ``.in_(values)`` and ``|`` build alternatives the client runs as separate requests
      (see ``help(Filter)``); there is no ``not``.

    For mypy every field is a typed attribute, so ``mypy --strict`` flags ``F.stat`` (no
    such attribute) and ``F.price <= "1.5"`` (unsupported operand); an ``==`` with a wrong
    value type, such as ``F.price == "1.5"``, type-checks as a ``bool``, which no
    ``filter=`` argument accepts. At run time a misspelt name raises ``FilterError`` (also
    an ``AttributeError``) with a suggestion. ``F.<field>`` also names a field in
    ``include_fields=`` / ``exclude_fields=``.
    """

    __slots__ = ()

    active_capabilities: Final = BitmaskField("active_capabilities")
    attributes: Final = AttributesField("attributes")
    callback_url: Final = TextField("callback_url")
    campaign_sid: Final = TextField("campaign_sid")
    capabilities: Final = BitmaskField("capabilities")
    classification_sid: Final = TextField("classification_sid")
    country_code: Final = TextField("country_code")
    did_group_sid: Final = TextField("did_group_sid")
    did_sid: Final = TextField("did_sid")
    in_country_format: Final = TextField("in_country_format")
    international_format: Final = TextField("international_format")
    lata: Final = TextField("lata")
    locality: Final = TextField("locality")
    lrn_sid: Final = TextField("lrn_sid")
    name: Final = TextField("name")
    npa: Final = AreaCodeField("npa")
    npa_nxx: Final = AreaCodeField("npa_nxx")
    ocn: Final = TextField("ocn")
    partner_sid: Final = TextField("partner_sid")
    phonenumber: Final = PhoneNumberField("phonenumber")
    porting_pin: Final = TextField("porting_pin")
    price: Final = PriceField("price")
    state: Final = TextField("state")
    status: Final = TextField("status")
    string_key_1: Final = TextField("string_key_1")
    string_key_2: Final = TextField("string_key_2")
    transformations: Final = ListField("transformations")
    trunk_group_sid: Final = TextField("trunk_group_sid")

    if not TYPE_CHECKING:  # at run time only: mypy must keep flagging unknown names

        def __getattr__(self, name: str) -> _Named:
            raise _unknown(name, _FIELDS, _WAY_OUT)

    def __dir__(self) -> list[str]:
        return list(_FIELDS)

    def __repr__(self) -> str:
        return "F"


F: Final = FieldNamespace()


def field_name(field: str | _Named) -> str:
    """Validate a DID attribute name for include_fields / exclude_fields."""
    name = field.name if isinstance(field, _Named) else field
    if not isinstance(name, str):
        raise TypeError(f"expected str or Field, got {type(field).__name__}")
    if name in DID_FIELDS:
        return name
    if name in _FIELDS:
        raise FilterError(
            f"{name!r} is a filter-only key, not a DID attribute; it cannot be selected"
        )
    raise _unknown(name, DID_FIELDS)
