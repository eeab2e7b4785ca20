"""A response body into JSON without holding the event loop long: the parse the shell awaits.

A big list body is parsed in the pieces ``_convert.slices`` cuts, a loop turn between them;
else whole; a body the fast decoder refuses is explained (its precise error). Shell: the
parsing itself is the pure ``_convert``."""

from __future__ import annotations

import asyncio
from typing import Any

from ._convert import WHOLE_MAX, decode_json, explain, join, parse, slices

__all__ = ["parse_json", "parse_page"]


async def parse_json(body: bytes, status: int) -> Any:
    """Any JSON body (one DID object), parsed whole."""
    return decode_json(body, status=status)


async def parse_page(body: bytes, status: int, *, typed: bool) -> Any:
    """A list envelope whose items are objects: typed records (``typed``), or as sent."""
    docs = slices(body)
    if docs is not None:
        envelope, runs = parse(docs[0], typed=typed), []
        for doc in docs[1:]:
            await asyncio.sleep(0)
            run = parse(doc, typed=typed, whole=False) if envelope is not None else None
            if run is None:
                break
            runs.append(run)
        else:
            if (data := join(envelope, runs)) is not None:
                return data
    data = parse(body, typed=typed) if len(body) <= WHOLE_MAX else None  # else: refused
    return explain(body, typed=typed, status=status) if data is None else data
