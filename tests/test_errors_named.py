"""Errors are named for what they are: a bad filter is a FilterError, every other bad
argument a ConfigurationError, and only public classes escape (issue 26).

The calls below are the public ones a user makes with bad input; which error each must
raise is written here by hand from the rule, not read from the code.
"""

from decimal import Decimal

import pytest

import carrierx_async
from carrierx_async import (
    Client,
    ConfigurationError,
    F,
    Filter,
    FilterAttributeError,
    FilterError,
    parse_filter,
)
from carrierx_async.testing import FakeCarrierX

TOKEN = "test-token"
SID = "00000000-0000-0000-0000-000000000001"

#: (label, keyword arguments of available_dids) that are not filters: ConfigurationError.
NOT_FILTERS = [
    ("pagination typo", {"pagination": "keyst"}),
    ("pagination type", {"pagination": 1}),
    ("page_size 0", {"page_size": 0}),
    ("page_size too big", {"page_size": 1001}),
    ("page_size str", {"page_size": "10"}),
    ("max_items 0", {"max_items": 0}),
    ("max_items float", {"max_items": 1.5}),
    ("order field", {"order": "prise desc"}),
    ("order direction", {"order": "price down"}),
    ("order type", {"order": 5}),
    ("include_fields unknown", {"include_fields": ["stat"]}),
    ("include_fields filter-only", {"include_fields": ["npa"]}),
    ("include_fields type", {"include_fields": 5}),
    ("exclude_fields empty", {"exclude_fields": []}),
    ("both field lists", {"include_fields": ["state"], "exclude_fields": ["price"]}),
    ("extra_params owned", {"extra_params": {"limit": 5}}),
    ("extra_params type", {"extra_params": [("x", "1")]}),
    ("extra_params value", {"extra_params": {"x": 1.5}}),
    ("prefetch", {"prefetch": -1}),
    ("timeout", {"timeout": 0}),
    ("read_timeout", {"read_timeout": "1"}),
    ("connect_timeout", {"connect_timeout": -1}),
    ("include_external type", {"include_external": "yes"}),
    ("keyset order", {"pagination": "keyset", "order": "price"}),
    ("keyset fields", {"pagination": "keyset", "include_fields": ["price"]}),
    (
        "external page_size",
        {"include_external": True, "filter": F.country_code == "USA", "page_size": 11},
    ),
]

#: Bad filters: FilterError (or its public subclass).
FILTERS = [
    ("filter text", {"filter": "state eq NY or state eq NJ"}),
    ("filter text field", {"filter": "stat eq NY"}),
    ("filter type", {"filter": 5}),
    ("external without country", {"include_external": True, "filter": F.state == "NY"}),
]

#: Client(...) settings: ConfigurationError.
CLIENT_SETTINGS = [
    {"timeout": -1},
    {"prefetch": "2"},
    {"max_retries": -1},
    {"base_url": "http://example.com/core/v2"},
    {"max_concurrency": 0},
    {"external_filters": [("stat", "eq")]},
]

#: Filter building: FilterError, with the class to expect.
BUILDERS = [
    (lambda: F.stat, FilterAttributeError),
    (lambda: F.state.bit(4), FilterAttributeError),
    (lambda: F.price <= 1.5, FilterError),
    (lambda: F.price == "1", FilterError),
    (lambda: F.capabilities == 64, FilterError),
    (lambda: F.attributes[5], FilterError),
    (lambda: F.state.in_([]), FilterError),
    (lambda: Filter.nearby(), FilterError),
    (lambda: Filter.nearby(zip="1002"), FilterError),
    (lambda: Filter.raw(""), FilterError),
    (lambda: ~(F.state == "NY"), FilterError),
    (lambda: parse_filter("state eq"), FilterError),
    (lambda: parse_filter("stat eq NY"), FilterError),
    (lambda: parse_filter(""), FilterError),
]


def public(exc: BaseException) -> bool:
    name = type(exc).__name__
    return name in carrierx_async.__all__ and getattr(carrierx_async, name) is type(exc)


@pytest.fixture
async def client():
    async with FakeCarrierX() as fake, Client(TOKEN, base_url=fake.base_url) as c:
        yield c
        assert fake.requests == []  # every refusal came before any request


@pytest.mark.parametrize(("label", "kwargs"), NOT_FILTERS, ids=[c[0] for c in NOT_FILTERS])
async def test_bad_arguments_that_are_not_filters_are_configuration_errors(client, label, kwargs):
    with pytest.raises(ConfigurationError) as info:
        client.available_dids(**kwargs)
    assert public(info.value)
    assert not isinstance(info.value, FilterError), label


@pytest.mark.parametrize(("label", "kwargs"), FILTERS, ids=[c[0] for c in FILTERS])
async def test_bad_filters_are_filter_errors(client, label, kwargs):
    with pytest.raises(FilterError) as info:
        client.available_dids(**kwargs)
    assert public(info.value)
    assert not isinstance(info.value, ConfigurationError), label


@pytest.mark.parametrize(
    "kwargs",
    [
        {"did_sid": "../x"},
        {"did_sid": 5},
        {"did_sid": SID, "include_fields": ["stat"]},
        {"did_sid": SID, "timeout": 0},
        {"did_sid": SID, "extra_params": {"offset": 1}},
    ],
)
async def test_get_available_did_refusals_are_configuration_errors(client, kwargs):
    with pytest.raises(ConfigurationError) as info:
        await client.get_available_did(**kwargs)
    assert public(info.value)
    assert not isinstance(info.value, FilterError)


@pytest.mark.parametrize("kwargs", CLIENT_SETTINGS)
def test_client_settings_are_configuration_errors(kwargs):
    with pytest.raises(ConfigurationError) as info:
        Client(TOKEN, **kwargs)
    assert public(info.value)
    assert not isinstance(info.value, FilterError)


@pytest.mark.parametrize(("build", "kind"), BUILDERS)
def test_filter_building_raises_public_filter_errors(build, kind):
    with pytest.raises(FilterError) as info:
        build()
    assert type(info.value) is kind
    assert public(info.value)


def test_a_misspelt_field_is_a_public_attribute_error():
    assert not hasattr(F, "stat")
    assert getattr(F.state, "bit", None) is None
    with pytest.raises(AttributeError) as info:
        _ = F.stat
    assert type(info.value).__name__ == "FilterAttributeError"
    assert "did you mean 'state'?" in str(info.value)


@pytest.mark.parametrize(
    ("build", "value"),
    [
        (lambda: F.price <= 1.5, "1.5"),
        (lambda: F.price == 0.1, "0.1"),
        (lambda: F.price > 2.25, "2.25"),
    ],
)
def test_a_float_price_is_echoed_with_its_decimal(build, value):
    with pytest.raises(FilterError) as info:
        build()
    assert f"not float {value}: use Decimal('{value}')" in str(info.value)
    assert Decimal(value) == Decimal(str(float(value)))  # the advice is exact


async def test_other_messages_echo_the_value(client):
    with pytest.raises(FilterError, match=r"got int 5\b"):
        _ = F.state == 5
    with pytest.raises(ConfigurationError, match=r"'keyst'"):
        client.available_dids(pagination="keyst")
    with pytest.raises(ConfigurationError, match=r"'prise desc'"):
        client.available_dids(order="prise desc")
    with pytest.raises(ConfigurationError, match=r"got float 1\.5"):
        client.available_dids(max_items=1.5)
