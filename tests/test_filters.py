"""Tests for the filter DSL: rendering, validation, parsing, local evaluation, DNF."""

from __future__ import annotations

import functools
import operator
import time
from decimal import Decimal

import attrs
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from carrierx_async._errors import FilterError
from carrierx_async._fields import F, Field, field_name
from carrierx_async._filter_kinds import _FIELDS, Condition, Nearby
from carrierx_async._filter_parser import parse_filter
from carrierx_async._filters import Filter
from carrierx_async._models import DID_FIELDS, AvailableDid, Capability

# --- rendering: each construct -> exact wire text ---

RENDERED = [
    (lambda: F.state == "NY", "state eq NY"),
    (lambda: F.state != "NY", "state ne NY"),
    (lambda: F.country_code == "USA", "country_code eq USA"),
    (lambda: F.locality == "NEW YORK", 'locality eq "NEW YORK"'),
    (lambda: F.phonenumber.like("1516%"), "phonenumber like 1516%"),
    (lambda: F.phonenumber.like("%555%"), "phonenumber like %555%"),
    (lambda: F.locality.like("NEW %"), 'locality like "NEW %"'),
    (lambda: F.price == Decimal("0.6"), "price eq 0.6"),
    (lambda: F.price != 1, "price ne 1"),
    (lambda: F.price < Decimal("1.00"), "price lt 1.00"),
    (lambda: F.price <= Decimal("1.00"), "price le 1.00"),
    (lambda: F.price > 0, "price gt 0"),
    (lambda: F.price >= Decimal("1E+2"), "price ge 100"),
    (lambda: Decimal("2") > F.price, "price lt 2"),
    (lambda: F.capabilities.bit(4), "capabilities bit 4"),
    (lambda: F.capabilities.bit(Capability.VOICE | Capability.SMS_IN), "capabilities bit 5"),
    (lambda: F.capabilities == 31, "capabilities eq 31"),
    (lambda: F.active_capabilities != Capability(0), "active_capabilities ne 0"),
    (lambda: F.npa == 516, "npa eq 516"),
    (lambda: F.npa == "516", "npa eq 516"),
    (lambda: F.npa_nxx != 516555, "npa_nxx ne 516555"),
    (lambda: Filter.nearby(npa=516), "phonenumber nearby npa:516"),
    (lambda: Filter.nearby(zip="10025"), "phonenumber nearby zip:10025"),
    (
        lambda: Filter.nearby(latlng=(40.8019, -73.9681)),
        "phonenumber nearby latlng:40.8019,-73.9681",
    ),
    (
        lambda: Filter.nearby(latlng=(40, Decimal("-74.0060"))),
        "phonenumber nearby latlng:40,-74.006",
    ),
    (lambda: F.phonenumber.nearby(npa="212"), "phonenumber nearby npa:212"),
    (
        lambda: (F.state == "NY") & (F.capabilities.bit(1)),
        "state eq NY and capabilities bit 1",
    ),
    (
        lambda: ((F.state == "NY") & (F.price <= 1)) & (F.npa == 516),
        "state eq NY and price le 1 and npa eq 516",
    ),
    (lambda: (F.state == "NY") & (F.state == "NY"), "state eq NY"),
    (lambda: F.state.in_(["NY"]), "state eq NY"),
    (lambda: F.state.in_(["NY", "NJ"]), "(state eq NY) | (state eq NJ)"),
    # The operator policy: every comparison on every field, value checked by the field's type.
    (lambda: F.state < "NY", "state lt NY"),
    (lambda: F.phonenumber > "15160000000", "phonenumber gt 15160000000"),
    (lambda: F.capabilities >= 7, "capabilities ge 7"),
    (lambda: F.active_capabilities <= Capability.VOICE, "active_capabilities le 4"),
    (lambda: F.npa > 500, "npa gt 500"),
    (lambda: F.npa_nxx <= "516555", "npa_nxx le 516555"),
    (lambda: F.did_sid.like("0%"), "did_sid like 0%"),
    (lambda: F.attributes["key"] == "x", "attributes.key eq x"),
    (lambda: F.attributes["my-key_2"] >= "b c", 'attributes.my-key_2 ge "b c"'),
    (lambda: F.attributes["k"].like("%x"), "attributes.k like %x"),
    (lambda: Filter.raw("state eq NY"), "state eq NY"),
    (lambda: Filter.raw("price ilike '%'") & (F.npa == 516), "price ilike '%' and npa eq 516"),
    (lambda: (F.npa == 516) & Filter.raw("x  y"), "npa eq 516 and x  y"),
]


@pytest.mark.parametrize(("build", "wire"), RENDERED)
def test_renders_wire_text(build, wire):
    f = build()
    assert str(f) == wire
    assert repr(f) == f"Filter({wire!r})"


