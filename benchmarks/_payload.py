"""Realistic Browse Available DIDs pages, built cheaply and byte-for-byte deterministic.

Every record has the 26 fields of the API reference 4.5 sample, a unique ``did_sid``
and ``phonenumber`` derived from its index, and a little variety (capabilities,
price, locality, state) so the decoder sees real-world shapes, not one record repeated.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

__all__ = ["PUBLIC_BASE", "did_record", "list_page", "page_body", "twilio_page_body"]

PUBLIC_BASE: Final = "https://api.carrierx.com/core/v2"
_CITIES: Final = (
    ("NEW YORK", "NY", "516", "132"),
    ("LOS ANGELES", "CA", "213", "730"),
    ("CHICAGO", "IL", "312", "358"),
    ("HOUSTON", "TX", "713", "560"),
    ("MIAMI", "FL", "305", "460"),
)
_PRICES: Final = ("0.6", "0.75", "1.0", "0.005", "2.5")
_CAPS: Final = (7, 5, 31, 4, 23)


def did_record(i: int) -> dict[str, Any]:
    """The i-th DID object (reference 4.5 shape, all fields present)."""
    city, state, npa, lata = _CITIES[i % 5]
    line = f"{i % 10_000_000:07d}"
    number = f"1{npa}{line}"
    return {
        "active_capabilities": 4,
        "attributes": {},
        "callback_url": None,
        "campaign_sid": None,
        "capabilities": _CAPS[i % 5],
        "classification_sid": "17f4d954-d635-4cda-912b-c2a2fa3a6860",
        "country_code": "USA",
        "did_group_sid": None,
        "did_sid": f"07e3dee3-2f0d-4254-b635-{i:012x}",
        "in_country_format": f"({npa}) {line[:3]}-{line[3:]}",
        "international_format": f"+1 {npa}-{line[:3]}-{line[3:]}",
        "lata": lata,
        "locality": city,
        "lrn_sid": None,
        "name": "N/A",
        "ocn": f"{(i * 7919) % 10000:04d}",
        "partner_sid": None,
        "phonenumber": number,
        "porting_pin": None,
        "price": _PRICES[i % 5],
        "state": state,
        "status": "available",
        "string_key_1": None,
        "string_key_2": None,
        "transformations": [],
        "trunk_group_sid": None,
    }


def list_page(
    items: list[Any], *, offset: int, limit: int, total_records: int, path: str, base: str
) -> dict[str, Any]:
    """The list envelope of reference 5.2 around ``items``."""
    end = offset + len(items)
    has_more = end < total_records
    return {
        "count": len(items),
        "has_more": has_more,
        "items": items,
        "limit": limit,
        "offset": offset,
        "pagination": {"next": f"{base}{path}?limit={limit}&offset={end}"} if has_more else {},
        "total": None,
    }


def page_body(offset: int, limit: int, total_records: int, *, base: str = PUBLIC_BASE) -> bytes:
    """One serialized page of the available_dids collection."""
    end = min(offset + limit, total_records)
    items = [did_record(i) for i in range(offset, end)]
    page = list_page(
        items,
        offset=offset,
        limit=limit,
        total_records=total_records,
        path="/phonenumber/available_dids",
        base=base,
    )
    return orjson.dumps(page)


def _twilio_number(i: int) -> dict[str, Any]:
    city, state, npa, lata = _CITIES[i % 5]
    line = f"{i % 10_000_000:07d}"
    return {
        "friendly_name": f"({npa}) {line[:3]}-{line[3:]}",
        "phone_number": f"+1{npa}{line}",
        "lata": lata,
        "locality": city.title(),
        "rate_center": city.replace(" ", "")[:10],
        "latitude": "40.718100",
        "longitude": "-74.005100",
        "region": state,
        "postal_code": "10013",
        "iso_country": "US",
        "address_requirements": "none",
        "beta": False,
        "capabilities": {"voice": True, "SMS": True, "MMS": i % 2 == 0, "fax": False},
    }


def twilio_page_body(page: int, page_size: int, total_records: int, account: str) -> bytes:
    """One page of Twilio's AvailablePhoneNumbers/US/Local list (its own envelope)."""
    start = page * page_size
    end = min(start + page_size, total_records)
    uri = f"/2010-04-01/Accounts/{account}/AvailablePhoneNumbers/US/Local.json"
    more = end < total_records
    body: dict[str, Any] = {
        "available_phone_numbers": [_twilio_number(i) for i in range(start, end)],
        "uri": f"{uri}?PageSize={page_size}&Page={page}",
        "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
        "next_page_uri": f"{uri}?PageSize={page_size}&Page={page + 1}" if more else None,
        "previous_page_uri": None,
        "page": page,
        "page_size": page_size,
        "start": start,
        "end": end - 1,
    }
    return orjson.dumps(body)
