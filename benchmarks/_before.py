"""Copies of ``carrierx_async`` for row 7 (``_row7``), and the safety work switched off.

``load_tree`` copies this working tree's package (uncommitted files too) into a
directory and imports it under its own name; ``load_before`` exports a git commit's the
same way. ``switch_off_safety`` patches such a copy (never the real package) to run
without the safety work issues 10 and 11 added (size cap, churn healing, cycle
detection), walking as 0.1 did: the re-read overlap and the de-duplication of what the
previous page held were there before the safety work, so they stay; with
``keep_overlap=False`` there is no identity work at all. ``check_safety_off`` asserts a
patched copy really runs as described and this tree does not, so row 7 cannot compare
two identical things.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import aiohttp

import carrierx_async
from carrierx_async import Client

from ._harness import count

__all__ = [
    "TOKEN",
    "UNSAFE",
    "check_safety_off",
    "load_before",
    "load_tree",
    "switch_off_safety",
    "walk_slip",
]

TOKEN = "bench-token"
_ROOT = Path(__file__).resolve().parent.parent
#: The module name of the copy of this tree with the safety work switched off.
UNSAFE: Final = "carrierx_async_unsafe"


def _import(name: str, package: Path) -> ModuleType:
    """The package in directory ``package``, imported as ``name`` (a fresh import)."""
    for stale in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[stale]  # else its submodules would come from the earlier import
    spec = importlib.util.spec_from_file_location(
        name, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_before(ref: str, into: Path) -> ModuleType:
    """``carrierx_async`` as of git ``ref``, imported as ``carrierx_async_<ref>``."""
    tar = subprocess.run(
        ["git", "archive", "--format=tar", ref, "carrierx_async"],
        cwd=_ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    name = f"carrierx_async_{''.join(c if c.isalnum() else '_' for c in ref)}"
    return _import(name, into / "carrierx_async")


def load_tree(into: Path, name: str = UNSAFE) -> ModuleType:
    """This working tree's ``carrierx_async`` as it is now, copied into ``into``, as ``name``."""
    package = into / "carrierx_async"
    source = Path(carrierx_async.__file__).resolve().parent
    shutil.copytree(source, package, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
    return _import(name, package)


# --- the safety work, switched off ----------------------------------------------------------


async def _read_whole(self: Any, resp: aiohttp.ClientResponse, url: Any) -> bytes:
    """``Transport._read`` without the size cap: the whole body at once."""
    return await resp.read()


def _previous_page_only(ids_of: Callable[[list[Any], str], list[Any]]) -> Callable[..., Any]:
    """``Paginator._accept_offset`` as it was before churn healing (0.1, up to commit
    240e7b3): drop the records of the re-read overlap the previous page held, yield the
    rest. No window, no cursor, no step back. ``ids_of`` is the copy's own ``_ids``."""

    def _accept_offset(self: Any, items: list[Any], request_offset: int, has_more: bool) -> Any:
        ids = ids_of(items, "did_sid")  # (the walk always asks for did_sid)
        seen = self._previous
        lead = 0
        while lead < len(ids) and ids[lead] is not None and ids[lead] in seen:
            lead += 1
        if seen.isdisjoint(ids[lead:]):
            new = items[lead:] if lead else items
        else:
            new = [item for item, i in zip(items, ids, strict=True) if i is None or i not in seen]
        self._previous = frozenset(ids)
        return new

    return _accept_offset


def _yield_all(self: Any, items: list[Any], request_offset: int, has_more: bool) -> list[Any]:
    """``Paginator._accept_offset`` without any identity work: every record, as is."""
    return items


def _no_repeat_check(
    self: Any, fingerprint: int, request_offset: int, has_more: bool, *, counts: bool = True
) -> None:
    """``Paginator._check_repeat`` without cycle detection."""


def _replace(owner: type, name: str, by: Callable[..., Any]) -> None:
    """Set ``owner.name`` to ``by``; fail loudly if the method is gone or takes other arguments."""
    old = vars(owner).get(name)
    if old is None:
        raise LookupError(f"{owner.__module__}.{owner.__qualname__}.{name} is gone: adapt _before")
    want, got = inspect.signature(old).parameters, inspect.signature(by).parameters
    if [(p.name, p.kind) for p in want.values()] != [(p.name, p.kind) for p in got.values()]:
        raise TypeError(f"{owner.__qualname__}.{name}{inspect.signature(old)}: adapt _before")
    setattr(owner, name, by)


def switch_off_safety(package: ModuleType, *, keep_overlap: bool = True) -> None:
    """Switch the safety work off in ``package``, a copy from ``load_tree``; never the real one.

    The safety work is what issues 10 and 11 added. Size cap: ``Transport._read`` reads
    the whole body with ``resp.read()``. Churn healing: ``Paginator._accept_offset`` walks
    as 0.1 did (``_previous_page_only``): the re-read overlap stays, and the records of it
    the previous page held are dropped. Cycle detection: ``Paginator._check_repeat`` does
    nothing. ``keep_overlap=False`` also takes 0.1's walk away (``_pagination.OVERLAP = 0``
    and every record of a page yielded as is): no identity work at all. Decoding and the
    envelope, ``has_more``, limit and offset checks stay.
    """
    if package is carrierx_async or package.__name__ == carrierx_async.__name__:
        raise ValueError("switch_off_safety patches a private copy, never carrierx_async")
    pagination, transport = package._pagination, package._transport
    assert pagination is not carrierx_async._pagination
    if not hasattr(pagination, "OVERLAP") or not hasattr(pagination, "_ids"):
        raise LookupError(f"{pagination.__name__}.OVERLAP or _ids is gone: adapt _before")
    if keep_overlap:
        pagination.Paginator._previous = frozenset()
        _replace(pagination.Paginator, "_accept_offset", _previous_page_only(pagination._ids))
    else:
        pagination.OVERLAP = 0
        _replace(pagination.Paginator, "_accept_offset", _yield_all)
    _replace(pagination.Paginator, "_check_repeat", _no_repeat_check)
    _replace(transport.Transport, "_read", _read_whole)


def walk_slip(package: ModuleType) -> list[tuple[int, int]]:
    """Three pages of 8 through a Paginator of ``package``: the first, one that re-reads
    the overlap, then one holding nothing the walk knows (the window slipped).

    Returns ``(offset asked for, records yielded)`` per page, then ``(next offset, -1)``.
    This tree sets the slipped page aside and steps back (0 yielded, next offset 0).
    """
    walker = package._pagination.Paginator(package._query.build_query(page_size=8))
    served = [f"a{i}" for i in range(8)] + [f"b{i}" for i in range(6)]
    slipped = [f"c{i}" for i in range(8)]
    seen: list[tuple[int, int]] = []
    for page in range(3):
        request = walker.next_request()
        assert request is not None
        offset, limit = request[0], request[1]
        ids = served[offset : offset + limit] if page < 2 else slipped
        items = [{"did_sid": i, "phonenumber": f"1{i}"} for i in ids]
        data = {"items": items, "has_more": True, "count": len(ids), "limit": limit}
        seen.append((offset, len(walker.accept(data)[0])))
    request = walker.next_request()
    assert request is not None
    return [*seen, (request[0], -1)]


#: ``walk_slip`` without churn healing: with 0.1's overlap (2 for pages of 8), and without.
SLIP_0_1: Final = [(0, 8), (6, 6), (12, 8), (18, -1)]
SLIP_BARE: Final = [(0, 8), (8, 6), (14, 8), (22, -1)]


def _repeats_raise(package: ModuleType) -> bool:
    """Whether a Paginator of ``package`` raises for the same page fingerprint over and over."""
    walker = package._pagination.Paginator(package._query.build_query(page_size=8))
    try:
        for _ in range(package._pagination.STALL_PAGES + 1):
            walker._check_repeat(1, 0, True)
    except package.PaginationError:
        return True
    return False


async def check_safety_off(
    package: ModuleType, base: str, records: int, *, keep_overlap: bool = True
) -> None:
    """Assert ``package`` (patched) runs without the safety work and this tree with it.

    ``base`` serves a dataset of ``records`` (over 1000) records, as ``_server`` does.
    """
    want = SLIP_0_1 if keep_overlap else SLIP_BARE
    got = walk_slip(package)
    assert got == want, f"the copy's walk is not 0.1's{'' if keep_overlap else ' minus'}: {got}"
    mine = walk_slip(carrierx_async)
    assert mine[2:] == [(12, 0), (0, -1)], f"this tree's walk does not heal: {mine}"
    # Cycle detection alone (the copy's offset walk no longer calls it).
    assert _repeats_raise(carrierx_async), "this tree's cycle detection is off"
    assert not _repeats_raise(package), "the copy's cycle detection is still on"
    # A page of 1000 records is far over a 1 KiB cap: for this tree, not for the copy.
    async with package.Client(token=TOKEN, base_url=base, max_response_bytes=1024) as client:
        try:
            streamed = await count(client.available_dids(page_size=1000))
        except package.ResponseTooLargeError:
            raise AssertionError("the copy's size cap is still on") from None
    assert streamed == records, f"the copy streamed {streamed} of {records} records"
    async with Client(token=TOKEN, base_url=base, max_response_bytes=1024) as client:
        try:
            await count(client.available_dids(page_size=1000))
        except carrierx_async.ResponseTooLargeError:
            pass
        else:
            raise AssertionError("this tree read a page over max_response_bytes")