QUOTED = [
    ("NY", "NY"),
    ("", '""'),
    ("NEW YORK", '"NEW YORK"'),
    (" NY", '" NY"'),
    ("O'BRIEN", '"O\'BRIEN"'),
    ('say "hi"', "'say \"hi\"'"),
    ("MÜNCHEN", '"MÜNCHEN"'),
    ("a,b", '"a,b"'),
    ("(x)", '"(x)"'),
    ("and", '"and"'),
    ("OR", '"OR"'),
    ("not", '"not"'),
    ("android", "android"),
    ("00000000-0000-4000-8000-0000000000aa", "00000000-0000-4000-8000-0000000000aa"),
    ("a\u00a0b", '"a\u00a0b"'),  # a no-break space is text, quoted
    ("X and state eq NJ", '"X and state eq NJ"'),
]


@pytest.mark.parametrize(("value", "wire"), QUOTED)
def test_quoting(value, wire):
    f = F.name == value
    assert str(f) == f"name eq {wire}"
    assert parse_filter(str(f)).conditions() == (Condition("name", "eq", value),)


@pytest.mark.parametrize(
    "value",
    [
        "X\" and state eq 'NJ",
        "X' and state eq 'NJ\"",
        "tab\there",
        "nul\x00",
        "nl\n",
        "\x85",
        "\ud800",
        "line\u2028separator",
        "paragraph\u2029separator",
    ],
)
def test_unquotable_values_are_refused(value):
    with pytest.raises(FilterError, match=r"both quote kinds|control character"):
        F.locality == value  # noqa: B015


def test_a_value_never_becomes_a_second_condition():
    f = F.locality == "X and state eq NJ"
    back = parse_filter(str(f))
    assert back.conditions() == (Condition("locality", "eq", "X and state eq NJ"),)
    assert str(back) == 'locality eq "X and state eq NJ"'
    g = F.locality == "X' and state eq 'NJ"
    assert str(g) == "locality eq \"X' and state eq 'NJ\""
    assert len(parse_filter(str(g)).conditions()) == 1
    h = F.locality == 'X" and state eq "NJ'
    assert str(h) == "locality eq 'X\" and state eq \"NJ'"
    assert parse_filter(str(h)).conditions() == (
        Condition("locality", "eq", 'X" and state eq "NJ'),
    )
    with pytest.raises(FilterError, match="both quote kinds"):
        F.locality == "X\" and state eq 'NJ"  # noqa: B015


def test_like_keeps_percent_literally():
    assert str(F.phonenumber.like("1516%")).endswith("1516%")
    assert str(F.locality.like("% %")) == 'locality like "% %"'


# --- validation ---

