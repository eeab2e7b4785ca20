"""What a change costs: typed records streamed by one version against an older one's.

The full run's row 7 measures the safety work (size cap, churn healing, cycle detection;
issues 10 and 11): ``SAFETY`` names the commit before it and its last commit, before
the speed work of issue 14. ``python -m benchmarks --before REF`` compares this tree with
``REF`` instead. Each version is exported (``git archive``) into a temporary directory
and imported under its own name; both stream the same records, interleaved. The row's
figure is the ratio of client CPU time per record (``time.thread_time``; the server runs
in another process), which other jobs on a shared machine disturb far less than the
wall-clock rate, printed beside it. Target for the safety work: at most 3% of typed
throughput, so ``after / before >= 0.97``.
"""

from __future__ import annotations

import importlib.util
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from carrierx_async import Client

from ._harness import Row, count, interleave
from ._server import carrierx_base

__all__ = ["SAFETY", "bench_before", "load_before"]

TOKEN = "bench-token"
_ROOT = Path(__file__).resolve().parent.parent
#: The commit before the safety work (issue 10's first commit is 23fefc4, its child) and
#: the safety work's last commit (issue 14's first, 1e112bc, is its child).
SAFETY: Final = ("14f82c0", "c90bdba")


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
    package = into / "carrierx_async"
    name = f"carrierx_async_{''.join(c if c.isalnum() else '_' for c in ref)}"
    spec = importlib.util.spec_from_file_location(
        name, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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


async def bench_before(
    port: int, ref: str, records: int, rounds: int, *, after: str | None = None
) -> list[Row]:
    """Row 7: typed records with ``after`` (default: this tree) against ``ref``."""
    why = _missing((ref,) if after is None else (ref, after))
    if why is not None:
        print(f"  row 7 skipped: {why}", flush=True)
        return []
    base = carrierx_base(port, records)
    with tempfile.TemporaryDirectory() as tmp:
        old = load_before(ref, Path(tmp) / "before").Client
        new = Client if after is None else load_before(after, Path(tmp) / "after").Client

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
    label = "this tree" if after is None else after
    print(
        f"  typed records, {label} vs {ref}: CPU time per record {by_cpu:.3f}x as fast, "
        f"wall-clock rate {by_wall:.3f}x ("
        + ", ".join(f"{k} {statistics.median(r[1] for r in v):,.0f} rec/s" for k, v in runs.items())
        + ")",
        flush=True,
    )
    if (ref, after) == SAFETY:
        name = f"7 the safety work's cost: typed records, {after} / {ref}"
    else:
        name = f"7 typed records, {label} / {ref}"
    return [
        Row(f"{name}, by client CPU time per record", by_cpu, 0.97),
        Row("7' the same by wall-clock rate (info; noisy on a shared machine)", by_wall, None),
    ]
