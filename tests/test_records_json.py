"""Records as JSON (``AvailableDid.to_dict``) and capability masks by name.

Expected values come from the fake server's own wire records (``fake.inventory``, built by
``carrierx_async.testing`` without the client's decoder) and from hand-written tables.
"""

import json
from decimal import Decimal

import pytest

from carrierx_async import AvailableDid, Capability, Client
from carrierx_async._convert import decode_did
from carrierx_async.testing import FakeCarrierX, did_record

TOKEN = "test-token"


async def walk(fake, **kwargs):
    async with Client(TOKEN, base_url=fake.base_url) as client:
        return [d async for d in client.available_dids(**kwargs)]


async def test_every_demo_record_is_json_and_reads_back_equal():
    async with FakeCarrierX() as fake:
        dids = await walk(fake)
        wire = list(fake.inventory)
    assert len(dids) == len(wire) == 3000
    for did, sent in zip(dids, wire, strict=True):
        text = json.dumps(did.to_dict())
        assert json.loads(text) == sent  # the server's JSON, value for value
        back = decode_did(json.loads(text))
        assert back == did
        assert back.present_fields == did.present_fields == frozenset(sent)


async def test_to_dict_served_again_walks_to_equal_records():
    async with FakeCarrierX(size=300) as fake:
        first = await walk(fake)
    async with FakeCarrierX(inventory=[d.to_dict() for d in first]) as again:
        second = await walk(again)
    assert second == first
    assert [d.present_fields for d in second] == [d.present_fields for d in first]


async def test_only_the_fields_sent_unless_all_are_asked_for():
    record = did_record(price="0.50", capabilities=6, attributes={"tier": "gold"})
    async with FakeCarrierX(inventory=[record]) as fake:
        (did,) = await walk(fake, include_fields=["price", "capabilities", "attributes"])
    assert did.to_dict() == {"attributes": {"tier": "gold"}, "capabilities": 6, "price": "0.50"}
    every = did.to_dict(all_fields=True)
    assert len(every) == 26
    assert every["price"] == "0.50"
    assert every["phonenumber"] is None
    assert every["did_sid"] is None
    assert list(every) == sorted(every)  # wire order (API reference 8.1)
    assert json.loads(json.dumps(every))["capabilities"] == 6


def test_json_types_exactly():
    did = AvailableDid(
        price=Decimal("1.250"),
        capabilities=Capability.VOICE | Capability.SMS_IN,
        active_capabilities=Capability(0),
        present_fields=frozenset({"price", "capabilities", "active_capabilities", "state"}),
    )
    out = did.to_dict()
    assert out == {"active_capabilities": 0, "capabilities": 5, "price": "1.250", "state": None}
    assert [type(v) for v in out.values()] == [int, int, str, type(None)]
    assert AvailableDid().to_dict() == {}  # built by hand: no field was sent


@pytest.mark.parametrize(
    ("mask", "text"),
    [
        (Capability.VOICE | Capability.SMS_OUT, "SMS_OUT|VOICE"),
        (Capability(31), "SMS_IN|SMS_OUT|VOICE|MMS_IN|MMS_OUT"),
        (Capability.MMS_OUT, "MMS_OUT"),
        (Capability(0), "0"),
    ],
)
def test_capability_text_names_the_bits(mask, text):
    assert str(mask) == text
    assert f"{mask}" == text
    assert f"{mask:d}" == format(int(mask), "d")
    assert f"{mask:>3}" == format(int(mask), ">3")
    assert repr(Capability(6)) == "<Capability.SMS_OUT|VOICE: 6>"


async def test_a_capability_in_extra_params_travels_as_its_number():
    async with FakeCarrierX(size=3) as fake:
        await walk(fake, extra_params={"mask": Capability.VOICE | Capability.SMS_IN})
        assert fake.requests[0].query["mask"] == "5"