INVALID = [
    (lambda: F.stat, r"unknown field 'stat'; did you mean 'state'\? valid fields: .*locality"),
    (lambda: F.zzz, r"unknown field 'zzz'; valid fields: active_capabilities, "),
    (lambda: Field("prices"), r"did you mean 'price'"),
    (
        lambda: parse_filter("capabilities like 4"),
        r"'like' does not apply to 'capabilities'.*bit \(\.bit.*Filter\.raw",
    ),
    (
        lambda: parse_filter("locality bit 4"),
        r"'bit' does not apply to 'locality'.*eq \(==\), ne \(!=\), lt \(<\).*like \(\.like",
    ),
    (lambda: parse_filter("npa like 5%"), r"'like' does not apply to 'npa'"),
    (lambda: parse_filter("price like 1%"), r"'like' does not apply to 'price'"),
    (lambda: parse_filter("state nearby npa:516"), r"'nearby' does not apply to 'state'"),
    (lambda: parse_filter("price bit 4"), r"'bit' does not apply to 'price'"),
    # The DSL's operator methods refuse like the text parser, naming what does apply.
    (lambda: F.state.bit(4), r"'bit' does not apply to 'state'.*like \(\.like.*Filter\.raw"),  # type: ignore[attr-defined]
    (lambda: F.price.like("1"), r"'like' does not apply to 'price'"),  # type: ignore[attr-defined]
    (lambda: F.state.nearby(npa=516), r"'nearby' does not apply to 'state'"),  # type: ignore[attr-defined]
    (lambda: F.capabilities.like("1"), r"'like' does not apply to 'capabilities'.*bit"),  # type: ignore[attr-defined]
    (lambda: F.attributes == "x", r"'attributes' is an object.*F\.attributes\['key'\]"),
    (lambda: F.attributes != "x", r"'attributes' is an object"),
    (lambda: F.transformations != "x", r"'transformations' is a list, not a value"),
    (lambda: F.attributes["a.b"], r"'attributes\.a\.b': a key is made of letters"),
    (lambda: F.attributes["a b"], r"a key is made of letters, digits.*Filter\.raw"),
    (lambda: F.attributes[""], r"a key is made of letters"),
    (lambda: F.attributes[3], r"takes a str key, got int"),  # type: ignore[index]
    (lambda: F.attributes["k"] == 5, r"bad value for 'attributes\.k eq': expected str"),
    (lambda: F.attributes["k"].like(None), r"expected str, got NoneType"),  # type: ignore[arg-type]
    (lambda: F.state < 5, r"bad value for 'state lt': expected str, got int"),
    (lambda: F.npa > 5000, r"5000 is not 3 digits"),
    (lambda: F.capabilities >= 32, r"32 is outside 0\.\.31"),
    (lambda: F.phonenumber > 15160000000, r"expected str, got int"),
    (lambda: Filter.raw(""), r"empty string"),
    (lambda: Filter.raw("  "), r"empty string"),
    (lambda: Filter.raw("state eq NY\nand npa eq 516"), r"control character '\\n'"),
    (lambda: Filter.raw("a\rb"), r"control character"),
    (lambda: Filter.raw("a\x00b"), r"control character"),
    (lambda: Filter.raw("a\ud800"), r"control character"),
    # Unicode's line and paragraph separators are line breaks too (str.splitlines agrees).
    (lambda: Filter.raw("state eq NY\u2028and npa eq 516"), r"control character '\\u2028'"),
    (lambda: Filter.raw("a\u2029b"), r"control character"),
    (lambda: Filter.raw(b"state eq NY"), r"takes a str, got bytes"),  # type: ignore[arg-type]
    (lambda: Filter.raw("state eq NY").matches(DID), r"cannot be evaluated locally"),
    (lambda: F.price == 0.25, r"not float 0\.25: use Decimal\('0\.25'\)"),
    (lambda: F.price <= 1.5, r"not float 1\.5: use Decimal\('1\.5'\)"),
    (lambda: F.price <= "1.00", r"expected Decimal or int, got str"),
    (lambda: F.price == True, r"expected Decimal or int, got bool"),  # noqa: E712
    (lambda: F.price == Decimal("NaN"), r"not a finite number"),
    (lambda: F.state == 5, r"bad value for 'state eq': expected str, got int"),
    (lambda: F.state == None, r"expected str, got NoneType"),  # noqa: E711
    (lambda: F.capabilities == "4", r"expected Capability or int, got str"),
    (lambda: F.capabilities == 32, r"32 is outside 0\.\.31"),
    (lambda: F.capabilities.bit(0), r"0 is outside 1\.\.31"),
    (lambda: F.capabilities.bit(False), r"got bool"),
    (lambda: F.npa == 51, r"51 is not 3 digits"),
    (lambda: F.npa == "5165", r"'5165' is not 3 digits"),
    (lambda: F.npa_nxx == "516-55", r"not 6 digits"),
    (lambda: F.npa == 5.16, r"expected int or 3-digit str, got float"),
    (lambda: Filter.nearby(), r"exactly one of npa=, zip=, latlng="),
    (lambda: Filter.nearby(npa=516, zip="10025"), r"exactly one of"),
    (lambda: Filter.nearby(zip=10025), r"zip takes a 5-digit str"),  # type: ignore[arg-type]
    (lambda: Filter.nearby(zip="1002"), r"'1002' is not 5 digits"),
    (lambda: Filter.nearby(latlng=(91, 0)), r"not within -90\.\.90"),
    (lambda: Filter.nearby(latlng=(0, 181)), r"not within -180\.\.180"),
    (lambda: Filter.nearby(latlng=(0, float("nan"))), r"not within"),
    (lambda: Filter.nearby(latlng=(1, 2, 3)), r"latlng takes \(latitude, longitude\)"),  # type: ignore[arg-type]
    (lambda: F.state.in_([]), r"in_\(\[\]\) matches nothing"),
    (lambda: F.state.in_("NY"), r"collection of values, not the string"),
    (lambda: F.price.in_([Decimal(1), 0.5]), r"not float 0\.5"),
    (lambda: ~(F.state == "NY"), r"no 'not'; use != on a field"),
    (lambda: field_name("npa"), r"'npa' is a filter-only key"),
    (lambda: field_name(F.npa_nxx), r"'npa_nxx' is a filter-only key"),
    (lambda: field_name("stat"), r"did you mean 'state'\? valid fields: (?!.*npa)"),
    (lambda: F.state.in_(["NY", "NJ"]).conditions(), r"disjunction; use alternatives\(\)"),
]


@pytest.mark.parametrize(("build", "message"), INVALID)
def test_invalid_filters_raise_filter_error(build, message):
    with pytest.raises(FilterError, match=message):
        build()


def test_an_operator_a_field_lacks_is_also_an_attribute_error():
    # Duck typing keeps working: hasattr tells which operator methods a field offers.
    assert not hasattr(F.state, "bit")
    assert hasattr(F.state, "like")
    assert hasattr(F.capabilities, "bit")
    assert not hasattr(F.capabilities, "like")
    assert not hasattr(F.price, "nearby")
    with pytest.raises(AttributeError, match="has no attribute 'no_such'"):
        F.state.no_such  # type: ignore[attr-defined]  # noqa: B018


def test_unknown_field_is_also_an_attribute_error():
    assert not hasattr(F, "stat")
    assert getattr(F, "stat", None) is None
    assert hasattr(F, "state")
    with pytest.raises(AttributeError):
        F.stat  # noqa: B018


