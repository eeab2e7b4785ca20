"""What a change costs: typed records streamed by this tree against an older commit's.

``python -m benchmarks --before REF`` exports ``carrierx_async`` as it was at ``REF``
(``git archive``) into a temporary directory, imports it beside this tree's under
another name, and streams the same records through both, interleaved. The row's target
is for the safety work (size cap, churn healing, cycle detection): at most 3% of typed
throughput, so ``after / before >= 0.97``.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from carrierx_async import Client

from ._harness import Row, count, fmt_rate, interleave, ratio
from ._server import carrierx_base

__all__ = ["bench_before", "load_before"]

TOKEN = "bench-token"
_ROOT = Path(__file__).resolve().parent.parent


def load_before(ref: str, into: Path) -> ModuleType:
    """``carrierx_async`` as of git ``ref``, imported as ``carrierx_async_before``."""
    tar = subprocess.run(
        ["git", "archive", "--format=tar", ref, "carrierx_async"],
        cwd=_ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    package = into / "carrierx_async"
    name = "carrierx_async_before"
    spec = importlib.util.spec_from_file_location(
        name, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def bench_before(port: int, ref: str, records: int, rounds: int) -> list[Row]:
    base = carrierx_base(port, records)
    with tempfile.TemporaryDirectory() as tmp:
        before = load_before(ref, Path(tmp))

        def runner(client_class: Any) -> Any:
            async def run() -> float:
                async with client_class(token=TOKEN, base_url=base) as client:
                    t = time.perf_counter()
                    got = await count(client.available_dids(page_size=1000))
                    rate = got / (time.perf_counter() - t)
                assert got == records, got
                return rate

            return run

        rates = await interleave({"after": runner(Client), "before": runner(before.Client)}, rounds)
    print(
        f"  typed records, this tree vs {ref}: "
        + ", ".join(f"{k} {fmt_rate(v, 'rec')}" for k, v in rates.items()),
        flush=True,
    )
    return [
        Row(
            f"7 typed records, this tree / {ref} (a change's cost; the safety work's: >= 0.97)",
            ratio(rates, "after", "before"),
            0.97,
        )
    ]
