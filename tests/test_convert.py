"""Decoding real response bytes into models (pure, no event loop).

Expected values are hand-written here (the documented sample, tables of wire values and
their outcomes); wire tests of the same decoders are in test_stream.py and test_limits.py.
"""

import gc
import json
import typing
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carrierx_async import AvailableDid, Capability, ResponseDecodeError
from carrierx_async._body import parse_page
from carrierx_async._convert import (
    DECODERS,
    MAX_DEPTH,
    RECORD,
    SLICE_BYTES,
    decode_did,
    decode_envelope,
    decode_json,
    decode_page,
    explain,
    join,
    parse,
    slices,
)
from carrierx_async._models import DID_FIELDS, DID_TYPES

SAMPLE = (Path(__file__).parent / "samples" / "available_dids_page.json").read_bytes()
ITEM = json.loads(SAMPLE)["items"][0]


def record(i, **changes):
    base = dict(ITEM, did_sid=f"07e3dee3-0000-0000-0000-{i:012x}", phonenumber=f"1516{i:07d}")
    return base | changes


def body_of(items, **envelope):
    return json.dumps({"items": items, "has_more": False} | envelope).encode()


def test_documented_sample_decodes_strictly():
    page = decode_page(SAMPLE, strict=True)
    assert (page.count, page.has_more, page.limit, page.offset, page.total) == (1, True, 1, 0, None)
    did = page.items[0]
    assert did.phonenumber == "15162065573"
    assert did.price == Decimal("0.6")
    assert did.capabilities == Capability.SMS_IN | Capability.SMS_OUT | Capability.VOICE
    assert type(did.capabilities) is Capability and Capability.VOICE in did.capabilities
    assert did.active_capabilities == Capability.VOICE
    assert did.state == "NY" and did.locality == "NEW YORK"
    assert did.transformations == [] and did.attributes == {}
    assert did.present_fields == DID_FIELDS
    assert page.next_url is not None and page.next_url.endswith("offset=1")


def test_page_count_is_the_servers_or_else_the_number_of_items():
    assert decode_page(body_of([record(0), record(1)], count=7)).count == 7
    assert decode_page(body_of([record(0), record(1)])).count == 2
    assert decode_page(body_of([])).count == 0


def test_strict_decoding_refuses_a_key_the_model_does_not_know_lenient_ignores_it():
    for key in ("brand_new_field", "present_fields"):  # present_fields is not a wire field
        item = record(0) | {key: ["x"]}
        with pytest.raises(ResponseDecodeError, match=f"@ record.{key}"):
            decode_did(item, strict=True)
        with pytest.raises(ResponseDecodeError, match=r"items\[0\]"):
            decode_page(body_of([item]), strict=True)
        did = decode_did(item)
        assert did.present_fields == DID_FIELDS and "brand_new_field" not in vars(did)
    page = decode_page(body_of([record(0) | {"present_fields": ["x"]}]))
    assert page.items[0].present_fields == DID_FIELDS


def test_field_filtered_record_has_only_sent_fields():
    did = decode_did({"phonenumber": "15162065573", "callback_url": None})
    assert did.phonenumber == "15162065573"
    assert did.price is None and did.state is None
    assert did.present_fields == {"phonenumber", "callback_url"}


# What each wire value gives: a typed value, or a refusal naming the field (hand-written).
VALUES = [
    ("price", "1.10", Decimal("1.10")),
    ("price", "0.005", Decimal("0.005")),
    ("price", " 3 ", Decimal("3")),
    ("price", 2, Decimal("2")),
    ("price", 1.5, Decimal("1.5")),
    ("price", None, None),
    ("price", "abc", "refused"),
    ("price", "NaN", "refused"),
    ("price", "Infinity", "refused"),
    ("price", "-sNaN", "refused"),
    ("price", True, "refused"),
    ("price", ["0.6"], "refused"),
    ("capabilities", 0, Capability(0)),
    ("capabilities", 31, Capability(31)),
    ("capabilities", None, None),
    ("capabilities", -1, "refused"),
    ("capabilities", 32, "refused"),
    ("capabilities", 64, "refused"),
    ("capabilities", 2**70, "refused"),
    ("capabilities", True, "refused"),
    ("capabilities", 7.0, "refused"),
    ("capabilities", "7", "refused"),
    ("active_capabilities", -(2**63), "refused"),
    ("active_capabilities", False, "refused"),
    ("lata", "", ""),
    ("lata", None, None),
    ("lata", 5, "refused"),
    ("lata", 5.5, "refused"),
    ("lata", True, "refused"),
    ("lata", ["x"], "refused"),
    ("lata", {"x": 1}, "refused"),
    ("attributes", {"nested": {"a": [1, None]}}, {"nested": {"a": [1, None]}}),
    ("attributes", {"big": 2**70 + 1}, {"big": 2**70 + 1}),
    ("attributes", [], "refused"),
    ("attributes", "x", "refused"),
    ("transformations", [{"kind": "x"}], [{"kind": "x"}]),
    ("transformations", [1], "refused"),
    ("transformations", [[]], "refused"),
    ("transformations", [None], "refused"),
    ("transformations", {}, "refused"),
    ("transformations", "ab", "refused"),
]