def test_dir_lists_fields_for_completion():
    names = dir(F)
    assert set(names) == DID_FIELDS | {"npa", "npa_nxx"}
    assert names == sorted(names)


COMPARE = {"eq", "ne", "lt", "le", "gt", "ge"}


def test_table_covers_every_did_attribute():
    assert set(_FIELDS) == DID_FIELDS | {"npa", "npa_nxx"}
    assert {f for f, ops in _FIELDS.items() if not ops} == {"attributes", "transformations"}
    # The documented general rule: every comparison on every filterable field.
    assert all(set(ops) >= COMPARE for ops in _FIELDS.values() if ops)
    assert set(_FIELDS["phonenumber"]) == COMPARE | {"like", "nearby"}
    assert set(_FIELDS["price"]) == COMPARE
    assert set(_FIELDS["capabilities"]) == set(_FIELDS["active_capabilities"]) == COMPARE | {"bit"}
    assert set(_FIELDS["npa"]) == set(_FIELDS["npa_nxx"]) == COMPARE
    assert {f for f, ops in _FIELDS.items() if "nearby" in ops} == {"phonenumber"}
    assert {f for f, ops in _FIELDS.items() if "bit" in ops} == {
        "capabilities",
        "active_capabilities",
    }
    text = DID_FIELDS - {"attributes", "transformations", "price"}
    text -= {"capabilities", "active_capabilities"}
    assert {f for f, ops in _FIELDS.items() if "like" in ops} == text


FIELD_TYPES = {
    "BitmaskField": COMPARE | {"bit"},
    "PriceField": COMPARE,
    "AreaCodeField": COMPARE,
    "TextField": COMPARE | {"like"},
    "PhoneNumberField": COMPARE | {"like", "nearby"},
    "AttributesField": set(),
    "ListField": set(),
}


@pytest.mark.parametrize("name", sorted(_FIELDS))
def test_each_typed_field_offers_exactly_the_operators_of_the_table(name):
    field = getattr(F, name)
    assert field.name == name
    assert FIELD_TYPES[type(field).__name__] == set(_FIELDS[name])
    # The class's methods and the table agree on like/bit/nearby.
    assert {m for m in ("like", "bit", "nearby") if hasattr(field, m)} == (
        set(_FIELDS[name]) - COMPARE
    )


def test_field_name():
    assert field_name("state") == "state"
    assert field_name(F.attributes) == "attributes"
    with pytest.raises(TypeError):
        field_name(3)  # type: ignore[arg-type]


def test_filters_are_immutable_hashable_values():
    a = (F.state == "NY") & (F.price <= Decimal("1.00"))
    b = (F.state == "NY") & (F.price <= Decimal("1.00"))
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, F.state == "NJ"}) == 2
    assert (F.price == 1) == (F.price == Decimal("1.0"))
    assert (F.state == "NY") != (F.state == "ny")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        a._dnf = ()  # type: ignore[misc]


def test_combining_with_non_filters_is_a_type_error():
    with pytest.raises(TypeError):
        (F.state == "NY") & "price le 1"
    with pytest.raises(TypeError):
        (F.state == "NY") | None


def test_truth_value_is_refused_so_chained_comparisons_fail():
    with pytest.raises(TypeError, match="no truth value"):
        0 < F.price < 1  # noqa: B015
    with pytest.raises(TypeError):
        bool(F.state == "NY")


def test_fields_are_not_hashable():
    with pytest.raises(TypeError):
        hash(F.state)
    assert repr(F.state) == "F.state"
    assert repr(F) == "F"


def test_conditions_of_a_conjunction():
    f = (F.state == "NY") & Filter.nearby(npa=516) & F.capabilities.bit(4)
    assert f.conditions() == (
        Condition("state", "eq", "NY"),
        Condition("phonenumber", "nearby", Nearby(kind="npa", value="516")),
        Condition("capabilities", "bit", Capability.VOICE),
    )
    assert [(c.field, c.op) for c in f.conditions()][1] == ("phonenumber", "nearby")
    assert str(f.conditions()[1].value) == "npa:516"
    assert not f.is_disjunction


# --- parsing ---

PARSED = [
    ("state eq NY", F.state == "NY"),
    ("  state   eq\tNY  ", F.state == "NY"),
    ("state EQ NY AND price LE 1.00", (F.state == "NY") & (F.price <= Decimal("1.00"))),
    ('locality eq "NEW YORK"', F.locality == "NEW YORK"),
    ("locality eq 'NEW YORK'", F.locality == "NEW YORK"),
    (
        "state eq \"NY\" and phonenumber like '1212%'",
        (F.state == "NY") & F.phonenumber.like("1212%"),
    ),
    ('name eq ""', F.name == ""),
    ('name eq "it\'s"', F.name == "it's"),
    ("locality eq MÜNCHEN", F.locality == "MÜNCHEN"),
    ("state eq and", F.state == "and"),
    ("price le 1.00", F.price <= Decimal("1.00")),
    ('price gt "0.5"', F.price > Decimal("0.5")),
    ("capabilities bit 4", F.capabilities.bit(Capability.VOICE)),
    ("capabilities eq 31", F.capabilities == 31),
    ("npa eq 516", F.npa == 516),
    ("npa_nxx ne 516555", F.npa_nxx != "516555"),
    ("phonenumber nearby npa:516", Filter.nearby(npa=516)),
    ("phonenumber nearby zip:10025", Filter.nearby(zip="10025")),
    ("phonenumber nearby latlng:40.7128,-74.0060", Filter.nearby(latlng=(40.7128, -74.006))),
    ('phonenumber nearby "latlng:40.7128,-74.0060"', Filter.nearby(latlng=(40.7128, -74.006))),
]


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_parse(text, expected):
    assert parse_filter(text) == expected


