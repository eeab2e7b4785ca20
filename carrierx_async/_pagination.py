"""The pagination walk: which request comes next, and which records of a page are new.

Pure next-page arithmetic: the shell hands in each page's JSON, the walk answers with the
records to yield and the next ``(offset, limit, after)``.

Offset mode (the default; API reference 5.1, 5.3). Inventory is live: numbers are rented
and added while a stream walks it, which shifts every later record's offset. So:

* Each record has an identity: its ``did_sid``, else its ``phonenumber``, else its whole
  content. The walk always asks for ``did_sid`` (and drops it from what it yields when
  ``include_fields``/``exclude_fields`` left it out).
* The walk remembers each record it yielded by its *place*: 0, 1, 2 ... in yield order
  (list order), or a place between two others when numbers turn up between records it
  yielded (a Fraction). One mapping, hash of identity -> place (hashes: kept strings would
  pin parsed pages). It forgets records more than ``_MEMORY`` pages behind the cursor that
  it has not met again lately; records *ahead* of the cursor (yielded, then pushed further
  on by additions, or rented) are kept, up to nine pages' worth; past that it forgets
  them and counts a possible gap.
* Each request after the first re-reads the last ``OVERLAP`` records of the page before,
  twice as many after each slip (at most a quarter of a page). The *cursor* is the known
  record of a page with the highest place. Records before it are behind the walk
  (re-read, or added in front) and are not yielded; records after it that the walk does
  not know are new and are yielded; known ones after it are duplicates and are dropped.
* A page holding nothing the walk knows means more was rented behind the cursor than the
  overlap: the walk sets the page aside once and steps back ``STEP_BACK`` pages to find its
  place again. If that page holds nothing known either, records may be missing or repeated:
  the walk counts a possible gap, warns, and yields what is new to it.
* The walk ends when the server says ``has_more: false``, at an empty page, at ``max_items``,
  or at a short page holding nothing new (a server whose ``has_more`` lies on its last page).
* ``STALL_PAGES`` pages in a row that the server had sent before (it cycles, or numbers are
  added in front exactly as fast as the walk moves): a possible gap, then PaginationError.

The invariant (checked by tests/test_walk_model.py over thousands of seeded churn
scripts): every number present for the whole walk is yielded exactly once, or
``possible_gaps > 0``; no number is yielded twice while ``stats.complete`` is True; and
requests <= 2 x pages read + 2 per possible gap + 2. Pages of 1 cannot re-read anything:
each of their boundaries is a possible gap.

Keyset mode (``pagination="keyset"``, see ``_query``): every request is ``offset=0`` with
``phonenumber gt <last yielded>`` (``lt`` descending); ``_after`` is that key (first, a
cursor's). Each page must hold a phonenumber in every record, moving strictly past it, else
PaginationError. Records present throughout arrive exactly once, in order.

``include_external=True`` is one request; the answer may hold more than ``limit`` records
(``Query.most_records``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from itertools import repeat
from operator import itemgetter
from typing import Any, Final

import attrs

from ._convert import decode_envelope
from ._errors import FilterError, PaginationError
from ._models import Page
from ._query import IDENTITY_FIELD, KEYSET_FIELD, Query, keyset_filter

__all__ = ["OVERLAP", "STALL_PAGES", "STEP_BACK", "Paginator", "StreamStats"]

#: Records re-read at each page boundary (at most a quarter of a page) to find the cursor.
OVERLAP: Final = 10
#: Pages in a row the server had already sent, after which it is "not advancing".
STALL_PAGES: Final = 4
#: How far a walk steps back (in pages) when a page holds nothing it knows.
STEP_BACK: Final = 2
#: The walk remembers identities for this many pages (and forgets at twice as many).
_MEMORY: Final = 3
#: A record's place in the list as the walk knows it (a Fraction between two others).
Place = int | Fraction
#: Page fingerprints remembered to notice a server that repeats itself (flat memory).
_FINGERPRINTS: Final = 4096


@attrs.define
class StreamStats:
    """What a stream did so far; readable at any time, final once the stream has ended.

    ``requests`` counts every HTTP attempt, ``retries`` the attempts that repeated one;
    ``records_yielded`` the records handed to the iterator; ``duplicates_dropped`` records
    the server sent again and were not yielded (the overlap and step backs, re-read on
    purpose, are not counted; a merge of alternatives adds the records two of them share);
    ``windows_healed`` page boundaries where churn moved the records and the walk found
    its place again; ``possible_gaps`` boundaries where it could not, so records may be
    missing or repeated (a WARNING is logged once per stream).
    ``complete`` is True while ``possible_gaps`` is 0.
    """

    requests: int = 0
    retries: int = 0
    records_yielded: int = 0
    duplicates_dropped: int = 0
    windows_healed: int = 0
    possible_gaps: int = 0

    @property
    def complete(self) -> bool:
        """True unless the walk saw a slip it could not heal."""
        return self.possible_gaps == 0


def _identity(item: Any) -> str:
    """``did_sid``, else ``phonenumber``, else the record's content."""
    if isinstance(item, dict):
        for name in (IDENTITY_FIELD, KEYSET_FIELD):
            value = item.get(name)
            if isinstance(value, str) and value:
                return value
    return json.dumps(item, sort_keys=True, default=str)