def outcome(decode):
    try:
        return decode()
    except ResponseDecodeError as exc:
        return str(exc)


@pytest.mark.parametrize(("field", "value", "expected"), VALUES)
@pytest.mark.parametrize("where", [0, 13])
def test_a_wire_value_gives_its_typed_value_or_an_error_naming_record_and_field(
    field, value, expected, where
):
    items = [record(i) for i in range(20)]
    items[where][field] = value
    body = body_of(items)
    sid = items[where]["did_sid"]
    got = outcome(lambda: getattr(decode_page(body).items[where], field))
    via_explain = outcome(lambda: explain(body, typed=True)["items"][where][field])
    if expected == "refused":
        assert f"items[{where}] (did_sid {sid}) is not a valid DID" in got
        assert f"@ record.{field}" in got
        assert via_explain == got
        assert parse(body, typed=True) is None  # the fast decoder refuses it too
    else:
        assert got == expected and type(got) is type(expected)
        assert via_explain == expected and type(via_explain) is type(expected)


def test_a_key_sent_twice_keeps_the_last_value_as_plain_json_does():
    text = json.dumps({"items": [record(0)], "has_more": False})
    for first in ('"999"', "7"):
        body = text.replace('"lata":', f'"lata": {first}, "lata":', 1).encode()
        assert decode_page(body).items[0].lata == ITEM["lata"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "malformed JSON"),
        (b'{"items": [', "malformed JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"count": 0}', "no 'items'"),
        (b'{"items": 5}', "no 'items'"),
        (b'{"items": [], "has_more": "yes"}', "has_more"),
        (b'{"items": [], "has_more": null}', "has_more"),
        (b'{"items": [], "limit": "10"}', "limit"),
        (b'{"items": [], "total": 1.5}', "total"),
        (b'{"items": [], "count": true}', "count"),
        (b'{"items": [1]}', "items[0] is not a JSON object"),
        (b'{"items": [{}, null, 5]}', "items[1] is not a JSON object"),
    ],
)
@pytest.mark.parametrize("typed", [True, False])
def test_malformed_bodies_raise_decode_error_in_both_modes(body, fragment, typed):
    with pytest.raises(ResponseDecodeError, match="HTTP 200") as info:
        explain(body, typed=typed)
    assert fragment in str(info.value)
    assert parse(body, typed=typed) is None


def test_the_excerpt_is_the_bodys_first_120_characters():
    body = b'{"items": [' + b'"%d", ' * 200
    with pytest.raises(ResponseDecodeError) as info:
        decode_json(body)
    assert info.value.excerpt == body[:120].decode()
    assert str(info.value).endswith(f"; body starts {body[:120].decode()!r}")


def test_a_pagination_object_gives_the_next_url_only_when_it_is_text():
    for pagination, expected in [
        ({"next": "https://x/?offset=5"}, "https://x/?offset=5"),
        ({"next": 5}, None),
        ("x", None),
    ]:
        _, page = decode_envelope({"items": [], "pagination": pagination})
        assert page.next_url == expected


# --- one schema, every decoder derived from it ----------------------------------------------

GOOD_AND_BAD = {  # a value of each wire type, and one of another type
    str | None: ("x", 5),
    Decimal | None: ("1.5", "abc"),
    Capability | None: (7, -1),
    dict[str, typing.Any] | None: ({"k": 1}, []),
    list[dict[str, typing.Any]] | None: ([{"k": 1}], [1]),
}


def test_the_schema_is_the_models_annotations_and_every_decoder_uses_it():
    hints = typing.get_type_hints(AvailableDid)
    assert {n: t for n, t in hints.items() if n != "present_fields"} == DID_TYPES
    assert typing.get_type_hints(RECORD) == DID_TYPES
    assert set(GOOD_AND_BAD) == set(DID_TYPES.values())
    for field, kind in DID_TYPES.items():
        good, bad = GOOD_AND_BAD[kind]
        run = json.dumps([record(0, **{field: good})]).encode()
        assert parse(run, typed=True, whole=False)[0][field] == good or field == "price"
        assert parse(run.replace(b"[", b"[", 1), typed=False, whole=False) is not None
        bad_body = body_of([record(0, **{field: bad})])
        bad_run = json.dumps([record(0, **{field: bad})]).encode()
        assert parse(bad_body, typed=True) is None, field
        assert parse(bad_run, typed=True, whole=False) is None, field
        assert parse(bad_body, typed=False) is not None, field  # .dicts(): as sent
        with pytest.raises(ResponseDecodeError, match=f"@ record.{field}"):
            decode_did(record(0, **{field: bad}))
    assert len(DECODERS) == 4


# --- nesting: one explicit limit on every Python ------------------------------------------


def nested(levels):
    """A page whose document nests ``levels`` deep (envelope 1, items 2, record 3, ...)."""
    inner = b"[" * (levels - 4) + b"]" * (levels - 4)
    return body_of([record(0, attributes={"a": []})]).replace(b'"a": []', b'"a": ' + inner)


