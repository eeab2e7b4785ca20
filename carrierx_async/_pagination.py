"""The pagination walk: which request comes next, and which records of a page are new.

Pure next-page arithmetic: the shell hands in each page's JSON, the walk answers with the
records to yield and the next ``(offset, limit, after)``. Inventory is live (numbers are
rented and added while a stream walks it), so the walk never trusts offsets blindly:

Offset mode (the default; API reference 5.1, 5.3):

* Each request after the first re-reads an overlap of the previous page (``OVERLAP``, at
  most a quarter of a page but at least one record, unless the page had only one) and the
  walk keeps the identities (``did_sid``, else ``phonenumber``) of the last records it
  yielded, two to five pages' worth, as 64-bit hashes (``_window_keys``: kept strings
  slowed every later page's parse 3-5%; a collision drops a new record, < 1 in 10^15).
* The cursor is the most recently yielded record found in a page: what comes before it is
  behind the cursor (re-read, or numbers added in front) and is not yielded again; what
  follows it and was not yielded is new. A page of only known records is not "stuck" by itself
  (exactly ``page_size - overlap`` numbers added produce one legitimately).
* A page holding no known record (an empty last page included) means the window slipped
  forward (more numbers rented before the cursor than the overlap): the walk sets the page
  aside, steps back two pages, re-finds its place there and goes on. The known records a
  step back re-finds are kept (an anchor, one page at most) so a place the walk keeps
  returning to is not forgotten by the age of its yield. When even the step back finds
  nothing known, records may be missing or repeated: the walk counts a possible gap and
  reports it (``warnings``). Re-reads the walk makes on purpose (the overlap, a step back
  and the pages after it up to the page set aside) are not counted as duplicates. After a
  page of one record nothing was re-read: the boundary is unchecked, a possible gap.
* PaginationError is kept for a server that truly does not advance: ``has_more`` with an
  empty page, a page for another offset, a page longer than the limit asked for, or
  ``STALL_PAGES`` pages in a row that it had already sent (cycling or stuck; one
  fingerprint per page: flat memory). Records the walk still knows are not yielded again,
  so a cycling server costs a few requests; it can repeat records only after a counted
  possible gap (pages that share nothing with what the walk knows). Exactly
  ``page_size - overlap`` numbers added in front before every request make every page the
  last one again: that cannot be told from a stuck server, so it raises too (keyset follows).
* Without an identity in the records (field filtering dropped both), nothing can be
  compared: no overlap, no de-duplication, no healing, and every page boundary counts as a
  possible gap. Pages are fingerprinted by content, so cycles still raise; a page of alike
  records (a real walk has those) neither counts as a repeat nor ends a run of them.

Keyset mode (``pagination="keyset"``, see ``_query``): every request is ``offset=0`` with
``phonenumber gt <last yielded>`` (``lt`` descending). Each page must hold a phonenumber
in every record, moving strictly past the last key in the query's direction, else
PaginationError. Records present throughout arrive exactly once, in order.
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any, Final

import attrs

from ._convert import decode_envelope
from ._errors import FilterError, PaginationError
from ._models import Page
from ._query import KEYSET_FIELD, Query, keyset_filter

__all__ = ["OVERLAP", "STALL_PAGES", "Paginator", "StreamStats"]

#: Records re-read at each page boundary (at most a quarter of a page) to find the cursor.
OVERLAP: Final = 10
#: Pages in a row already sent before, after which the server is "not advancing".
STALL_PAGES: Final = 4
#: How many pages a walk steps back when its window slipped past the overlap. Two pages
#: re-find the cursor after up to a page's worth rented before each of the two requests.
_STEP_BACK: Final = 2
#: Page fingerprints remembered for cycle detection (one int per page: flat memory).
_FINGERPRINTS: Final = 4096


@attrs.define
class StreamStats:
    """What a stream did so far; readable at any time, final once the stream has ended.

    ``requests`` counts every HTTP attempt, ``retries`` the attempts that repeated one;
    ``records_yielded`` the records handed to the iterator; ``duplicates_dropped`` records
    the server sent again and were not yielded (re-reads the walk makes on purpose, the
    overlap and its step backs, are not counted; a merge of alternatives adds the records
    two of them share); ``windows_healed`` page boundaries where numbers rented or added
    before the cursor moved the window and the walk re-found its place; ``possible_gaps``
    boundaries where it could not, or could not check at all (no identity field), so
    records may be missing or repeated (a WARNING is logged once per stream).
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


