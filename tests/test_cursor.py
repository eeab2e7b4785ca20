"""Resume cursors: round trips, query fingerprints and hostile input (pure, no I/O)."""

import base64
import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carrierx_async._cursor import decode_cursor, encode_cursor, query_fingerprint
from carrierx_async._errors import ConfigurationError


def fingerprint(filter_text='state eq "NY"', descending=False, include=None, exclude=None):
    return query_fingerprint(
        filter_text=filter_text,
        descending=descending,
        include_fields=include,
        exclude_fields=exclude,
    )


FP = fingerprint()
OTHER_FP = fingerprint('state eq "NJ"')


def forge(key: bytes, fp: str = FP, version: int = 1) -> str:
    """A cursor built from the format in _cursor's docstring, with a valid checksum."""
    body = bytes([version]) + base64.urlsafe_b64decode(fp + "=" * (-len(fp) % 4)) + key
    check = hashlib.blake2b(body, digest_size=4, person=b"cxcursor").digest()
    return base64.urlsafe_b64encode(body + check).rstrip(b"=").decode()


GOOD = encode_cursor("15165550123", FP)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def refused(cursor, fp=FP):
    """The message decode_cursor refuses ``cursor`` with; it must be short and clean."""
    with pytest.raises(ConfigurationError) as info:
        decode_cursor(cursor, fp)
    message = str(info.value)
    assert len(message) < 300, message
    assert not CONTROL.search(message), message
    return message


# -- round trips and the format -----------------------------------------------------------


@pytest.mark.parametrize("key", ["1", "0", "15165550123", "442071838750", "999999999999999"])
def test_a_cursor_gives_back_its_key(key):
    cursor = encode_cursor(key, FP)
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,39}", cursor)
    assert decode_cursor(cursor, FP) == key


def test_a_cursor_is_the_documented_layout():
    # Version 1, the fingerprint's 9 bytes, the ASCII digits, blake2b-32 of all that.
    assert forge(b"15165550123") == GOOD


def test_a_cursor_made_by_this_release_keeps_working():
    # Pinned values: a cursor saved in a URL last week must still decode after an upgrade.
    assert FP == "vxle53w2lay7"
    assert GOOD == "Ab8ZXud8NpWsuzE1MTY1NTUwMTIzGi6eNw"
    assert decode_cursor("Ab8ZXud8NpWsuzE1MTY1NTUwMTIzGi6eNw", "vxle53w2lay7") == "15165550123"


@settings(derandomize=True, max_examples=100)
@given(key=st.from_regex(r"[0-9]{1,15}", fullmatch=True), text=st.text(max_size=200))
def test_every_digit_key_round_trips_for_any_filter(key, text):
    fp = fingerprint(text)
    assert decode_cursor(encode_cursor(key, fp), fp) == key


@pytest.mark.parametrize(
    "key", ["", "1" * 16, "1 or 1", "+15165550123", "\u0661\u0662", "1516555012a", "15165550123\n"]
)
def test_encode_refuses_what_is_not_a_phone_number(key):
    with pytest.raises(ValueError, match="1 to 15 digits"):
        encode_cursor(key, FP)


@pytest.mark.parametrize("fp", ["", "abc", FP + "A", FP[:-1] + "=", "x" * 12 + "=="])
def test_encode_refuses_what_is_not_a_fingerprint(fp):
    with pytest.raises(ValueError, match="not a query fingerprint"):
        encode_cursor("15165550123", fp)


# -- fingerprints --------------------------------------------------------------------------


def test_a_fingerprint_is_short_url_safe_and_stable():
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", FP)
    assert fingerprint() == FP


def test_field_sets_fingerprint_the_same_in_any_order():
    a = fingerprint(include=["phonenumber", "state", "price"])
    assert a == fingerprint(include=("price", "phonenumber", "state"))
    assert a == fingerprint(include=iter(["state", "price", "phonenumber", "state"]))
    b = fingerprint(exclude=["price", "locality"])
    assert b == fingerprint(exclude=["locality", "price"])


def test_a_different_query_has_a_different_fingerprint():
    variants = [
        fingerprint(),
        fingerprint('state eq "NJ"'),
        fingerprint(""),
        fingerprint('state eq "NY" and npa eq 212'),
        fingerprint(descending=True),
        fingerprint(include=["phonenumber"]),
        fingerprint(include=["phonenumber", "state"]),
        fingerprint(include=[]),
        fingerprint(exclude=["phonenumber"]),
        fingerprint(exclude=[]),
        fingerprint(exclude=["state"]),
        fingerprint(include=["state"], exclude=["price"]),
        # Texts that would collide under a naive join of the parts.
        fingerprint('state eq "NY",false'),
        fingerprint(include=["phonenumber,state"]),
    ]
    assert len(set(variants)) == len(variants)


def test_a_cursor_for_another_query_is_refused():
    message = refused(encode_cursor("15165550123", OTHER_FP))
    assert message == (
        "after=: the cursor was made for a different filter/order/fields; "
        "start a new stream without after="
    )
    descending = fingerprint(descending=True)
    assert "different filter/order/fields" in refused(GOOD, descending)


# -- hostile cursors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        (42, "after= takes a cursor string from stream.cursor, got int"),
        (None, "after= takes a cursor string from stream.cursor, got NoneType"),
        (GOOD.encode(), "after= takes a cursor string from stream.cursor, got bytes"),
        (["AfC"], "after= takes a cursor string from stream.cursor, got list"),
        ("", "after= is an empty cursor; pass None to start at the beginning"),
    ],
)
def test_what_is_not_a_non_empty_string_is_refused(cursor, expected):
    assert refused(cursor) == expected


