"""Decoding real response bytes into models (pure, no event loop)."""

import copy
import json
from decimal import Decimal
from pathlib import Path

import cattrs
import pytest

from carrierx_async import AvailableDid, Capability, ResponseDecodeError
from carrierx_async._convert import decode_did, decode_page, make_converter
from carrierx_async._models import DID_FIELDS

SAMPLE = (Path(__file__).parent / "samples" / "available_dids_page.json").read_bytes()


def test_documented_sample_decodes_strictly():
    # The strict converter fails on any key the model does not know: a new API field is noticed.
    page = decode_page(SAMPLE, converter=make_converter(forbid_extra_keys=True))
    assert (page.count, page.has_more, page.limit, page.offset, page.total) == (1, True, 1, 0, None)
    did = page.items[0]
    assert did.phonenumber == "15162065573"
    assert did.price == Decimal("0.6")
    assert did.capabilities == Capability.SMS_IN | Capability.SMS_OUT | Capability.VOICE
    assert Capability.VOICE in did.capabilities
    assert did.active_capabilities == Capability.VOICE
    assert did.state == "NY" and did.locality == "NEW YORK"
    assert did.transformations == [] and did.attributes == {}
    assert did.present_fields == DID_FIELDS
    assert page.next_url is not None and page.next_url.endswith("offset=1")


def test_strict_converter_rejects_unknown_key_lenient_ignores_it():
    item = json.loads(SAMPLE)["items"][0] | {"brand_new_field": 1}
    with pytest.raises(ResponseDecodeError):
        decode_did(item, converter=make_converter(forbid_extra_keys=True))
    assert decode_did(item).did_sid == item["did_sid"]


def test_field_filtered_record_has_only_sent_fields():
    did = decode_did({"phonenumber": "15162065573", "callback_url": None})
    assert did.phonenumber == "15162065573"
    assert did.price is None and did.state is None
    assert did.present_fields == {"phonenumber", "callback_url"}


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("price", "abc", "price"),
        ("price", "NaN", "price"),
        ("price", True, "price"),
        ("capabilities", "7", "capabilities"),
        ("phonenumber", 15162065573, "phonenumber"),
        ("transformations", "x", "transformations"),
    ],
)
def test_bad_field_names_record_and_field(field, value, fragment):
    data = json.loads(SAMPLE)
    data["items"] = [data["items"][0], dict(data["items"][0], **{field: value})]
    with pytest.raises(ResponseDecodeError) as info:
        decode_page(json.dumps(data).encode())
    message = str(info.value)
    assert "items[1]" in message and fragment in message
    assert "07e3dee3" in message  # the did_sid of the bad record


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "malformed JSON"),
        (b'{"items": [', "malformed JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"count": 0}', "no 'items'"),
        (b'{"items": [], "has_more": "yes"}', "has_more"),
        (b'{"items": [], "limit": "10"}', "limit"),
        (b'{"items": [1]}', "items[0]"),
    ],
)
def test_malformed_bodies_raise_decode_error(body, fragment):
    with pytest.raises(ResponseDecodeError, match="HTTP 200") as info:
        decode_page(body)
    assert fragment in str(info.value)


def test_decimal_price_keeps_exact_digits():
    assert decode_did({"price": "1.10"}).price == Decimal("1.10")
    assert str(decode_did({"price": "0.005"}).price) == "0.005"


def test_converter_is_not_the_global_one():
    assert make_converter() is not cattrs.global_converter
    assert isinstance(decode_did({}), AvailableDid)


# --- the page-at-once fast path must agree with the record-by-record path ---------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from carrierx_async._convert import _CONVERTER, decode_dids  # noqa: E402

ITEM = json.loads(SAMPLE)["items"][0]


def _slow(items, converter=None):
    return [decode_did(item, index=i, converter=converter) for i, item in enumerate(items)]


def _same(fast, slow):
    assert fast == slow
    for a, b in zip(fast, slow, strict=True):
        assert a.present_fields == b.present_fields
        assert str(a.price) == str(b.price)
        assert type(a.capabilities) is type(b.capabilities)


def _record(i):
    return dict(ITEM, did_sid=f"07e3dee3-0000-0000-0000-{i:012x}", phonenumber=f"1516{i:07d}")