def test_parse_types_values_through_the_table():
    (price,) = parse_filter("price le 1.00").conditions()
    assert type(price.value) is Decimal
    assert str(price.value) == "1.00"
    (cap,) = parse_filter("capabilities bit 4").conditions()
    assert type(cap.value) is Capability
    assert cap.value == Capability.VOICE
    (npa,) = parse_filter("npa eq 516").conditions()
    assert npa == (F.npa == 516).conditions()[0]
    assert npa.value == "516"


def test_parse_is_cached_and_rejects_non_strings():
    text = "state eq NY and npa eq 516"
    assert parse_filter(text) is parse_filter(text)
    with pytest.raises(TypeError):
        parse_filter(b"state eq NY")  # type: ignore[arg-type]


PARSE_ERRORS = [
    ("", r"empty filter"),
    ("   ", r"empty filter"),
    ("stat eq NY", r"unknown field 'stat'; did you mean 'state'.* at offset 0"),
    ("state eq NY and stat eq NJ", r"unknown field 'stat'.* at offset 16"),
    (
        "state xx NY",
        r"unknown operator 'xx'; valid for 'state': eq, ne, lt, le, gt, ge, like; if the API "
        r"accepts it, send it with Filter\.raw\(\.\.\.\) at offset 6",
    ),
    ("state ilike NY", r"unknown operator 'ilike'.*Filter\.raw"),
    ("state bit 4", r"'bit' does not apply to 'state'.* at offset 6"),
    ("state", r"expected an operator after 'state' at offset 5"),
    ("state eq ", r"expected a value after 'eq' at offset 8"),
    ('state eq NY and ""', r"expected an operator after '' at offset 18"),
    ("state eq NY and", r"expected a condition after 'and' at offset 15"),
    ("state eq NY NJ", r"expected 'and', got 'NJ' at offset 12"),
    ("state eq NY or state eq NJ", r"no 'or', no 'not' \('or'\) at offset 12"),
    ("not state eq NY", r"no 'not'.* at offset 0"),
    ("(state eq NY)", r"parentheses are not supported.* at offset 0"),
    ("state eq NY and (npa eq 516)", r"parentheses.* at offset 16"),
    ("state eq NY)", r"parentheses.* at offset 9"),
    ("state eq NY, price le 1", r"expected 'and', got 'price'"),
    ('state eq "NY', r'unterminated quote " at offset 9'),
    ("state eq 'NY", r"unterminated quote ' at offset 9"),
    ('state eq "N"Y', r"expected whitespace between tokens at offset 12"),
    ('state eq N"Y"', r"expected whitespace between tokens at offset 10"),
    ('"state" eq NY', r"expected a bare field name"),
    ('state "eq" NY', r"unknown operator 'eq'"),
    ('state eq NY "and" npa eq 516', r"expected 'and', got 'and'"),
    ("attributes.a.b eq x", r"nested field 'attributes\.a\.b': a key is made of.* at offset 0"),
    ("transformations.x eq x", r"only attributes\.<key> can be filtered by key at offset 0"),
    ("stat.x eq x", r"only attributes\.<key> can be filtered by key"),
    ("attributes eq x", r"'attributes' is an object.*F\.attributes\['key'\].* at offset 0"),
    ("transformations eq x", r"'transformations' is a list, not a value.* at offset 0"),
    ("colour eq red", r"unknown field 'colour'.*send it with Filter\.raw"),
    ("attributes.key bit 4", r"'bit' does not apply to 'attributes\.key'"),
    ("price le 1.", r"'1\.' is not a plain decimal number"),
    ("price le 1e3", r"not a plain decimal number"),
    ("capabilities bit x", r"'x' is not an integer"),
    ("capabilities bit 0", r"outside 1\.\.31"),
    ("npa eq 51", r"not 3 digits"),
    ("phonenumber nearby 516", r"is not npa:<npa>, zip:<zip> or latlng"),
    ("phonenumber nearby city:NYC", r"unknown nearby kind 'city'"),
    ("phonenumber nearby latlng:40.7", r"latlng takes \(latitude, longitude\)"),
    ("phonenumber nearby latlng:a,b", r"'a' is not a plain decimal number"),
    ('name eq "tab\there"', r"control character"),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS)
