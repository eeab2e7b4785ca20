"""Typed streams parse pages with msgspec, checking wire types on the way (_checked_json).

The promise: what a typed stream yields or raises is what the orjson parse + the precise
decoder gives for the same body. Each hostile value below goes through both: the
expected outcome comes from the older path (orjson, then cattrs record by record), not
from the code under test. Streams through the wire: test_stream.py.
"""

import json
from pathlib import Path

import orjson
import pytest

from carrierx_async import ResponseDecodeError
from carrierx_async._body import parse_checked
from carrierx_async._checked_json import ENVELOPE_KEYS, checked_page, checked_run
from carrierx_async._convert import decode_did, decode_dids, decode_envelope
from carrierx_async._json_slices import slices
from carrierx_async._models import DID_FIELDS

SAMPLE = json.loads((Path(__file__).parent / "samples" / "available_dids_page.json").read_bytes())
ITEM = SAMPLE["items"][0]


def record(i, **changes):
    base = dict(ITEM, did_sid=f"07e3dee3-0000-0000-0000-{i:012x}", phonenumber=f"1516{i:07d}")
    return base | changes


def body_of(items, **envelope):
    page = {"items": items, "count": len(items), "has_more": False} | envelope
    return json.dumps(page).encode()  # json: orjson cannot write an integer over 64 bits


def outcome(decode, body):
    """("ok", each record's fields and present_fields) or ("error", the message)."""
    try:
        dids = decode(body)
    except ResponseDecodeError as exc:
        return "error", str(exc)
    return "ok", [({n: getattr(d, n) for n in DID_FIELDS}, d.present_fields) for d in dids]


def precise(body):
    items, _ = decode_envelope(orjson.loads(body))
    return [decode_did(item, index=i) for i, item in enumerate(items)]


def older(body):
    """The path typed streams took before _checked_json: orjson, then the page decoder."""
    items, _ = decode_envelope(orjson.loads(body))
    return decode_dids(items)


def through_checked(body):
    """What a typed stream does with a body parsed whole: checked, or else the older path."""
    data = checked_page(body)
    if data is None:
        return older(body)
    items, _ = decode_envelope(data)
    return decode_dids(items, checked=True)


HOSTILE = [
    ("lata", 5),
    ("lata", 5.5),
    ("lata", True),
    ("lata", ["x"]),
    ("lata", {"x": 1}),
    ("lata", ""),
    ("name", None),
    ("price", 1.5),
    ("price", 2),
    ("price", "abc"),
    ("price", "NaN"),
    ("price", "Infinity"),
    ("price", True),
    ("price", None),
    ("capabilities", 64),
    ("capabilities", -1),
    ("capabilities", True),
    ("capabilities", 7.0),
    ("capabilities", "7"),
    ("capabilities", None),
    ("active_capabilities", 2**70),
    ("active_capabilities", 2**63),
    ("capabilities", -(2**63)),
    ("attributes", []),
    ("attributes", "x"),
    ("attributes", None),
    ("attributes", {"nested": {"a": [1, None]}}),
    ("transformations", [1]),
    ("transformations", [[]]),
    ("transformations", {}),
    ("transformations", [{"kind": "x"}]),
    ("transformations", None),
    ("brand_new_field", {"any": "thing"}),
]


@pytest.mark.parametrize(("field", "value"), HOSTILE)
@pytest.mark.parametrize("where", [0, 2])
def test_a_hostile_value_gives_what_the_precise_path_gives(field, value, where):
    items = [record(i) for i in range(3)]
    items[where][field] = value
    body = body_of(items)
    expected = outcome(precise, body)
    assert outcome(through_checked, body) == expected
    assert outcome(older, body) == expected  # the two older paths agree with each other


def test_a_missing_field_and_records_of_different_fields_match_the_precise_path():
    short = {k: v for k, v in record(1).items() if k != "lata"}
    other = {k: v for k, v in record(2).items() if k != "ocn"}  # as many keys, not the same
    body = body_of([record(0), short, other])
    kind, records = outcome(through_checked, body)
    assert (kind, records) == outcome(precise, body)
    assert [len(present) for _, present in records] == [26, 25, 25]
    assert records[1][0]["lata"] is None and records[1][0]["ocn"] == ITEM["ocn"]
    assert records[2][0]["ocn"] is None and records[2][0]["lata"] == ITEM["lata"]


def test_records_of_one_partial_shape_but_different_keys_are_not_trusted():
    # Every record as many keys as the first, none of them all: the keys must be proved.
    no_lata = [{k: v for k, v in record(i).items() if k != "lata"} for i in range(2)]
    no_ocn = {k: v for k, v in record(2).items() if k != "ocn"}
    body = body_of([*no_lata, no_ocn])
    kind, records = outcome(through_checked, body)
    assert kind == "ok" and (kind, records) == outcome(precise, body)
    assert "lata" in records[2][1] and "ocn" not in records[2][1]
    assert records[2][0]["lata"] == ITEM["lata"]