def test_fast_path_takes_a_realistic_page_and_matches_cattrs():
    items = [
        dict(
            _record(i),
            price=["0.6", "1.10", "0.005", None][i % 4],
            capabilities=i % 32,
            state=None if i % 3 else "NY",
            attributes={"k": i} if i % 2 else {},
            transformations=[{"action": "x"}] if i % 5 == 0 else [],
        )
        for i in range(50)
    ]
    fast = _CONVERTER.page_decoder(copy.deepcopy(items))  # raises rather than fall back
    _same(fast, _slow(items))
    assert all(d.present_fields == DID_FIELDS for d in fast)


def test_fast_path_field_filtered_page():
    items = [{"phonenumber": f"1516{i:07d}", "price": "0.6", "unknown": 1} for i in range(5)]
    fast = _CONVERTER.page_decoder(copy.deepcopy(items))
    _same(fast, _slow(items))
    assert fast[0].present_fields == {"phonenumber", "price"} and fast[0].state is None


@pytest.mark.parametrize(
    "items",
    [
        [{"phonenumber": "1"}, {"phonenumber": "2", "price": "1"}],  # mixed field sets
        [dict(ITEM, capabilities=64)],  # a bit beyond the documented five
        [dict(ITEM, price=1)],  # a number where a string is documented
        [dict(ITEM, price=0.5)],
        [{}],
    ],
)
def test_pages_the_fast_path_declines_still_decode_as_before(items):
    _same(decode_dids(copy.deepcopy(items)), _slow(items))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("capabilities", True),
        ("price", "Infinity"),
        ("price", ["0.6"]),
        ("attributes", []),
        ("transformations", [1]),
        ("status", 1),
        # What a whole-page type check could miss: a bool is an int, a float equals one.
        ("capabilities", 4.0),
        ("active_capabilities", False),
        ("price", True),
        ("status", True),
        ("status", 1.5),
        ("name", {}),
        ("locality", ["NEW YORK"]),
        ("attributes", "x"),
        ("transformations", [[]]),
        ("transformations", [None]),
        ("transformations", {}),  # cattrs alone makes a list of any iterable: [] here
        ("transformations", {"a": {}}),
        ("transformations", "ab"),
    ],
)
def test_bad_value_on_a_big_page_names_the_record(field, value):
    items = [_record(i) for i in range(20)]
    items[13] = dict(items[13], **{field: value})
    with pytest.raises(ResponseDecodeError, match=r"items\[13\] \(did_sid 07e3dee3-0000") as info:
        decode_dids(items)
    assert field in str(info.value)


def test_strict_converter_rejects_an_unknown_key_on_any_record():
    strict = make_converter(forbid_extra_keys=True)
    assert len(decode_dids([_record(i) for i in range(5)], converter=strict)) == 5
    items = [_record(i) for i in range(5)]
    items[3] = dict(items[3], brand_new_field=1)
    with pytest.raises(ResponseDecodeError, match=r"items\[3\]"):
        decode_dids(items, converter=strict)
    filtered = [{"phonenumber": "1", "extra": 1}]
    with pytest.raises(ResponseDecodeError, match=r"items\[0\]"):
        decode_dids(filtered, converter=strict)


def test_declined_page_reaches_the_precise_path_unchanged():
    items = [_record(i) for i in range(10)]
    items[9] = dict(items[9], capabilities=64)  # declined only at the capability check
    pristine = copy.deepcopy(items)
    decode_dids(items)
    assert items == pristine


def test_price_cache_stays_correct_past_its_bound():
    items = [dict(ITEM, price=f"{i}.5") for i in range(5000)]
    assert [d.price for d in decode_dids(items)] == [Decimal(f"{i}.5") for i in range(5000)]
    assert decode_dids([dict(ITEM, price="0.60")])[0].price.as_tuple().exponent == -2


_values = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.integers(-2, 40),
    st.booleans(),
    st.floats(allow_nan=True),
    st.sampled_from(["0.6", "NaN", "1e3", "abc", " 1 "]),
    st.just({}),
    st.just([]),
    st.just([{}]),
    st.just({"a": 1}),
)
_KIND_VALUES = {  # mostly what the API sends for each field kind
    "capabilities": st.integers(0, 31),
    "active_capabilities": st.integers(0, 31),
    "price": st.sampled_from(["0.6", "1.10", "0", "1e3", "-2", "0.005"]),
    "attributes": st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    "transformations": st.lists(st.dictionaries(st.text(max_size=2), st.none()), max_size=2),
}