def test_parse_errors(text, message):
    with pytest.raises(FilterError, match=message):
        parse_filter(text)


# --- local evaluation ---

DID = AvailableDid(
    phonenumber="15165550123",
    country_code="USA",
    state="NY",
    locality="NEW YORK",
    price=Decimal("0.6"),
    capabilities=Capability(7),
    active_capabilities=Capability.VOICE,
    name="N/A",
    lata=None,
)

MATCHES = [
    (F.state == "NY", True),
    (F.state == "ny", False),
    (F.state != "NJ", True),
    (F.state != "NY", False),
    (F.locality == "NEW YORK", True),
    (F.locality.like("NEW%"), True),
    (F.locality.like("new%"), False),
    (F.locality.like("NEW"), False),
    (F.locality.like("NEW_YORK"), True),
    (F.locality.like("%YOR_"), True),
    (F.locality.like("%"), True),
    (F.name.like("N/_"), True),
    (F.name.like("N.A"), False),
    (F.phonenumber.like("1516%"), True),
    (F.phonenumber.like("%555%"), True),
    (F.phonenumber.like("1212%"), False),
    (F.phonenumber == "15165550123", True),
    (F.price == Decimal("0.60"), True),
    (F.price < 1, True),
    (F.price <= Decimal("0.6"), True),
    (F.price < Decimal("0.6"), False),
    (F.price > Decimal("0.5"), True),
    (F.price >= 1, False),
    (F.capabilities.bit(4), True),
    (F.capabilities.bit(5), True),
    (F.capabilities.bit(8), False),
    (F.capabilities.bit(12), False),
    (F.capabilities == 7, True),
    (F.capabilities == 31, False),
    (F.active_capabilities.bit(Capability.SMS_IN), False),
    (F.npa == 516, True),
    (F.npa == "212", False),
    (F.npa_nxx == 516555, True),
    (F.npa_nxx != 516555, False),
    (Filter.nearby(npa=516), True),
    (Filter.nearby(npa=212), False),
    (F.state < "NZ", True),
    (F.state >= "NY", True),
    (F.state > "NY", False),
    (F.phonenumber < "15165550124", True),
    (F.capabilities >= 7, True),
    (F.capabilities > 7, False),
    (F.active_capabilities <= Capability.VOICE, True),
    (F.npa > 500, True),
    (F.npa < 516, False),
    (F.npa_nxx >= "516555", True),
    (F.attributes["k"] == "x", False),
    (F.lata < "x", False),
    (F.lata == "x", False),
    (F.lata != "x", False),
    (F.lata.like("%"), False),
    (F.ocn != "x", False),
    ((F.state == "NY") & (F.price < 1), True),
    ((F.state == "NY") & (F.price > 1), False),
    (F.state.in_(["NJ", "NY"]), True),
    (F.state.in_(["NJ", "CT"]), False),
    ((F.state == "NJ") | (F.npa == 516), True),
]


@pytest.mark.parametrize(("f", "expected"), MATCHES, ids=[str(f) for f, _ in MATCHES])
def test_matches(f, expected):
    assert f.matches(DID) is expected


@pytest.mark.parametrize(
    "did",
    [
        AvailableDid(phonenumber="442071838750", country_code="GBR"),
        AvailableDid(phonenumber="1516555012", country_code="USA"),
        AvailableDid(phonenumber=None, country_code="USA"),
    ],
)
def test_npa_needs_an_eleven_digit_nanp_number(did):
    assert not (F.npa == 516).matches(did)
    assert not (F.npa != 516).matches(did)
    assert not Filter.nearby(npa=516).matches(did)


def test_npa_applies_to_any_nanp_country():
    assert (F.npa == 787).matches(AvailableDid(phonenumber="17875550123", country_code="PRI"))


def test_nearby_zip_and_latlng_need_a_predicate():
    f = (F.state == "XX") & Filter.nearby(zip="10025")
    with pytest.raises(FilterError, match="cannot evaluate nearby zip locally; pass near="):
        f.matches(DID)
    with pytest.raises(FilterError, match="nearby latlng"):
        Filter.nearby(latlng=(1, 2)).matches(DID)


def test_near_predicate_receives_every_nearby_condition():
    seen: list[tuple[str, str]] = []

    def near(did, where):
        seen.append((did.phonenumber, str(where)))
        return where.kind == "zip"

    assert Filter.nearby(zip="10025").matches(DID, near=near)
    assert not Filter.nearby(npa=516).matches(DID, near=near)
    assert not Filter.nearby(latlng=(40.8, -73.9)).matches(DID, near=near)
    assert seen == [
        ("15165550123", "zip:10025"),
        ("15165550123", "npa:516"),
        ("15165550123", "latlng:40.8,-73.9"),
    ]


def test_nearby_latlng_value_is_a_float_pair():
    (c,) = Filter.nearby(latlng=(40.80191234, -73.9681)).conditions()
    assert c.value == Nearby(kind="latlng", value=(40.801912, -73.9681))
    assert str(c) == "phonenumber nearby latlng:40.801912,-73.9681"


