"""A response body into JSON without holding the event loop: the parse the shell awaits.

A body of 256 KiB or more is parsed as the pieces ``_json_slices.slices`` cuts, with a
loop turn between them, and joined back into exactly what parsing it whole gives; a body
the cut cannot vouch for, or a piece that does not parse, is parsed whole instead (so its
error is the one parsing it whole tells). ``parse_checked`` parses with ``_checked_json``
(each record's wire types checked as it parses) and says whether it could vouch for the
page; when it cannot, the result (or error) is ``parse_json``'s.

Shell: it awaits loop turns; the parsing itself is the pure ``_convert.decode_json``,
``_checked_json`` and ``_json_slices``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ._checked_json import checked_page, checked_run
from ._convert import decode_json
from ._errors import ResponseDecodeError
from ._json_slices import join, slices

__all__ = ["parse_checked", "parse_json", "parse_unchecked"]


async def _joined(docs: list[bytes], parse: Callable[[int, bytes], Any | None]) -> Any | None:
    """``parse(i, doc)`` of each piece, a loop turn between them, joined; None as soon as
    a piece gives None, or when the join cannot vouch for the pieces."""
    parsed: list[Any] = []
    for i, doc in enumerate(docs):
        if i:
            await asyncio.sleep(0)
        piece = parse(i, doc)
        if piece is None:
            return None
        parsed.append(piece)
    return join(parsed)


async def parse_json(body: bytes, status: int) -> Any:
    """The body's JSON (orjson), a big one in pieces."""

    def piece(_: int, doc: bytes) -> Any | None:  # a piece is an object or array, never null
        try:
            return decode_json(doc, status=status)
        except ResponseDecodeError:
            return None

    docs = slices(body)
    if docs is not None and (data := await _joined(docs, piece)) is not None:
        return data
    return decode_json(body, status=status)


async def parse_checked(body: bytes, status: int) -> tuple[Any, bool]:
    """A list page's JSON, and whether ``_checked_json`` checked its records' wire types
    as it parsed them (a big body in pieces: the envelope with the first records, then
    runs of records)."""
    docs = slices(body)
    if docs is None:
        data = checked_page(body)
    else:
        data = await _joined(docs, lambda i, doc: checked_run(doc) if i else checked_page(doc))
    if data is not None:
        return data, True
    return await parse_json(body, status), False


async def parse_unchecked(body: bytes, status: int) -> tuple[Any, bool]:
    """``parse_json``'s result, in ``parse_checked``'s shape: nothing checked."""
    return await parse_json(body, status), False
