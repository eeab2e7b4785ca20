"""What a change costs: typed records streamed by two variants of the client.

The full run's row 7 measures the safety work (size cap, churn healing, cycle detection;
issues 10 and 11) in this tree: this tree's ``carrierx_async`` against a private copy of
it in which the safety work is switched off (``switch_off_safety``). The copy is taken
from the working tree when the row runs (uncommitted files too), imported as
``carrierx_async_unsafe`` and patched; the real package is never touched. Before timing,
both must stream every record, and the copy must be seen to run without the safety work
(``check_safety_off``), so the row cannot compare two identical things.

``python -m benchmarks --before REF`` compares this tree with ``REF`` instead: that
version is exported (``git archive``) into a temporary directory and imported under its
own name. Either way both variants stream the same records, interleaved. The row's figure
is the ratio of client CPU time per record (``time.thread_time``; the server runs in
another process), which other jobs on a shared machine disturb far less than the
wall-clock rate, printed beside it. Target for the safety work: at most 3% of typed
throughput, so ``after / before >= 0.97``.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import aiohttp

import carrierx_async
from carrierx_async import Client

from ._harness import Row, count, interleave
from ._server import carrierx_base

__all__ = [
    "UNSAFE",
    "bench_before",
    "bench_safety",
    "check_safety_off",
    "load_before",
    "load_tree",
    "switch_off_safety",
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


def _yield_all(self: Any, items: list[Any], request_offset: int, has_more: bool) -> list[Any]:
    """``Paginator._accept_offset`` without churn healing: every record of the page, as is."""
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


def switch_off_safety(package: ModuleType) -> None:
    """Switch the safety work off in ``package``, a copy from ``load_tree``; never the real one.

    Size cap: ``Transport._read`` reads the whole body with ``resp.read()``. Churn healing:
    no re-read overlap (``_pagination.OVERLAP = 0``, so the next offset is the request's
    offset plus the page's length) and no identity work (``Paginator._accept_offset``
    yields every record of the page). Cycle detection: ``Paginator._check_repeat`` does
    nothing. Decoding and the envelope, ``has_more``, limit and offset checks stay.
    """
    if package is carrierx_async or package.__name__ == carrierx_async.__name__:
        raise ValueError("switch_off_safety patches a private copy, never carrierx_async")
    pagination, transport = package._pagination, package._transport
    assert pagination is not carrierx_async._pagination
    if not hasattr(pagination, "OVERLAP"):
        raise LookupError(f"{pagination.__name__}.OVERLAP is gone: adapt _before")
    pagination.OVERLAP = 0
    _replace(pagination.Paginator, "_accept_offset", _yield_all)
    _replace(pagination.Paginator, "_check_repeat", _no_repeat_check)
    _replace(transport.Transport, "_read", _read_whole)


def _walk_repeats(package: ModuleType, page_size: int = 8, pages: int = 6) -> list[Any]:
    """Feed a Paginator of ``package`` the same page ``pages`` times (a server that cycles).

    Returns, per page, ``(offset asked for, records yielded, whether they are the page's
    item list itself)``, then the PaginationError's class name if the walk raised.
    """
    query = package._query.build_query(page_size=page_size)
    walker = package._pagination.Paginator(query)
    ids = [f"sid-{i}" for i in range(page_size)]
    seen: list[Any] = []
    for _ in range(pages):
        request = walker.next_request()
        assert request is not None
        items = [{"did_sid": i, "phonenumber": f"1{i}"} for i in ids]
        data = {"items": items, "has_more": True, "count": page_size, "limit": page_size}
        try:
            new, _ = walker.accept(data)
        except package.PaginationError as exc:
            seen.append(type(exc).__name__)
            break
        seen.append((request[0], len(new), new is items))
    return seen


def _repeats_raise(package: ModuleType) -> bool:
    """Whether a Paginator of ``package`` raises for the same page fingerprint over and over."""
    walker = package._pagination.Paginator(package._query.build_query(page_size=8))
    try:
        for _ in range(package._pagination.STALL_PAGES + 1):
            walker._check_repeat(1, 0, True)
    except package.PaginationError:
        return True
    return False


async def check_safety_off(package: ModuleType, base: str, records: int) -> None:
    """Assert ``package`` (patched) runs without the safety work and this tree with it.

    ``base`` serves a dataset of ``records`` (over 1000) records, as ``_server`` does.
    """
    size, pages = 8, 6
    bare = [(size * p, size, True) for p in range(pages)]
    got = _walk_repeats(package, size, pages)
    assert got == bare, f"the copy's walk still overlaps, de-duplicates or raises: {got}"
    assert _walk_repeats(carrierx_async, size, pages) != bare, "this tree's walk does no safety"
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


# --- row 7 ----------------------------------------------------------------------------------


def _missing(refs: tuple[str, ...]) -> str | None:
    """Why these commits cannot be exported here (no git, a shallow clone), or None."""
    for ref in refs:
        try:
            subprocess.run(
                ["git", "cat-file", "-e", f"{ref}^{{commit}}"],
                cwd=_ROOT,
                check=True,
                capture_output=True,
            )
        except (OSError, subprocess.CalledProcessError):
            return f"commit {ref} is not in this checkout (git, and not a shallow clone)"
    return None


async def _compare(
    port: int, records: int, rounds: int, new: Any, old: Any, label: str
) -> tuple[float, float]:
    """Median per-round ratios new / old of CPU time per record and of the wall-clock rate."""
    base = carrierx_base(port, records)

    def runner(client_class: Any) -> Any:
        async def run() -> tuple[float, float]:
            async with client_class(token=TOKEN, base_url=base) as client:
                cpu, wall = time.thread_time(), time.perf_counter()
                got = await count(client.available_dids(page_size=1000))
                cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            assert got == records, got
            return got / cpu, got / wall

        return run

    runs = await interleave({"after": runner(new), "before": runner(old)}, rounds)
    by_cpu, by_wall = (
        statistics.median(a[i] / b[i] for a, b in zip(runs["after"], runs["before"], strict=True))
        for i in (0, 1)
    )
    print(
        f"  typed records, {label}: CPU time per record {by_cpu:.3f}x as fast, "
        f"wall-clock rate {by_wall:.3f}x ("
        + ", ".join(f"{k} {statistics.median(r[1] for r in v):,.0f} rec/s" for k, v in runs.items())
        + ")",
        flush=True,
    )
    return by_cpu, by_wall


def _rows(name: str, by_cpu: float, by_wall: float) -> list[Row]:
    return [
        Row(f"{name}, by client CPU time per record", by_cpu, 0.97),
        Row("7' the same by wall-clock rate (info; noisy on a shared machine)", by_wall, None),
    ]


async def bench_safety(port: int, records: int, rounds: int) -> list[Row]:
    """Row 7: typed records with this tree against a copy of it without the safety work."""
    with tempfile.TemporaryDirectory() as tmp:
        unsafe = load_tree(Path(tmp))
        switch_off_safety(unsafe)
        await check_safety_off(unsafe, carrierx_base(port, 2000), 2000)
        by_cpu, by_wall = await _compare(
            port, records, rounds, Client, unsafe.Client, "this tree vs safety work off"
        )
    name = "7 the safety work's cost: typed records, this tree / the same without it"
    return _rows(name, by_cpu, by_wall)


async def bench_before(port: int, ref: str, records: int, rounds: int) -> list[Row]:
    """Row 7 with ``--before REF``: typed records with this tree against ``ref``."""
    why = _missing((ref,))
    if why is not None:
        print(f"  row 7 skipped: {why}", flush=True)
        return []
    with tempfile.TemporaryDirectory() as tmp:
        old = load_before(ref, Path(tmp) / "before").Client
        by_cpu, by_wall = await _compare(port, records, rounds, Client, old, f"this tree vs {ref}")
    return _rows(f"7 typed records, this tree / {ref}", by_cpu, by_wall)