def _ids(items: list[Any], key: str = IDENTITY_FIELD) -> list[str]:
    """Each record's identity (``key``, with ``_identity``'s fallbacks)."""
    try:  # C-level passes; the join proves every one a string (an empty one falls back)
        ids: list[Any] = list(map(itemgetter(key), items))
        if all(ids) and "".join(ids) is not None:
            return ids
    except (KeyError, TypeError):
        pass
    return [_identity(item) for item in items]


class Paginator:
    """Walks one query page by page: which request next, and which records are new."""

    def __init__(
        self, query: Query, stats: StreamStats | None = None, after: str | None = None
    ) -> None:
        self.query = query
        self.stats = stats if stats is not None else StreamStats()
        self.offset = 0
        self.yielded = 0
        self.done = False
        #: Messages about slips that could not be healed, for the shell to log and clear.
        self.warnings: list[str] = []
        # The walk's memory: hash of an identity -> its place in the list as the walk
        # knows it (0, 1, 2, ... as yielded; between two places for records added there).
        self._seen: dict[int, Place] = {}
        self._end: int = 0  # the place after the last one taken
        self._squeezed = False  # some places lie between others (a Fraction)
        self._reached: Place = 0  # the cursor's place after the last page
        self._met: dict[int, int] = {}  # hash of a known record met again -> that page
        self._pages = 0  # pages read so far
        self._overlap = 0  # records of the previous page the next request re-reads
        self._reread = OVERLAP  # the overlap to ask for (doubled at each slip)
        self._stepping_back = False  # the next request steps back to find the cursor
        self._reread_end = 0  # pages below this offset are re-read on purpose (a step back)
        self._stalled = 0
        self._fingerprints: dict[int, None] = {}
        self._after = after  # keyset: the last key yielded (or resumed after)

    def next_request(self) -> tuple[int, int, str | None] | None:
        """``(offset, limit, after)`` of the next request, or None when the walk is over."""
        if self.done:
            return None
        limit = self.query.page_size
        if self.query.max_items is not None:
            limit = min(limit, self.query.max_items - self.yielded + self._overlap)
        return self.offset, limit, self._after

    def accept(
        self, data: Any, *, status: int = 200, limit: int | None = None
    ) -> tuple[list[Any], Page[Any]]:
        """Take one page's JSON; return the records to yield and the envelope.

        ``limit`` is the limit the request asked for (default: what ``next_request`` says).
        """
        items, page = decode_envelope(data, status=status)
        at = self.offset
        if limit is None:
            request = self.next_request()
            limit = request[1] if request is not None else self.query.page_size
        if page.offset is not None and page.offset != at:
            raise PaginationError(
                f"asked for offset {at}, the server answered for offset {page.offset}"
            )
        if len(items) > self.query.most_records(limit):
            raise PaginationError(
                f"asked for at most {limit} records, the server sent {len(items)} at offset {at}"
            )
        if self.query.keyset:
            new = self._accept_keyset(items)
        elif self.query.include_external:
            new = items
        else:
            new = self._accept_offset(items, at, page.has_more)
        if self.query.max_items is not None:
            new = new[: self.query.max_items - self.yielded]
        if self.query.hides_identity:
            for item in new:
                if isinstance(item, dict):
                    item.pop(IDENTITY_FIELD, None)
        self.yielded += len(new)
        if self._stepping_back:
            self._overlap = 0
            self.offset = max(0, at - STEP_BACK * self.query.page_size)
        elif (
            not items
            or not page.has_more
            or self.query.include_external  # one request (reference 4.1)
            or (len(items) < limit and not new)  # a short page with nothing new: the end
            or (self.query.max_items is not None and self.yielded >= self.query.max_items)
        ):
            self.done = True
        elif not self.query.keyset:
            self._overlap = min(self._reread, max(1, self.query.page_size // 4), len(items) - 1)
            self.offset = at + len(items) - self._overlap
        return new, page

    def _accept_keyset(self, items: list[Any]) -> list[Any]:
        after, down = self._after, self.query.descending
        for item in items:
            key = item.get(KEYSET_FIELD) if isinstance(item, dict) else None
            if not isinstance(key, str):
                raise PaginationError(
                    f"a record without a {KEYSET_FIELD} in a keyset page: cannot seek past it"
                )
            if after is not None and not (key < after if down else key > after):
                word = "below" if down else "above"
                raise PaginationError(
                    f"keyset page is not strictly {word} the last key {after!r}: got {key!r} "
                    f"(the server does not honour order={self.query.order!r} and "
                    f"'{KEYSET_FIELD} {'lt' if down else 'gt'}'); use pagination='offset'"
                )
            after = key
        if after is not None and after != self._after:
            try:  # a key that cannot be written in a filter cannot be sought past
                keyset_filter(after)
            except FilterError as exc:
                raise PaginationError(f"keyset page: {exc}") from None
            self._after = after
        return items

    def _accept_offset(self, items: list[Any], request_offset: int, has_more: bool) -> list[Any]:
        ids = list(map(hash, _ids(items)))
        new = self._new_records(items, ids, request_offset)
        aside = self._stepping_back  # (a page set aside neither stalls nor ends a stall)
        self._check_repeat(
            hash(tuple(ids)), request_offset, has_more, counts=None if aside else not new
        )
        return new

    def _new_records(self, items: list[Any], ids: list[int], at: int) -> list[Any]:
        stepped_back, self._stepping_back = self._stepping_back, False
        seen, overlap = self._seen, self._overlap
        # Fast path: the page starts with the re-read overlap and nothing after it is known.
        lead = 0
        while lead < len(ids) and ids[lead] in seen:
            lead += 1
        rest = ids[lead:]
        # (the last of them is the record yielded last: its place is the last one)
        follows = not seen or (lead and seen[ids[lead - 1]] >= self._end - 1)
        if follows and seen.keys().isdisjoint(rest):
            size = len(seen)
            seen.update(zip(rest, range(self._end, self._end + len(rest)), strict=True))
            if len(seen) - size == len(rest):  # no record twice in the page
                self._end += len(rest)
                self._met.update(zip(ids[:lead], repeat(self._pages)))
                self._found(at, lead - 1, seen[ids[-1]] if ids else -1, stepped_back, 0)
                return items[lead:] if lead else items
            for i in rest:  # undo; the general way below drops the repeats
                seen.pop(i, None)
        # The general way: the cursor is the known record the walk yielded last.
        orders = [seen.get(i, -1) for i in ids]
        last = max(orders, default=-1)
        if last < 0 and seen:  # nothing known: the records moved past the overlap
            if not stepped_back and at > 0 and overlap:
                self._stepping_back = True  # set this page aside and step back, and
                self._reread *= 2  # re-read more from now on: the churn is faster
                self._reread_end = at + len(items)
                return []
            self._gap(
                f"the inventory changed too much between two requests at offset {at}"
                if overlap or stepped_back
                else f"a request after a page of one record re-reads nothing (offset {at}): "
                "the walk cannot check that boundary"
            )
        cursor = orders.index(last) if last >= 0 else -1
        fresh: dict[int, Any] = {}  # after the cursor, unknown: new (once each)
        after = cursor + 1
        for item, i, order in zip(items[after:], ids[after:], orders[after:], strict=True):
            if order < 0 and i not in fresh:
                fresh[i] = item
        seen.update(zip(fresh, self._places(last, len(fresh)), strict=True))
        self._met.update((i, self._pages) for i, x in zip(ids, orders, strict=True) if x >= 0)
        reached = seen[next(reversed(fresh))] if fresh else last
        self._found(at, cursor, reached, stepped_back, len(ids) - cursor - 1 - len(fresh))
        return list(fresh.values())

    def _places(self, cursor: Place, n: int) -> Iterator[Place]:
        """Places for ``n`` new records right after the cursor: at the end, or (the walk
        fell behind records it yielded, numbers were added before them) in between."""
        if cursor < 0 or cursor >= self._end - 1:
            start, self._end = self._end, self._end + n
            return iter(range(start, start + n))
        after = min((x for x in self._seen.values() if x > cursor), default=self._end)
        self._squeezed = True
        step = Fraction(after - cursor, n + 1)  # exact, however often the walk falls behind
        return iter([cursor + step * (k + 1) for k in range(n)])

    def _found(
        self, at: int, cursor: int, reached: Place, stepped_back: bool, dropped: int
    ) -> None:
        """Count a healed boundary and the duplicates a page held (none for a re-read), and
        forget (now and then) what lies more than ``_MEMORY`` pages behind the cursor."""
        if cursor >= 0 and (stepped_back or cursor != self._overlap - 1):
            self.stats.windows_healed += 1
        if at >= self._reread_end:
            self.stats.duplicates_dropped += dropped + max(0, cursor + 1 - self._overlap)
        if reached >= 0:
            self._reached = reached
        reached = self._reached
        self._pages += 1
        pages = _MEMORY * self.query.page_size
        if len(self._seen) > 4 * pages:
            if self._squeezed:  # places between places: count in records again
                self._renumber()
                reached = self._reached
            old, near = self._pages - _MEMORY, reached - pages
            met = self._met = {i: n for i, n in self._met.items() if n >= old}
            self._seen = {i: x for i, x in self._seen.items() if x >= near or i in met}
            if len(self._seen) > 3 * pages:  # too many kept ahead of the cursor: give up
                self._seen = {i: x for i, x in self._seen.items() if x <= reached or i in met}
                self._gap(f"the walk lost track of records it yielded ahead of offset {at}")

    def _renumber(self) -> None:
        """Places 0, 1, 2, ... in the same order (the cursor's place follows)."""
        ranked = sorted(self._seen, key=self._seen.__getitem__)
        self._reached = sum(1 for x in self._seen.values() if x <= self._reached) - 1
        self._seen = {i: n for n, i in enumerate(ranked)}
        self._end = len(ranked)
        self._squeezed = False

    def _gap(self, why: str) -> None:
        self.stats.possible_gaps += 1
        self.warnings.append(f"{why}: records may be missing or repeated")

    def _check_repeat(
        self, fingerprint: int, request_offset: int, has_more: bool, *, counts: bool | None = True
    ) -> None:
        """Raise once ``STALL_PAGES`` pages in a row brought nothing new (``counts``) or
        were pages the server had sent before (a possible gap first: the walk is
        incomplete). ``counts=None``: a page set aside, which only counts if repeated."""
        repeated = fingerprint in self._fingerprints
        self._fingerprints[fingerprint] = None
        if len(self._fingerprints) > _FINGERPRINTS:
            del self._fingerprints[next(iter(self._fingerprints))]
        if repeated or counts:
            self._stalled += 1
        elif counts is not None:
            self._stalled = 0
        if has_more and self._stalled >= STALL_PAGES:
            self.stats.possible_gaps += 1
            raise PaginationError(
                f"{self._stalled} pages in a row held nothing new or had been sent before "
                f"(last at offset {request_offset}): the server is not advancing; numbers "
                "added before the cursor as fast as the walk moves look the same: "
                "pagination='keyset' follows those"
            )
