"""Records built by hand: ``did_record(**fields)`` makes one complete, validated DID object."""

from __future__ import annotations

import difflib
import itertools
from typing import Any, Final

from .fields import FIELDS, record_problem
from .inventory import _OCNS, DEFAULT_CLASSIFICATION_SID

__all__ = ["did_record"]

_BUILT: Final = itertools.count(1)
_BUILT_SID_PREFIX: Final = "d1d00000-0000-4000-8000-"


def _formats(number: str) -> tuple[str, str]:
    """(in_country_format, international_format) of a phonenumber, as the fake writes them."""
    if len(number) == 11 and number.startswith("1"):  # NANP, like the generated USA numbers
        n = number[1:]
        return f"({n[:3]}) {n[3:6]}-{n[6:]}", f"+1 {n[:3]}-{n[3:6]}-{n[6:]}"
    if number.startswith("44") and len(number) > 2:
        return f"0{number[2:]}", f"+44 {number[2:]}"
    return number, f"+{number}"


def did_record(**fields: Any) -> dict[str, Any]:
    """A complete, valid wire DID object (every documented field); any field can be overridden.

    ``FakeCarrierX(inventory=[did_record(state="NY", price="0.5"), did_record()])``.
    Defaults: status "available", owner fields null, a NEW YORK, NY number (country_code
    "USA"), capabilities 7 with active_capabilities 4 (4 if voice else 0), price "0.6".
    ``did_sid`` and ``phonenumber`` come from a process-wide counter unless given (unique
    per call); ``in_country_format``, ``international_format`` and ``active_capabilities``
    are derived from ``phonenumber`` and ``capabilities`` unless given.

    Raises TypeError for an unknown field (naming the valid ones) and ValueError for a
    value of the wrong type for its field (as the API reference's DID object has them:
    text or null; a capability bitmask 0..31; a price as decimal text; ``attributes`` an
    object; ``transformations`` a list of objects) or one JSON cannot carry.
    """
    if unknown := sorted(set(fields) - FIELDS.keys()):
        hints = [
            f"{name!r} (did you mean {close[0]!r}?)"
            if (close := difflib.get_close_matches(name, FIELDS, n=1))
            else repr(name)
            for name in unknown
        ]
        raise TypeError(
            f"did_record() got unknown field {', '.join(hints)}; "
            f"valid fields: {', '.join(sorted(FIELDS))}"
        )
    n = next(_BUILT)
    number = f"1212{200 + n // 10_000 % 800:03d}{n % 10_000:04d}"
    record: dict[str, Any] = {
        "active_capabilities": 4,
        "attributes": {},
        "callback_url": None,
        "campaign_sid": None,
        "capabilities": 7,
        "classification_sid": DEFAULT_CLASSIFICATION_SID,
        "country_code": "USA",
        "did_group_sid": None,
        "did_sid": f"{_BUILT_SID_PREFIX}{n:012x}",
        "in_country_format": None,
        "international_format": None,
        "lata": "132",
        "locality": "NEW YORK",
        "lrn_sid": None,
        "name": "N/A",
        "ocn": _OCNS[0],
        "partner_sid": None,
        "phonenumber": number,
        "porting_pin": None,
        "price": "0.6",
        "state": "NY",
        "status": "available",
        "string_key_1": None,
        "string_key_2": None,
        "transformations": [],
        "trunk_group_sid": None,
    }
    record.update(fields)
    phone = record["phonenumber"]
    national, international = _formats(phone) if isinstance(phone, str) else (None, None)
    if "in_country_format" not in fields:
        record["in_country_format"] = national
    if "international_format" not in fields:
        record["international_format"] = international
    caps = record["capabilities"]
    if "active_capabilities" not in fields and type(caps) is not bool:
        if caps is None:
            record["active_capabilities"] = None
        elif isinstance(caps, int):  # a bad type is left for record_problem to name
            record["active_capabilities"] = 4 if caps & 4 else 0  # messaging disabled (8.1)
    if (why := record_problem(record)) is not None:
        raise ValueError(f"did_record(): {why}")
    return record