def test_a_huge_cursor_is_refused_without_echoing_it():
    message = refused("A" * 1_000_000)
    assert message == (
        "after= is not a cursor: 1000000 characters, a cursor has at most 200 "
        "(it starts 'AAAAAAAAAAAA...')"
    )
    assert "at most 200" in refused(GOOD + "A" * (201 - len(GOOD)))


@pytest.mark.parametrize(
    ("cursor", "shown"),
    [
        ("abc def", "'abc?def'"),
        (GOOD[:10] + "+/", "'Ab8ZXud8Np??'"),
        (GOOD + "=", "'Ab8ZXud8NpWs...'"),
        (GOOD + "==", "'Ab8ZXud8NpWs...'"),
        ("%27%20or%201", "'?27?20or?201'"),
        ("\x00\x01\x1b[31mred", "'????31mred'"),
        ("ok\r\nSet-Cookie: x", "'ok??Set-Cook...'"),
        ("\u202eAfC", "'?AfC'"),
        ("\uff21\uff46\uff23", "'???'"),  # fullwidth AfC
        ('"; state eq NY', "'???state?eq?...'"),
    ],
)
def test_characters_a_cursor_never_has_are_refused(cursor, shown):
    message = refused(cursor)
    assert message == (
        f"after= is not a cursor: it has characters other than A-Z a-z 0-9 _ - (it starts {shown})"
    )


def damaged(cursor, why):
    shown = f"'{cursor[:12]}...'" if len(cursor) > 12 else f"'{cursor}'"
    return (
        f"after= cursor {shown} is damaged or truncated ({why}); pass it exactly as "
        "stream.cursor gave it, or start a new stream without after="
    )


def test_a_cursor_truncated_by_one_character_is_refused():
    # 34 characters less one is a length unpadded base64 never has.
    assert refused(GOOD[:-1]) == damaged(GOOD[:-1], "not a whole cursor")
    for digits in range(1, 16):  # every cursor length, every shorter prefix
        cursor = encode_cursor("9" * digits, FP)
        for size in range(1, len(cursor)):
            assert "is damaged or truncated" in refused(cursor[:size])


def test_a_cursor_with_one_character_flipped_is_refused():
    flipped = GOOD[:15] + ("A" if GOOD[15] != "A" else "B") + GOOD[16:]
    assert refused(flipped) == damaged(flipped, "checksum mismatch")


def test_every_single_character_change_is_refused():
    alphabet = "AZaz09_-Qg"
    for i, old in enumerate(GOOD):
        for new in alphabet:
            if new != old:
                refused(GOOD[:i] + new + GOOD[i + 1 :])


@pytest.mark.parametrize(
    ("cursor", "why"),
    [
        (GOOD + "AAA", "not a whole cursor"),  # a length base64 cannot have
        (GOOD[:-1] + chr(ord(GOOD[-1]) + 1), "not a whole cursor"),  # stray low bits
        ("AQ", "not a whole cursor"),  # shorter than any cursor
        (forge(b""), "not a whole cursor"),  # no key at all
        (GOOD + GOOD, "checksum mismatch"),
        (GOOD[:8] + GOOD[12:], "checksum mismatch"),  # three bytes cut from the middle
    ],
)
def test_base64_games_are_refused(cursor, why):
    assert refused(cursor) == damaged(cursor, why)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_another_version_is_refused(version):
    cursor = forge(b"15165550123", version=version)
    assert refused(cursor) == (
        f"after= cursor '{cursor[:12]}...' has version {version}; this carrierx_async reads "
        "version 1 cursors only: start a new stream without after="
    )


@pytest.mark.parametrize(
    "key",
    [
        b"1 or 1",
        b'"',
        b"' and state eq NY",
        b'1" or state eq "NY',
        b"1516 555",
        b"1516%",
        b"15165550123)",
        b"+15165550123",
        b"1516555012a",
        "\u0661\u0662\u0663".encode(),  # Arabic-Indic digits
        "\uff11\uff12\uff13".encode(),  # fullwidth digits
        b"\x00",
        b"123\n",
        b"\xff\xfe",
        b"1" * 16,
        b"1" * 100,
    ],
)
def test_a_well_formed_cursor_must_hold_a_phone_number(key):
    cursor = forge(key)
    message = refused(cursor)
    assert message == (
        f"after= cursor '{cursor[:12]}...' does not hold a phone number (1 to 15 digits): "
        "it was not made by stream.cursor"
    )


# -- whatever comes in, only digits come out ------------------------------------------------


@settings(derandomize=True, max_examples=300)
@given(st.text(max_size=250))
def test_any_text_is_a_digit_key_or_a_configuration_error(text):
    try:
        key = decode_cursor(text, FP)
    except ConfigurationError as exc:
        message = str(exc)
    else:
        assert re.fullmatch(r"[0-9]{1,15}", key)
        return
    assert not CONTROL.search(message)
    assert len(message) < 300


@settings(derandomize=True, max_examples=300)
@given(key=st.binary(max_size=40), version=st.integers(0, 255))
def test_any_forged_body_is_a_digit_key_or_a_configuration_error(key, version):
    try:
        got = decode_cursor(forge(key, version=version), FP)
    except ConfigurationError:
        assert not (version == 1 and re.fullmatch(rb"[0-9]{1,15}", key))
    else:
        assert version == 1
        assert got.encode() == key
        assert re.fullmatch(r"[0-9]{1,15}", got)
