"""Value types for ``carrierx-dids`` flags: each turns one flag's text into a checked value.

Each raises argparse.ArgumentTypeError, which argparse reports as a one-line usage error.
"""

from __future__ import annotations

import argparse
import math
from decimal import Decimal, InvalidOperation
from typing import Final

from .._errors import FilterError
from .._fields import field_name
from .._filters import Filter
from .._models import Capability

SMS: Final = Capability.SMS_IN | Capability.SMS_OUT
MMS: Final = Capability.MMS_IN | Capability.MMS_OUT
_CAPABILITY_NAMES: Final = {  # API 8.2
    "voice": Capability.VOICE,
    "sms": SMS,
    "mms": MMS,
    "sms_in": Capability.SMS_IN,
    "sms_out": Capability.SMS_OUT,
    "mms_in": Capability.MMS_IN,
    "mms_out": Capability.MMS_OUT,
}


def _capabilities(text: str) -> Capability:
    """``voice,sms`` -> the OR of those capability bits."""
    mask = Capability(0)
    for name in filter(None, (n.strip().lower() for n in text.split(","))):
        if name not in _CAPABILITY_NAMES:
            raise argparse.ArgumentTypeError(
                f"unknown capability {name!r}; choose from {', '.join(_CAPABILITY_NAMES)}"
            )
        mask |= _CAPABILITY_NAMES[name]
    if not mask:
        raise argparse.ArgumentTypeError("no capability given")
    return mask


def _near(text: str) -> Filter:
    """``LAT,LNG``, ``latlng:LAT,LNG``, ``npa:NPA`` or ``zip:ZIP`` -> a nearby filter."""
    kind, sep, value = text.partition(":")
    try:
        if sep and kind == "npa":
            return Filter.nearby(npa=value)
        if sep and kind == "zip":
            return Filter.nearby(zip=value)
        lat, comma, lng = (value if sep and kind == "latlng" else text).partition(",")
        if not comma:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not LAT,LNG (e.g. 40.7128,-74.006), npa:NPA or zip:ZIP"
            )
        return Filter.nearby(latlng=(Decimal(lat.strip()), Decimal(lng.strip())))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not LAT,LNG in decimal degrees") from None
    except FilterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fields(text: str) -> list[str]:
    """``a,b,c`` -> validated DID field names, in the order given."""
    try:
        names = [field_name(n.strip()) for n in text.split(",") if n.strip()]
    except FilterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not names:
        raise argparse.ArgumentTypeError("no field name given")
    return list(dict.fromkeys(names))


def _count(text: str) -> int:
    """A whole number >= 0."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def _positive(text: str) -> int:
    """A whole number >= 1."""
    n = _count(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _seconds(text: str) -> float:
    """A number of seconds > 0 (``--timeout``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value < 1e6):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    return value


def _prefix(text: str) -> str:
    """Leading digits of a phone number (``--prefix 1516``)."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not digits, e.g. 1516")
    return text
