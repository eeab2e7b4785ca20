"""An immutable, validated query for the available-DIDs list, and its wire parameters.

Everything a caller can get wrong is checked here, before any request: page sizes,
``max_items``, field names, ``order``, the ``include_external`` rules (API
reference 4.1 and 4.3) and the keyset rules. A bad filter (its text, its conditions, one
include_external does not accept) is a ``FilterError``; every other bad argument a
``ConfigurationError``. The external-provider whitelist is the one
table ``EXTERNAL_FILTERS``; a Client can widen it with ``external_filters=``.

Keyset pagination (``pagination="keyset"``) orders by ``phonenumber`` and asks each next
page with ``offset=0`` and the caller's filter plus ``phonenumber gt <last>`` (``lt`` when
descending): the API documents ``order`` by any attribute and ``gt``/``lt`` (reference 5.1,
6.2, 4.4), which this relies on but which could not be tried against the live API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypeAlias, get_args

import attrs

from ._errors import ConfigurationError, FilterError
from ._fields import F, field_name
from ._filter_kinds import Condition, check_operator, control_character
from ._filter_parser import parse_filter
from ._filters import Filter

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "EXTERNAL_FILTERS",
    "EXTERNAL_MAX_ITEMS",
    "IDENTITY_FIELD",
    "KEYSET_FIELD",
    "MAX_EXTERNAL",
    "MAX_PAGE_SIZE",
    "OWNED_PARAMS",
    "Order",
    "PAGINATION_MODES",
    "Pagination",
    "Query",
    "build_query",
    "check_did_sid",
    "check_extra_params",
    "field_params",
    "keyset_filter",
    "widen_external_filters",
]

#: The API's upper bound for ``limit`` (reference 5.1); also our default page size.
MAX_PAGE_SIZE: Final = 1000
DEFAULT_PAGE_SIZE: Final = MAX_PAGE_SIZE
#: ``page_size`` and ``max_items`` are at most 10 with include_external (reference 4.3).
EXTERNAL_MAX_ITEMS: Final = 10
#: An include_external answer holds up to ``limit`` internal numbers, then up to this many
#: external ones: more than ``limit`` records in all (reference 4.1; ``most_records``).
MAX_EXTERNAL: Final = 10

#: (field, operator) pairs accepted in ``filter`` with ``include_external=True``.
#: The documented list was not retrievable (reference 4.3); these are the candidates
#: from the coverage endpoint plus phonenumber like/nearby. Edit here when it is known.
EXTERNAL_FILTERS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("country_code", "eq"),
        ("state", "eq"),
        ("locality", "eq"),
        ("phonenumber", "like"),
        ("phonenumber", "nearby"),
        ("capabilities", "bit"),
        ("capabilities", "eq"),
        ("npa", "eq"),
        ("npa_nxx", "eq"),
    }
)

#: Query arguments the client writes itself: ``extra_params`` cannot set them (in any
#: spelling: case, ``_`` and ``-`` are ignored), since they would break paging or validation.
OWNED_PARAMS: Final = frozenset(
    {"limit", "offset", "filter", "order", "include_fields", "exclude_fields", "include_external"}
)
_OWNED_SPELLINGS: Final = {name.replace("_", ""): name for name in OWNED_PARAMS}
_SID_CHARS: Final = frozenset("0123456789abcdefABCDEF-")

#: The field that tells records apart: always requested, even when field filtering
#: leaves it out (the walk then drops it from the records it yields).
IDENTITY_FIELD: Final = "did_sid"
#: The field a keyset walk orders by and seeks past: unique per number, a string (8.1).
KEYSET_FIELD: Final = "phonenumber"
#: ``available_dids(pagination=...)``: "offset" (the default) or "keyset".
Pagination: TypeAlias = Literal["offset", "keyset"]
PAGINATION_MODES: Final = get_args(Pagination)

#: ``available_dids(order=...)``: ``"<field>"``, ``"<field> asc"``, ``"<field> desc"`` for
#: every DID attribute but the two structured ones (reference 5.1), or ``"shuffle"``; so
#: mypy flags a misspelt field or direction. Checked at run time too; text computed at run
#: time type-checks as ``typing.cast(Order, text)``.
Order: TypeAlias = Literal[
    "active_capabilities", "active_capabilities asc", "active_capabilities desc",
    "callback_url", "callback_url asc", "callback_url desc",
    "campaign_sid", "campaign_sid asc", "campaign_sid desc",
    "capabilities", "capabilities asc", "capabilities desc",
    "classification_sid", "classification_sid asc", "classification_sid desc",
    "country_code", "country_code asc", "country_code desc",
    "did_group_sid", "did_group_sid asc", "did_group_sid desc",
    "did_sid", "did_sid asc", "did_sid desc",
    "in_country_format", "in_country_format asc", "in_country_format desc",
    "international_format", "international_format asc", "international_format desc",
    "lata", "lata asc", "lata desc",
    "locality", "locality asc", "locality desc",
    "lrn_sid", "lrn_sid asc", "lrn_sid desc",
    "name", "name asc", "name desc",
    "ocn", "ocn asc", "ocn desc",
    "partner_sid", "partner_sid asc", "partner_sid desc",
    "phonenumber", "phonenumber asc", "phonenumber desc",
    "porting_pin", "porting_pin asc", "porting_pin desc",
    "price", "price asc", "price desc",
    "state", "state asc", "state desc",
    "status", "status asc", "status desc",
    "string_key_1", "string_key_1 asc", "string_key_1 desc",
    "string_key_2", "string_key_2 asc", "string_key_2 desc",
    "trunk_group_sid", "trunk_group_sid asc", "trunk_group_sid desc",
    "shuffle",
]  # fmt: skip
_ORDERS: Final = frozenset(get_args(Order))
_ORDERABLE: Final = sorted({order.split()[0] for order in _ORDERS} - {"shuffle"})


@attrs.frozen(kw_only=True)
class Query:
    """What to ask for: validated once, then turned into each request's parameters."""

    filter: Filter | None = None
    order: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    max_items: int | None = None
    include_fields: tuple[str, ...] | None = None
    exclude_fields: tuple[str, ...] | None = None
    include_external: bool = False
    extra_params: tuple[tuple[str, str], ...] = ()
    pagination: Pagination = "offset"

    @property
    def keyset(self) -> bool:
        """True when the walk seeks by ``phonenumber`` instead of counting offsets."""
        return self.pagination == "keyset"

    @property
    def descending(self) -> bool:
        """True when the order is ``<field> desc``."""
        return self.order is not None and self.order.endswith(" desc")

    @property
    def hides_identity(self) -> bool:
        """True when field filtering leaves out ``IDENTITY_FIELD`` (requested anyway)."""
        return (self.include_fields is not None and IDENTITY_FIELD not in self.include_fields) or (
            self.exclude_fields is not None and IDENTITY_FIELD in self.exclude_fields
        )

    def most_records(self, limit: int) -> int:
        """The most records an answer to a request for ``limit`` may hold."""
        return limit + MAX_EXTERNAL if self.include_external else limit

    def params(self, *, offset: int, limit: int, after: str | None = None) -> dict[str, str]:
        """The query-string arguments of one page request (yarl encodes them).

        ``after`` (keyset mode) is the last key yielded: the filter gains the seek condition.
        """
        params = dict(self.extra_params)  # first: the client's own arguments always win
        params.update(limit=str(limit), offset=str(offset))
        flt = self.filter
        if after is not None:
            seek = keyset_filter(after, descending=self.descending)
            flt = seek if flt is None else flt & seek
        if flt is not None:
            params["filter"] = str(flt)
        if self.order is not None:
            params["order"] = self.order
        include, exclude = self.include_fields, self.exclude_fields
        if include is not None and IDENTITY_FIELD not in include:
            include = (*include, IDENTITY_FIELD)
        if exclude is not None:
            exclude = tuple(name for name in exclude if name != IDENTITY_FIELD) or None
        params.update(field_params(include, exclude))
        if self.include_external:
            params["include_external"] = "true"
        return params

    def with_filter(self, flt: Filter) -> Query:
        """The same query with another filter (one alternative of an ``|`` filter)."""
        return attrs.evolve(self, filter=flt)