def test_matching_thousands_of_records_is_fast():
    text = 'state eq NY and locality like "NEW%" and price le 1 and capabilities bit 4'
    dids = [DID] * 5000
    start = time.perf_counter()
    hits = sum(parse_filter(text).matches(d, near=lambda d, w: True) for d in dids)
    assert hits == 5000
    assert time.perf_counter() - start < 1.0


# --- disjunctions ---


def test_alternatives_distribute_and_over_or():
    a, b, c = F.state == "NY", F.state == "NJ", F.price < 1
    f = (a | b) & c
    assert f.is_disjunction
    assert f.alternatives() == (a & c, b & c)
    assert [str(x) for x in f.alternatives()] == [
        "state eq NY and price lt 1",
        "state eq NJ and price lt 1",
    ]
    assert str(f) == "(state eq NY and price lt 1) | (state eq NJ and price lt 1)"
    assert c & (a | b) == Filter(
        ((c.conditions() + a.conditions()), (c.conditions() + b.conditions()))
    )


def test_alternatives_cross_product_and_dedupe():
    a, b, c, d = F.state == "NY", F.state == "NJ", F.npa == 516, F.npa == 201
    assert (a | b) & (c | d) == (a & c) | (a & d) | (b & c) | (b & d)
    assert len(((a | b) & (c | d)).alternatives()) == 4
    assert (a | a).alternatives() == (a,)
    assert not (a | a).is_disjunction
    assert ((a | b) & (a | b)).alternatives() == (a, a & b, b)
    assert (a & c | c & a).alternatives() == (a & c,)
    assert F.state.in_(["NY", "NJ", "NY"]).alternatives() == (a, b)


def test_plain_conjunction_is_its_own_alternative():
    f = (F.state == "NY") & (F.npa == 516)
    assert f.alternatives() == (f,)
    assert f.alternatives()[0] is f


def test_disjunction_text_is_not_wire_text():
    text = str((F.state == "NY") | (F.state == "NJ"))
    assert text == "(state eq NY) | (state eq NJ)"
    with pytest.raises(FilterError, match="parentheses"):
        parse_filter(text)


# --- properties ---

TEXT_FIELDS = sorted(f for f, ops in _FIELDS.items() if set(ops) == COMPARE | {"like"})
safe_text = st.text(st.characters(exclude_categories=("Cc", "Cs"))).filter(
    lambda s: not ('"' in s and "'" in s) and "\\" not in s
)
prices = st.one_of(
    st.integers(-(10**6), 10**6),
    st.decimals(min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False, places=4),
)
caps = st.integers(0, 31).map(Capability)
coords = st.tuples(
    st.floats(-90, 90, allow_nan=False),
    st.one_of(st.floats(-180, 180, allow_nan=False), st.integers(-180, 180)),
)
digits = lambda n: st.text("0123456789", min_size=n, max_size=n)  # noqa: E731

conditions = st.one_of(
    st.builds(
        lambda f, v: getattr(F, f) == v, st.sampled_from([*TEXT_FIELDS, "phonenumber"]), safe_text
    ),
    st.builds(lambda f, v: getattr(F, f) != v, st.sampled_from(TEXT_FIELDS), safe_text),
    st.builds(lambda f, v: getattr(F, f).like(v), st.sampled_from(TEXT_FIELDS), safe_text),
    st.builds(
        lambda f, op, v: getattr(operator, op)(getattr(F, f), v),
        st.sampled_from([*TEXT_FIELDS, "phonenumber"]),
        st.sampled_from(["lt", "le", "gt", "ge"]),
        safe_text,
    ),
    st.builds(
        lambda k, op, v: getattr(operator, op)(F.attributes[k], v),
        st.text("abcXYZ019_-", min_size=1, max_size=4),
        st.sampled_from(["eq", "ne", "lt", "ge"]),
        safe_text,
    ),
    st.builds(lambda v: F.capabilities > v, caps),
    st.builds(lambda v: F.npa <= v, digits(3)),
    st.builds(
        lambda op, v: {"eq": F.price == v, "lt": F.price < v, "ge": F.price >= v}[op],
        st.sampled_from(["eq", "lt", "ge"]),
        prices,
    ),
    st.builds(lambda v: F.price != v, prices),
    st.builds(lambda v: F.capabilities.bit(v), st.integers(1, 31)),
    st.builds(lambda v: F.active_capabilities == v, caps),
    st.builds(lambda v: F.npa == v, st.one_of(st.integers(100, 999), digits(3))),
    st.builds(lambda v: F.npa_nxx != v, digits(6)),
    st.builds(lambda v: Filter.nearby(npa=v), digits(3)),
    st.builds(lambda v: Filter.nearby(zip=v), digits(5)),
    st.builds(lambda v: Filter.nearby(latlng=v), coords),
)
conjunctions = st.lists(conditions, min_size=1, max_size=5).map(
    lambda fs: functools.reduce(operator.and_, fs)
)


