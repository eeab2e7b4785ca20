"""``python -m carrierx_async.testing``: serve the demo FakeCarrierX until Ctrl-C.

It prints the two ``export`` lines that point a ``Client()`` (and ``carrierx-dids``) at it,
so the README's examples run as printed without a CarrierX account.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from . import FakeCarrierX

__all__ = ["main"]


async def _serve(fake: FakeCarrierX) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with fake:
        print(f"export CARRIERX_TOKEN={fake.token}", flush=True)
        print(f"export CARRIERX_BASE_URL={fake.base_url}", flush=True)
        print(
            f"# {len(fake.inventory):,} demo numbers (not real inventory); Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Serve a FakeCarrierX on 127.0.0.1 until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m carrierx_async.testing", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size", type=int, default=3000, help="numbers (default 3000)")
    parser.add_argument("--seed", type=int, default=7, help="inventory seed (default 7)")
    parser.add_argument("--token", default="test-token", help="token it accepts (fake)")
    args = parser.parse_args(argv)
    fake = FakeCarrierX(token=args.token, size=args.size, seed=args.seed)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(fake))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
