"""Value types for ``carrierx-dids`` flags: each turns one flag's text into a checked value.

Each raises argparse.ArgumentTypeError, which argparse reports as a one-line usage error.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Final

from .._errors import CarrierXError
from .._fields import F, field_name
from .._filter_parser import parse_filter
from .._filters import Filter
from .._models import Capability
from .._query import MAX_PAGE_SIZE

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


#: The library's words for its own API -> the same advice for a command-line user.
_LIBRARY_TERMS: Final = (
    ("Filter.raw(...)", "--raw-filter"),
    ("Filter.raw text", "the --raw-filter text"),
)
#: Where parse_filter found a problem, as it ends its message.
_LOCATION: Final = re.compile(r"(?s)(.+) at offset (\d+) in filter ('.*'|\".*\")")


def cli_words(message: str) -> str:
    """A library message with its advice in command-line terms (``--raw-filter``).

    A --filter problem says where first: ``--filter 'colour eq red' at offset 0: unknown
    field 'colour'; ...; if the API accepts it, send it with --raw-filter``.
    """
    for library, cli in _LIBRARY_TERMS:
        message = message.replace(library, cli)
    if m := _LOCATION.fullmatch(message):
        message = f"--filter {m[3]} at offset {m[2]}: {m[1]}"
    return message


def _condition(build: Callable[[str], Filter]) -> Callable[[str], Filter]:
    """A filter flag's value type: its text as a filter; a library refusal, a usage error."""

    def convert(text: str) -> Filter:
        try:
            return build(text)
        except CarrierXError as exc:
            raise argparse.ArgumentTypeError(cli_words(str(exc))) from None

    return convert


def _like(text: str) -> Filter:
    """``--like``: a phonenumber pattern, refused without a wildcard (an exact match)."""
    if "%" not in text:  # like without a wildcard is an exact match: rarely meant
        raise argparse.ArgumentTypeError(
            f"{_shown(text)} has no % wildcard, so it matches only that exact number; "
            f"for numbers starting with it use --prefix {_shown(text)} or --like '{text}%'"
        )
    return F.phonenumber.like(text)


def _prefix(text: str) -> Filter:
    """``--prefix 1516``: leading digits of a phone number, as ``phonenumber like 1516%``."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not digits, e.g. 1516")
    return F.phonenumber.like(text + "%")


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


def _fields(text: str) -> list[str]:
    """``a,b,c`` -> validated DID field names, in the order given."""
    try:
        names = [field_name(n.strip()) for n in text.split(",") if n.strip()]
    except CarrierXError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not names:
        raise argparse.ArgumentTypeError("no field name given")
    return list(dict.fromkeys(names))


def _shown(text: str) -> str:
    """The user's text as an error echoes it: as typed, quoted only when it would not read."""
    return text if text and text.isprintable() and " " not in text else repr(text)


def _whole(text: str, low: int, high: int | None = None) -> int:
    """A whole number in [low, high]; the one message style for every number flag."""
    value = int(text) if text.isascii() and text.lstrip("-").isdigit() else None
    if value is None or value < low or (high is not None and value > high):
        rule = f"from {low} to {high}" if high is not None else f">= {low}"
        raise argparse.ArgumentTypeError(f"must be a whole number {rule}, got {_shown(text)}")
    return value


def _count(text: str) -> int:
    """A whole number >= 0 (``--retries``)."""
    return _whole(text, 0)


def _positive(text: str) -> int:
    """A whole number >= 1 (``--max``)."""
    return _whole(text, 1)


def _page_size(text: str) -> int:
    """Records per request: 1 to the API's maximum."""
    return _whole(text, 1, MAX_PAGE_SIZE)


def _seconds(text: str) -> float:
    """A number of seconds > 0 (``--timeout``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value < 1e6):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds > 0 (below 1000000), got {_shown(text)}"
        )
    return value


#: Each filter flag's value as a filter: ``--state ny`` -> ``state eq NY``. The API's
#: country codes, states and localities are upper case.
COUNTRY: Final = _condition(lambda text: F.country_code == text.upper())
STATE: Final = _condition(lambda text: F.state == text.upper())
LOCALITY: Final = _condition(lambda text: F.locality == text.upper())
NPA: Final = _condition(lambda text: F.npa == text)
ZIP: Final = _condition(lambda text: Filter.nearby(zip=text))
NEAR: Final = _condition(_near)
PREFIX: Final = _condition(_prefix)
LIKE: Final = _condition(_like)
FILTER: Final = _condition(parse_filter)
RAW_FILTER: Final = _condition(Filter.raw)