@given(conjunctions)
def test_rendered_filters_parse_back_equal(f):
    text = str(f)
    back = parse_filter(text)
    assert back == f
    assert str(back) == text


@given(st.lists(conjunctions, min_size=1, max_size=3), conjunctions)
def test_every_alternative_is_wire_text(parts, tail):
    f = parts[0]
    for p in parts[1:]:
        f = f | p
    f = f & tail
    alts = f.alternatives()
    assert len(alts) == len(set(alts))
    assert all(not a.is_disjunction for a in alts)
    assert all(parse_filter(str(a)) == a for a in alts)
    assert f.is_disjunction == (len(alts) > 1)


@given(conjunctions, conjunctions)
def test_matches_agrees_with_alternatives_and_the_parsed_filter(a, b):
    f = a | b
    did = DID

    def near(d, where):
        return where.kind != "zip"

    expected = a.matches(did, near=near) or b.matches(did, near=near)
    assert f.matches(did, near=near) is expected
    assert any(x.matches(did, near=near) for x in f.alternatives()) is expected
    assert parse_filter(str(a)).matches(did, near=near) is a.matches(did, near=near)


WORDS = ["NY", "NEW YORK", "1516%", "%", "", "and", "AND", "or", "it's", 'say "hi"', "(x)",
         "a\tb", "MÜNCHEN", "x\u2028y", "1e3", "a'b\"c"]  # fmt: skip
VALUES = {
    "price": ["0.6", "1.00", "-1", "12", "1.", "x"],
    "capabilities": ["0", "4", "31", "32"],
    "active_capabilities": ["1", "7"],
    "npa": ["516", "51"],
    "npa_nxx": ["516555"],
}
NEARBY_VALUES = ["npa:516", "zip:10025", "latlng:40.7,-74", "latlng:-0.0000001,180", "zip:1"]
JUNK = ["stat", "attributes.x", "(state", "not", "NPA", "xx", "in", ")", "or", '"', "'"]


@st.composite
def candidate_text(draw):
    """Mostly well-formed wire text (fields, operators and values that fit), sometimes not."""
    tokens = []
    for i in range(draw(st.integers(1, 4))):
        if i:
            tokens.append(draw(st.sampled_from(["and", "AND", "And", "and", "or"])))
        field = draw(st.sampled_from(sorted(f for f, ops in _FIELDS.items() if ops)))
        op = draw(st.sampled_from(sorted(_FIELDS[field])))
        pool = NEARBY_VALUES if op == "nearby" else VALUES.get(field, WORDS)
        value = draw(st.one_of(st.sampled_from(pool), st.text(max_size=5)))
        quote = draw(st.sampled_from(["", "", '"', "'"]))
        tokens += [field, draw(st.sampled_from([op, op.upper()])), f"{quote}{value}{quote}"]
    if draw(st.integers(0, 4)) == 0:
        tokens[draw(st.integers(0, len(tokens) - 1))] = draw(st.sampled_from(JUNK))
    text = "".join(t + draw(st.sampled_from([" ", "  ", "\t", " \n "])) for t in tokens)
    return draw(st.sampled_from(["", " "])) + text.rstrip(draw(st.sampled_from(["", " "])))


@settings(max_examples=300)
@given(candidate_text())
def test_parse_of_rendered_parse_is_a_fixed_point(text):
    try:
        f = parse_filter(text)
    except FilterError:
        return
    again = parse_filter(str(f))
    assert again == f
    assert str(again) == str(f)


@given(st.text())
def test_parser_raises_only_filter_error(text):
    try:
        f = parse_filter(text)
    except FilterError:
        return
    assert parse_filter(str(f)) == f


def test_candidate_strategy_reaches_the_accepting_branch():
    def accepted(text):
        try:
            return parse_filter(text).conditions()[1:] != ()
        except FilterError:
            return False

    # Derandomized: the same search every run (an unseeded find failed about 1 run in 40).
    found = settings(max_examples=2000, derandomize=True, database=None)
    text = find(candidate_text(), accepted, settings=found)
    assert len(parse_filter(text).conditions()) >= 2


def test_attribute_keys_compare_as_text():
    attributes = {"s": "x", "n": 5, "f": 1.5, "b": True, "z": None, "o": {"a": 1}, "l": [1]}
    did = AvailableDid(attributes=attributes)
    assert (F.attributes["s"] == "x").matches(did)
    assert (F.attributes["n"] == "5").matches(did)
    assert (F.attributes["f"] == "1.5").matches(did)
    assert (F.attributes["b"] == "true").matches(did)
    assert (F.attributes["s"] < "y").matches(did)
    for key in ("z", "o", "l", "missing"):  # null, object, list or absent: nothing matches
        assert not (F.attributes[key] != "x").matches(did)
    assert not (F.attributes["s"] == "x").matches(AvailableDid())
    assert parse_filter("attributes.s eq x") == (F.attributes["s"] == "x")
