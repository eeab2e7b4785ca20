"""``python -m carrierx_async``: the ``carrierx-dids`` command line (see carrierx_async.cli)."""

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