def test_the_nesting_limit_is_256_levels():
    assert MAX_DEPTH == 256


@pytest.mark.parametrize("typed", [True, False])
async def test_a_body_nested_past_the_limit_is_refused_in_every_mode(typed):
    ok = await parse_page(nested(MAX_DEPTH), 200, typed=typed)
    assert len(ok["items"]) == 1
    for levels in (MAX_DEPTH + 1, 1100, 100_000):
        with pytest.raises(ResponseDecodeError, match=f"nested deeper than {MAX_DEPTH} levels"):
            await parse_page(nested(levels), 200, typed=typed)
    with pytest.raises(ResponseDecodeError, match="nested deeper"):
        decode_json(b"[" * 100_000)


# --- the host's collector is the host's -------------------------------------------------------


@pytest.mark.parametrize("enabled", [True, False])
async def test_decoding_leaves_the_collector_as_the_host_set_it(enabled):
    body = body_of([record(i) for i in range(2000)])  # big: parsed in pieces
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        for typed in (True, False):
            await parse_page(body, 200, typed=typed)
            assert gc.isenabled() is enabled
            with pytest.raises(ResponseDecodeError):
                await parse_page(body[:-1], 200, typed=typed)
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


# --- the cut: a big body as small documents ----------------------------------------------


NASTY = ["}", "{", "]", "[", "},{", "}, {", '"items":[', "\\", '"', "é", "\u2028", ",", ":"]
texts = st.lists(st.sampled_from(NASTY) | st.text(max_size=3), max_size=4).map("".join)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
record_st = st.dictionaries(texts, values, min_size=1, max_size=4)
envelope_st = st.dictionaries(texts.filter(lambda k: k != "items"), values, max_size=3)


def dumps(obj, style):
    if style == "spaced":
        return json.dumps(obj).encode()
    if style == "indented":
        return json.dumps(obj, indent=2).encode()
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def pieces(docs):
    """What the shell does with the documents (.dicts() decoders): None when one fails."""
    envelope = parse(docs[0], typed=False)
    runs = [parse(doc, typed=False, whole=False) for doc in docs[1:]]
    return None if envelope is None or None in runs else join(envelope, runs)


@settings(max_examples=40)
@given(envelope_st, st.lists(record_st, max_size=8), envelope_st, st.integers(1, 200), st.data())
def test_pieces_join_to_the_whole_parse_or_not_at_all(before, items, after, size, data):
    style = data.draw(st.sampled_from(["spaced", "indented", "compact"]))
    body = bytearray(dumps({**before, "items": items, **after}, style))
    if data.draw(st.booleans()):  # a byte deleted or swapped in
        at = data.draw(st.integers(0, len(body) - 1))
        body[at : at + data.draw(st.integers(0, 1))] = bytes(
            [data.draw(st.sampled_from(b'{}[],:"\\ x'))]
        )
    docs = slices(bytes(body), size)
    joined = None if docs is None else pieces(docs)
    if joined is not None:
        whole = msgspec.json.decode(bytes(body))  # raises if the broken body does not parse
        assert joined["items"] == whole["items"]  # and the envelope keeps the keys it reads
        assert joined == {k: v for k, v in whole.items() if k in joined}


def test_plain_records_are_cut_and_every_piece_parses():
    items = [{"did_sid": f"sid-{n}", "phonenumber": str(n), "price": "0.5"} for n in range(60)]
    body = dumps({"count": 60, "has_more": True, "items": items, "offset": 0}, "spaced")
    docs = slices(body, 200)
    assert docs is not None and len(docs) > 2
    assert pieces(docs) == json.loads(body)
    assert all(len(doc) < 200 + 2 * len(json.dumps(items[0])) for doc in docs[1:])


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"meta": {"items": [1]}, "items": [{"a": 1}, {"a": 2}]}', "nested items first"),
        (b'{"note": "[", "items": [{"a": 1}, {"a": 2}]}', "a bracket in a string before"),
        (b'[{"items": [{"a": 1}, {"a": 2}]}]', "not an object at the top"),
        (b'{"items": [{"a": 1}, {"a": 2}}', "no closing bracket after the records"),
        (b'{"items": [{"a": 1}]}', "one record: nothing to cut"),
        (b'{"items": {"a": 1}, "x": [{"a": 1}, {"a": 2}]}', "items is not an array"),
    ],
)
def test_bodies_the_cut_cannot_vouch_for_are_parsed_whole(body, why):
    assert slices(body, 1) is None, why


def test_a_later_items_key_or_a_cut_inside_a_string_does_not_join():
    later = b'{"items": [{"a": 1}, {"a": 2}], "items": 5}'
    assert pieces(slices(later, 1)) is None
    in_string = b'{"items": [{"a": "x}, {y"}, {"a": 2}]}'
    assert pieces(slices(in_string, 1)) is None


def test_small_bodies_are_not_cut():
    body = body_of([record(i) for i in range(10)])
    assert len(body) < 2 * SLICE_BYTES and slices(body) is None