def _identity_of(item: Any, key: str) -> str | None:
    """The record's identity, or None when it has none usable (then it is never dropped)."""
    value = item.get(key) if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


def _ids(items: list[Any], key: str) -> list[str | None]:
    try:  # C-level passes (the join proves every identity a str); per item only for odd pages
        ids: list[Any] = list(map(itemgetter(key), items))
        "".join(ids)
    except (KeyError, TypeError):
        ids = [_identity_of(item, key) for item in items]
    return ids


def _window_keys(items: list[Any], key: str) -> list[int | None]:
    """What the window keeps of each record's identity: its hash, None for none."""
    try:  # C-level passes, as in _ids; None must stay None (hash(None) is an int)
        ids: list[Any] = list(map(itemgetter(key), items))
        "".join(ids)
    except (KeyError, TypeError):
        return [None if (i := _identity_of(item, key)) is None else hash(i) for item in items]
    return list(map(hash, ids))


def key_field(query: Query) -> str | None:
    """The field records are told apart by, if field filtering leaves one."""
    for name in ("did_sid", "phonenumber"):
        if query.include_fields is not None and name not in query.include_fields:
            continue
        if query.exclude_fields is not None and name in query.exclude_fields:
            continue
        return name
    return None


class Paginator:
    """Walks one query page by page: which request next, and which records are new."""

    def __init__(self, query: Query, stats: StreamStats | None = None) -> None:
        self.query = query
        self.stats = stats if stats is not None else StreamStats()
        self.offset = 0
        self.yielded = 0
        self.done = False
        #: Messages about slips that could not be healed, for the shell to log and clear.
        self.warnings: list[str] = []
        self._key = KEYSET_FIELD if query.keyset else key_field(query)
        # The identities of the last records yielded, in yield order (which is server
        # order), in two generations: the current one and the one before.
        # (None, a record without an identity, is in the lists, never in the sets).
        self._cur: list[Any] = []
        self._cur_set: set[Any] = set()
        self._old: list[Any] = []
        self._old_set: set[Any] = set()
        # Known records the last step back re-found behind its cursor, in page order: the
        # place a walk keeps stepping back to stays known even once its yield is old.
        self._anchor: list[Any] = []
        self._anchor_set: set[Any] = set()
        self._reread_end = 0  # after a step back, pages below this offset re-read on purpose
        self._overlap = 0  # records of the previous page this request re-reads
        self._stepped_back = False  # this request is a step back to re-find the cursor
        self._stalled = 0
        self._blind_warned = False
        self._fingerprints: dict[int, None] = {}  # the last pages' fingerprints, in order
        self._after: str | None = None  # keyset: the last key yielded

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
        request = self.next_request()
        request_offset = self.offset
        if limit is None:
            limit = request[1] if request is not None else self.query.page_size
        if page.offset is not None and page.offset != request_offset:
            raise PaginationError(
                f"asked for offset {request_offset}, the server answered for offset {page.offset}"
            )
        if len(items) > limit:
            raise PaginationError(
                f"asked for at most {limit} records, the server sent {len(items)} "
                f"at offset {request_offset}"
            )
        if not items and page.has_more and not self.query.include_external:
            raise PaginationError(
                f"the server said has_more with an empty page at offset {request_offset}"
            )
        if self.query.keyset:
            new = self._accept_keyset(items)
        elif self._key is None:
            new = self._accept_blind(items, request_offset, page.has_more)
        else:
            new = self._accept_offset(items, request_offset, page.has_more)
        if self.query.max_items is not None:
            new = new[: self.query.max_items - self.yielded]
        self.yielded += len(new)
        if self._stepped_back:  # this page was set aside: re-find the cursor first
            self._overlap = 0
            self.offset = max(0, request_offset - _STEP_BACK * self.query.page_size)
        elif (
            not items
            or self.query.include_external  # one request only (reference 4.1)
            or not page.has_more
            or (self.query.max_items is not None and self.yielded >= self.query.max_items)
        ):
            self.done = True
        elif self.query.keyset:
            self.offset = 0
        else:
            overlap = 0 if self._key is None else min(OVERLAP, max(1, self.query.page_size // 4))
            self._overlap = min(overlap, len(items) - 1)
            self.offset = request_offset + len(items) - self._overlap
        return new, page

    # -- keyset ---------------------------------------------------------------------------

    def _accept_keyset(self, items: list[Any]) -> list[Any]:
        keys = _ids(items, KEYSET_FIELD)
        after, down = self._after, self.query.descending
        for key in keys:
            if key is None:
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
        if keys:
            try:  # a key that cannot be written in a filter cannot be sought past
                keyset_filter(str(after))
            except FilterError as exc:
                raise PaginationError(f"keyset page: {exc}") from None
            self._after = after
        return items

    # -- offset ---------------------------------------------------------------------------

    def _check_repeat(
        self, fingerprint: int, request_offset: int, has_more: bool, *, counts: bool = True
    ) -> None:
        """Raise once ``STALL_PAGES`` pages in a row were pages the server had sent before.

        A page that does not ``counts`` (ambiguous) neither adds to the run nor ends it.
        """
        repeated = fingerprint in self._fingerprints
        self._fingerprints[fingerprint] = None
        if len(self._fingerprints) > _FINGERPRINTS:
            del self._fingerprints[next(iter(self._fingerprints))]
        if not counts:
            return
        self._stalled = self._stalled + 1 if repeated else 0
        if has_more and self._stalled >= STALL_PAGES:
            hint = (
                ""
                if self._key is None
                else "; numbers added before the cursor as fast as the walk moves (page_size "
                "- overlap per request) look the same: pagination='keyset' follows those"
            )
            raise PaginationError(
                f"the server sent pages it had already sent {self._stalled} times in a row "
                f"(last at offset {request_offset}): it is not advancing{hint}"
            )

    def _accept_blind(self, items: list[Any], request_offset: int, has_more: bool) -> list[Any]:
        """No identity in the records: yield all, fingerprint pages by content, say so."""
        # Pages of alike records (say include_fields=["state"] with "state eq NY") repeat in
        # a real walk: they are ambiguous, not a cycle. Per-record work only in this mode.
        uniform = items.count(items[0]) == len(items) if items else True
        page_json = json.dumps(items, sort_keys=True, default=str)
        self._check_repeat(hash(page_json), request_offset, has_more, counts=not uniform)
        if request_offset > 0:  # every boundary is unchecked: nothing to compare records by
            self.stats.possible_gaps += 1
            if not self._blind_warned:
                self._blind_warned = True
                self.warnings.append(
                    "include_fields/exclude_fields leave out both did_sid and phonenumber: "
                    "the walk cannot tell records apart, records may be missing or repeated"
                )
        return items

    def _accept_offset(self, items: list[Any], request_offset: int, has_more: bool) -> list[Any]:
        key = self._key
        assert key is not None
        ids = _window_keys(items, key)
        stepped_back, self._stepped_back = self._stepped_back, False
        self._check_repeat(hash(tuple(ids)), request_offset, has_more)
        cur, old, anchor = self._cur_set, self._old_set, self._anchor_set
        had_known = bool(self._cur or self._old)
        # The cursor: the known record yielded last. Fast path: the page starts with the
        # last records yielded (the re-read overlap) and nothing after them is known.
        lead = 0
        while lead < len(ids) and ((i := ids[lead]) in cur or i in old):  # None is in neither
            lead += 1
        rest = ids[lead:]
        if (lead or not had_known) and ids[:lead] == self._last_yielded(lead) and self._add(rest):
            if had_known and lead != self._overlap:  # (after a step back the overlap is 0)
                self.stats.windows_healed += 1
            if request_offset >= self._reread_end:
                self.stats.duplicates_dropped += max(0, lead - self._overlap)
            self._remember(rest)
            return items[lead:] if lead else items
        # Rare: rank the known records the page holds by when they were yielded (anchored
        # records not in the window were yielded before all that is).
        rank = {x: r for r, x in enumerate(self._anchor + self._old + self._cur)}
        rank.pop(None, None)
        cursor = max(
            (i for i, x in enumerate(ids) if x in rank), key=lambda i: rank[ids[i]], default=-1
        )
        if stepped_back and cursor >= 0:
            self._anchor = [x for x in ids[: cursor + 1] if x in rank]
            self._anchor_set = set(self._anchor)
            anchor = self._anchor_set
        if had_known and cursor < 0:
            if not stepped_back and request_offset > 0 and self._overlap:
                # Nothing known: the window slipped forward past the overlap. Set the page
                # aside and step back to re-find the cursor. (After a page of one record
                # nothing was re-read: nothing to re-find, the boundary is unchecked.)
                self._stepped_back = True
                self._reread_end = request_offset + len(items)
                return []
            self.stats.possible_gaps += 1
            self.warnings.append(
                f"the inventory changed too much between two requests at offset "
                f"{request_offset}: records may be missing or repeated"
                if stepped_back or self._overlap
                else f"a request after a page of one record re-reads nothing (offset "
                f"{request_offset}): the walk cannot check that boundary, records may be "
                "missing or repeated (pages of 2 or more re-read one)"
            )
        elif had_known and (stepped_back or cursor != self._overlap - 1):
            self.stats.windows_healed += 1
        behind = cursor + 1
        new, new_ids, seen = [], [], set[Any]()
        for item, i in zip(items[behind:], ids[behind:], strict=True):
            if i is not None and (i in cur or i in old or i in anchor or i in seen):
                continue
            if i is not None:
                seen.add(i)
            new.append(item)
            new_ids.append(i)
        if request_offset >= self._reread_end:  # a step back and what follows re-read on purpose
            dropped = len(ids) - behind - len(new)
            self.stats.duplicates_dropped += dropped + max(0, behind - self._overlap)
        cur |= seen
        self._remember(new_ids)
        return new

    def _add(self, rest: list[Any]) -> bool:
        """Add ``rest`` to the window's sets if none is known (to the window or the anchor),
        none is None and none repeats; else leave them as they were and say False.

        For the current generation one pass does the check and the insert: its set grows
        by exactly as many as were added only if all were new to it and distinct.
        """
        cur = self._cur_set
        anchor = self._anchor_set  # usually empty: then not even iterated
        if not self._old_set.isdisjoint(rest) or (anchor and not anchor.isdisjoint(rest)):
            return False
        size = len(cur)
        cur.update(rest)
        if len(cur) - size == len(rest) and None not in cur:
            return True
        cur.clear()  # rare: rebuild the set from the yield order
        cur.update(self._cur)
        cur.discard(None)
        return False

    def _last_yielded(self, n: int) -> list[Any]:
        """The identities of the last ``n`` records yielded, oldest first."""
        cur = self._cur
        if n <= len(cur):
            return cur[len(cur) - n :]
        return self._old[max(0, len(self._old) - (n - len(cur))) :] + cur

    def _remember(self, ids: list[Any]) -> None:
        """Append yielded identities (already in the current set) to the window's order; a
        generation rotates once it holds two pages' worth, so at least two and fewer than
        five pages' worth are known."""
        self._cur += ids
        if len(self._cur) >= 2 * self.query.page_size:
            self._old, self._old_set = self._cur, self._cur_set
            self._cur, self._cur_set = [], set()