def keyset_filter(after: str, *, descending: bool = False) -> Filter:
    """The seek condition of a keyset walk: ``phonenumber gt <after>`` (``lt`` descending)."""
    try:
        return F.phonenumber < after if descending else F.phonenumber > after
    except FilterError as exc:
        raise FilterError(f"cannot seek past phonenumber {after!r}: {exc}") from None


def check_did_sid(did_sid: Any) -> str:
    """A DID SID that can go in the URL path (hex digits and dashes), or ConfigurationError."""
    if not isinstance(did_sid, str) or not did_sid or not _SID_CHARS.issuperset(did_sid):
        raise ConfigurationError(f"did_sid must be a SID like 'c3f8...-...', got {did_sid!r}")
    return did_sid


def widen_external_filters(pairs: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    """EXTERNAL_FILTERS plus ``pairs``, each checked to be a field/operator the DSL knows."""
    extra = set()
    for pair in pairs:
        try:
            field, op = pair
            check_operator(field, op)
        except (TypeError, ValueError) as exc:  # FilterError is a ValueError
            raise ConfigurationError(f"external_filters entry {pair!r}: {exc}") from None
        extra.add((field, op))
    return EXTERNAL_FILTERS | extra


def _param_text(what: str, text: str) -> str:
    if (bad := control_character(text)) is not None:
        raise ConfigurationError(f"extra_params {what} holds the control character {bad!r}")
    return text


def check_extra_params(
    extra: Mapping[str, str | int | bool] | None,
) -> tuple[tuple[str, str], ...]:
    """``extra_params`` as (name, wire text) pairs; ConfigurationError for a key the client
    owns."""
    if extra is None:
        return ()
    if not isinstance(extra, Mapping):
        raise ConfigurationError(f"extra_params must be a mapping, got {type(extra).__name__}")
    pairs = []
    for key, value in extra.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigurationError(f"extra_params keys must be non-empty strings, got {key!r}")
        owned = _OWNED_SPELLINGS.get(key.lower().replace("_", "").replace("-", ""))
        if owned is not None:
            raise ConfigurationError(
                f"extra_params cannot set {key!r}: the client sends {owned!r} itself (paging "
                f"and validation depend on it); use the {owned}= argument instead"
            )
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(int(value))  # the number, also for a Capability (str() names bits)
        elif isinstance(value, str):
            text = str(value)
        else:
            raise ConfigurationError(
                f"extra_params[{key!r}] must be a str, int or bool, got {type(value).__name__}"
            )
        pairs.append((_param_text(f"key {key!r}", key), _param_text(f"[{key!r}]", text)))
    return tuple(pairs)


def _positive_int(name: str, value: Any, upper: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ConfigurationError(f"{name} must be at least 1, got {value}")
    if upper is not None and value > upper:
        raise ConfigurationError(f"{name} must be at most {upper}, got {value}")
    return value


def _fields(name: str, value: Iterable[Any] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    try:
        if isinstance(value, bytes | bytearray):
            raise TypeError("bytes, not text")
        names = tuple(
            dict.fromkeys(field_name(v.strip() if isinstance(v, str) else v) for v in value)
        )
    except TypeError as exc:
        raise ConfigurationError(
            f"{name} must be field names (str or F.<field>) or a comma-separated str: {exc}"
        ) from None
    except FilterError as exc:  # an unknown or filter-only name, from field_name
        raise ConfigurationError(f"{name}: {exc}") from None
    if not names:
        raise ConfigurationError(f"{name} is empty; pass None to get every field")
    return names


def field_params(
    include: tuple[str, ...] | None, exclude: tuple[str, ...] | None
) -> dict[str, str]:
    """The field-filtering arguments, comma-joined."""
    if include is not None:
        return {"include_fields": ",".join(include)}
    if exclude is not None:
        return {"exclude_fields": ",".join(exclude)}
    return {}


def validate_fields(
    include_fields: Iterable[Any] | None, exclude_fields: Iterable[Any] | None
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """Check field lists; both at once is refused (the API does not define it)."""
    include = _fields("include_fields", include_fields)
    exclude = _fields("exclude_fields", exclude_fields)
    if include is not None and exclude is not None:
        raise ConfigurationError(
            "pass include_fields or exclude_fields, not both: "
            "the API does not define how they combine"
        )
    return include, exclude


def _order(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"order must be a string, got {type(value).__name__} {value!r}")
    text = " ".join(value.split())
    if text not in _ORDERS:
        raise ConfigurationError(
            f"order {value!r} is not '<field>', '<field> asc', '<field> desc' or 'shuffle' "
            f"with one of: {', '.join(_ORDERABLE)}"
        )
    return text


def _check_external(
    flt: Filter | None, page_size: int, max_items: int | None, allowed: frozenset[tuple[str, str]]
) -> None:
    """The include_external=true rules (reference 4.1, 4.3), each with how to fix the call."""
    if flt is None:
        raise FilterError(
            "include_external=True needs a filter with a country_code eq condition, "
            "e.g. F.country_code == 'USA'"
        )
    if flt.is_disjunction:
        raise FilterError(
            "include_external=True cannot be combined with '|' or in_(): the external "
            "provider search is a single request; run one search per alternative"
        )
    # Raw filter text is not read: it may hold the country_code condition, and its pairs
    # are the server's to judge.
    conditions = [c for c in flt.conditions() if isinstance(c, Condition)]
    has_raw = len(conditions) < len(flt.conditions())
    if not has_raw and not any(c.field == "country_code" and c.op == "eq" for c in conditions):
        raise FilterError(
            "include_external=True needs a country_code eq condition in the filter, "
            "e.g. & (F.country_code == 'USA')"
        )
    for c in conditions:
        if (c.field, c.op) not in allowed:
            pairs = ", ".join(f"{f} {o}" for f, o in sorted(allowed))
            raise FilterError(
                f"'{c.field} {c.op}' is not allowed with include_external=True; allowed: {pairs} "
                "(widen with Client(external_filters=...) if the API accepts more)"
            )
    if page_size > EXTERNAL_MAX_ITEMS:
        raise ConfigurationError(
            f"include_external=True returns at most {EXTERNAL_MAX_ITEMS} records and does not "
            f"paginate: page_size must be at most {EXTERNAL_MAX_ITEMS}, got {page_size}"
        )
    if max_items is not None and max_items > EXTERNAL_MAX_ITEMS:
        raise ConfigurationError(
            f"include_external=True returns at most {EXTERNAL_MAX_ITEMS} records: "
            f"max_items must be at most {EXTERNAL_MAX_ITEMS}, got {max_items}"
        )


def _check_keyset(
    order: str | None,
    include: tuple[str, ...] | None,
    exclude: tuple[str, ...] | None,
    include_external: bool,
) -> str:
    """The keyset rules, each refused before any request; returns the order to send."""
    if include_external:
        raise ConfigurationError(
            "pagination='keyset' cannot be combined with include_external=True: the external "
            "provider search is a single request without pagination"
        )
    if order is None or order == KEYSET_FIELD:
        order = f"{KEYSET_FIELD} asc"
    if order not in (f"{KEYSET_FIELD} asc", f"{KEYSET_FIELD} desc"):
        raise ConfigurationError(
            f"pagination='keyset' walks in {KEYSET_FIELD} order: order must be None, "
            f"'{KEYSET_FIELD}', '{KEYSET_FIELD} asc' or '{KEYSET_FIELD} desc', got {order!r}; "
            "use pagination='offset' for another order"
        )
    if (include is not None and KEYSET_FIELD not in include) or (
        exclude is not None and KEYSET_FIELD in exclude
    ):
        raise ConfigurationError(
            f"pagination='keyset' needs {KEYSET_FIELD} in every record to seek past it: "
            f"keep it in include_fields / out of exclude_fields"
        )
    return order


def build_query(
    *,
    filter: Filter | str | None = None,
    order: Order | None = None,
    page_size: int | None = None,
    max_items: int | None = None,
    include_fields: Iterable[Any] | None = None,
    exclude_fields: Iterable[Any] | None = None,
    include_external: bool = False,
    external_filters: frozenset[tuple[str, str]] = EXTERNAL_FILTERS,
    extra_params: Mapping[str, str | int | bool] | None = None,
    pagination: Pagination = "offset",
) -> Query:
    """Validate every argument of ``available_dids`` and return an immutable Query."""
    if pagination not in PAGINATION_MODES:
        raise ConfigurationError(f"pagination must be 'offset' or 'keyset', got {pagination!r}")
    if isinstance(filter, str):
        flt: Filter | None = parse_filter(filter) if filter.strip() else None
    elif filter is None or isinstance(filter, Filter):
        flt = filter
    else:
        raise FilterError(f"filter must be a Filter or a string, got {type(filter).__name__}")
    if not isinstance(include_external, bool):
        raise ConfigurationError("include_external must be True or False")
    default_size = EXTERNAL_MAX_ITEMS if include_external else DEFAULT_PAGE_SIZE
    size = (
        default_size if page_size is None else _positive_int("page_size", page_size, MAX_PAGE_SIZE)
    )
    limit = None if max_items is None else _positive_int("max_items", max_items)
    if include_external:
        _check_external(flt, size, limit, external_filters)
    include, exclude = validate_fields(include_fields, exclude_fields)
    order_text = _order(order)
    if pagination == "keyset":
        order_text = _check_keyset(order_text, include, exclude, include_external)
    return Query(
        filter=flt,
        order=order_text,
        page_size=size,
        max_items=limit,
        include_fields=include,
        exclude_fields=exclude,
        include_external=include_external,
        extra_params=check_extra_params(extra_params),
        pagination=pagination,
    )
