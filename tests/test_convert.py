"""Decoding real response bytes into models (pure, no event loop)."""

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