@st.composite
def _pages(draw):
    """A page whose records share one key set (as real pages do), values mostly well typed.

    A quarter of the pages also draw values from ``_values`` (any JSON kind), so both paths
    meet wrong types and values the fast path declines.
    """
    keys = draw(st.sets(st.sampled_from(sorted(DID_FIELDS | {"unknown"})), min_size=1))
    mixed = draw(st.integers(0, 3)) == 0

    def value(key):
        good = _KIND_VALUES.get(key, st.text(max_size=3))
        return draw(st.none() | good | _values if mixed else st.none() | good)

    return [{k: value(k) for k in sorted(keys)} for _ in range(draw(st.integers(1, 4)))]


def _outcome(decode, items):
    try:
        return decode(copy.deepcopy(items))
    except ResponseDecodeError:
        return "refused"


def test_fast_path_never_disagrees_with_cattrs():
    """The public decoder (fast path first) and cattrs record by record agree on every page.

    Most pages must be taken by the fast path, or the property would compare nothing.
    """
    taken = []

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(_pages(), st.booleans())
    def check(items, strict):
        converter = make_converter(forbid_extra_keys=strict)
        slow = _outcome(lambda i: _slow(i, converter), items)
        try:
            fast = converter.page_decoder(copy.deepcopy(items))
        except Exception:  # declined: the public decoder falls back to the precise path
            taken.append(False)
        else:
            taken.append(True)
            _same(fast, slow)
        public = _outcome(lambda i: decode_dids(i, converter=converter), items)
        if slow == "refused":
            assert public == "refused"
        else:
            _same(public, slow)

    check()
    assert sum(taken) >= len(taken) // 2, f"the fast path took {sum(taken)} of {len(taken)}"


_valid = {
    "active_capabilities": st.none() | st.integers(0, 31),
    "capabilities": st.none() | st.integers(0, 31),
    "price": st.none() | st.sampled_from(["0.6", "1.10", "0", "1e3", "-2", " 3 "]),
    "attributes": st.none() | st.dictionaries(st.text(max_size=2), st.integers()),
    "transformations": st.none() | st.lists(st.dictionaries(st.text(max_size=2), st.none())),
}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {k: _valid.get(k, st.none() | st.text(max_size=3)) for k in sorted(DID_FIELDS)}
        ),
        min_size=1,
        max_size=5,
    )
)
def test_valid_full_records_take_the_fast_path(items):
    _same(_CONVERTER.page_decoder(copy.deepcopy(items)), _slow(items))


# --- what decoding leaves to the garbage collector -------------------------------------------

import gc  # noqa: E402

from carrierx_async._convert import as_dids, decode_fields, decode_json  # noqa: E402


def _big_body(n=3000):
    return json.dumps({"items": [_record(i) for i in range(n)]}).encode()


def _collections_during(call):
    seen = []

    def on_gc(phase, info):
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(on_gc)
    try:
        result = call()
    finally:
        gc.callbacks.remove(on_gc)
    return seen, result


def test_no_collection_runs_while_a_body_is_parsed_and_the_collector_is_resumed():
    body = _big_body()  # 9000 new container objects: ~12 young collections without a pause
    assert gc.isenabled()
    seen, data = _collections_during(lambda: decode_json(body))
    assert seen == [] and len(data["items"]) == 3000
    assert gc.isenabled()
    with pytest.raises(ResponseDecodeError):
        decode_json(body[:-1])
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_disabled():
    gc.disable()
    try:
        decode_json(_big_body(10))
        with pytest.raises(ResponseDecodeError):
            decode_json(b"{")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_fields_become_the_same_records_as_decode_dids():
    items = [dict(_record(i), price="1.10", capabilities=i % 32) for i in range(30)]
    items[4] = {"phonenumber": "15160000004"}  # another shape: the precise path
    fields = decode_fields(copy.deepcopy(items))
    assert all(type(f) is dict for f in fields)
    dids = as_dids(fields)
    _same(dids, _slow(items))
    assert dids[4].present_fields == {"phonenumber"} and dids[4].price is None
    assert vars(dids[0]) is fields[0]  # no copy
