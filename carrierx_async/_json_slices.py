"""A big list response cut into small JSON documents, parsed one by one: shorter loop holds.

``orjson.loads`` of a page of 1000 records holds the event loop for its whole run
(1.5-2 ms on a 2-core machine, longer under load), and nothing can interrupt it. So the
shell parses a big body as several documents, letting the loop turn between them:
``slices`` cuts it, ``join`` puts the parsed pieces back together.

The cut, for a body ``P R`` where ``P`` ends with the top-level ``"items": [`` and ``R`` starts
at the body's last ``]``: the items between are cut at separators ``} , {`` into runs
``c0 .. ck``; the documents are ``P R`` (the envelope, items ``[]``) and one ``[c]`` per
run. Why the joined result is exactly ``orjson.loads(body)`` whenever every document
parses (but for records nested within one level of orjson's depth limit, which parse one
level shallower here):

* ``P`` holds exactly one ``{`` and one ``[`` (its last), and ``P R`` is an object: ``"items"``
  can only be a key of the top-level object whose array opens at the end of ``P`` (were
  its quote inside a string, ``items`` would stand bare and ``P R`` would not parse).
* ``[c]`` parses only if ``c`` is a sequence of values (a ``]`` closing the wrapper early
  would leave trailing text, which does not parse), so ``c0 , c1 , .. , ck`` parses inside
  that array and closes it at ``R``'s ``]``: the body parses as ``P R`` does, with the
  runs' values as its items. A separator found inside a string or a nested array leaves a
  run with an open string or bracket, which does not parse: then the caller parses the
  body whole, as it would have anyway.
* ``R`` holds no other ``]``, so no later ``"items"`` key can hold an array: ``join``
  checks that the envelope's ``items`` is the empty list ``P R`` gave it.

Pure: bytes in, documents out; parsing stays with the caller.
"""

from __future__ import annotations

import re
from itertools import chain
from typing import Any, Final

__all__ = ["SLICE_BYTES", "join", "slices"]

#: Bytes of records per document: a page of 1000 records (~600 KB) becomes five.
SLICE_BYTES: Final = 128 * 1024

_ITEMS: Final = re.compile(rb'"items"\s*:\s*\[')
_SEPARATOR: Final = re.compile(rb"\}\s*,\s*\{")


def slices(body: bytes, size: int = SLICE_BYTES) -> list[bytes] | None:
    """The documents to parse in turn (the envelope first), or None: parse it whole.

    None for a body under two slices, or one this cut cannot vouch for in advance.
    """
    if len(body) < 2 * size:
        return None
    key = body.find(b'"items"')
    match = _ITEMS.match(body, key) if key >= 0 else None
    end = body.rfind(b"]")
    if match is None or end < match.end():
        return None
    start = match.end()
    head = body[:start]
    if head.count(b"{") != 1 or head.count(b"[") != 1:
        return None
    docs = [head + body[end:]]
    run = start
    while (cut := _SEPARATOR.search(body, run + size, end)) is not None:
        docs.append(b"".join((b"[", body[run : cut.start() + 1], b"]")))
        run = cut.end() - 1
    if len(docs) == 1:
        return None
    docs.append(b"".join((b"[", body[run:end], b"]")))
    return docs


def join(parsed: list[Any]) -> Any:
    """The body's JSON from the parsed documents of ``slices``, or None if they do not fit.

    Each run's document is a list (``[c]`` parses to nothing else).
    """
    envelope, *runs = parsed
    if type(envelope) is not dict or envelope.get("items") != []:
        return None
    envelope["items"] = list(chain.from_iterable(runs))
    return envelope