def test_duplicate_keys_keep_the_last_value_as_orjson_does():
    text = orjson.dumps({"items": [record(0)], "has_more": False}).decode()
    dup = text.replace('"lata":', '"lata":"999","lata":', 1)
    wrong_first = text.replace('"lata":', '"lata":7,"lata":', 1)
    for body in (dup.encode(), wrong_first.encode()):
        assert outcome(through_checked, body) == outcome(precise, body)
    assert outcome(through_checked, dup.encode())[1][0][0]["lata"] == ITEM["lata"]


def test_a_number_beyond_64_bits_in_attributes_keeps_its_exact_value():
    # The one deliberate difference (see _checked_json): orjson makes it a float.
    body = body_of([record(0, attributes={"big": 2**70 + 1})])
    assert older(body)[0].attributes["big"] != 2**70 + 1  # a float, rounded
    assert through_checked(body)[0].attributes == {"big": 2**70 + 1}


def nested(depth):
    """A page whose one record's attributes nest ``depth`` arrays deep."""
    inner = b"[" * depth + b"]" * depth
    return body_of([record(0, attributes={"a": []})]).replace(b'"a": []', b'"a": ' + inner)


@pytest.mark.parametrize("depth", [990, 1000, 1020, 1021, 1100])
def test_deep_nesting_gives_what_the_precise_path_gives(depth):
    # msgspec's limit is Python's recursion limit (a RecursionError), orjson's 1024
    # levels (a decode error): a page orjson takes must not fail, one it refuses must
    # fail as before, whichever limit comes first (the record sits 4 levels deep).
    body = nested(depth)

    def shape(decode):  # compared without recursing: == on these would hit the limit too
        try:
            [did] = decode(body)
        except orjson.JSONDecodeError as exc:
            return "raises", type(exc)
        levels, node = 0, did.attributes["a"]
        while node:
            levels, node = levels + 1, node[0]
        return did.phonenumber, levels + 1

    expected = shape(precise)
    assert shape(through_checked) == expected
    assert expected == (
        ("15160000000", depth) if depth <= 1020 else ("raises", orjson.JSONDecodeError)
    )


@pytest.mark.parametrize(
    ("body", "vouched"),
    [
        # Refused by the envelope's types: the caller parses with orjson, the older path
        # decides. has_more and pagination are taken as any JSON (decode_envelope judges).
        (b"[]", False),
        (b'{"items": 5}', False),
        (b'{"items": [5]}', False),
        (b'{"items": [], "has_more": "yes"}', True),
        (b'{"items": [], "count": "1"}', False),
        (b'{"items": [], "total": 1.5}', False),
        (b'{"items": [], "total": 1180591620717411303424}', False),
        (b'{"items": [], "offset": 9223372036854775808}', False),
        (b'{"items": [], "has_more": null}', True),
        (b'{"items": [], "pagination": {"next": 5}}', True),
        (b'{"items": [{"lata": 1}]', False),
        (b"NaN", False),
    ],
)
def test_a_bad_envelope_is_not_vouched_for_or_fails_as_in_the_older_path(body, vouched):
    data = checked_page(body)
    try:
        expected = ("ok", decode_envelope(orjson.loads(body))[1])
    except (ResponseDecodeError, orjson.JSONDecodeError) as exc:
        expected = ("error", type(exc).__name__)
    assert (data is not None) is vouched
    if data is None:
        return
    try:
        got = ("ok", decode_envelope(data)[1])
    except ResponseDecodeError as exc:
        got = ("error", type(exc).__name__)
    assert got == expected


def test_the_envelope_keeps_every_key_decode_envelope_reads():
    body = orjson.dumps(
        {
            "count": 1,
            "has_more": True,
            "items": [record(0)],
            "limit": 1,
            "offset": 4,
            "pagination": {"next": "https://api.carrierx.com/core/v2/x?offset=5"},
            "total": 9,
            "unrelated": [1, 2],
        }
    )
    data = checked_page(body)
    assert data is not None and set(data) == set(ENVELOPE_KEYS)
    assert decode_envelope(data)[1] == decode_envelope(orjson.loads(body))[1]


def test_checked_records_need_no_second_check_of_their_wire_types():
    # The contract: checked=True trusts the parse. A value msgspec would have refused
    # shows that the page decoder did not look at it again.
    checked = decode_dids([record(0, lata=5)], checked=True)
    assert checked[0].lata == 5
    with pytest.raises(ResponseDecodeError, match="lata"):
        decode_dids([record(0, lata=5)])


def test_a_run_of_records_is_checked_as_a_page_is():
    assert checked_run(orjson.dumps([record(0), record(1)])) is not None
    assert checked_run(orjson.dumps([record(0), record(1, lata=1)])) is None
    assert checked_run(b'{"items": []}') is None


async def test_parse_checked_vouches_for_a_good_big_page_and_not_for_a_bad_one():
    items = [record(i) for i in range(1000)]
    good = body_of(items)
    assert slices(good) is not None  # parsed in pieces
    data, checked = await parse_checked(good, 200)
    assert checked and data == orjson.loads(good)
    items[777]["lata"] = 5
    bad = body_of(items)
    data, checked = await parse_checked(bad, 200)
    assert not checked and data == orjson.loads(bad)
