"""Running ``carrierx-dids``: main(), the search and get commands, errors as exit codes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Final

from .._client import DEFAULT_BASE_URL, Client
from .._errors import (
    APIConnectionError,
    AuthenticationError,
    CarrierXError,
    ConfigurationError,
    FilterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
)
from .._filters import Filter
from .._stream import AvailableDidStream
from .arguments import (
    EXIT_AUTH,
    EXIT_BAD_RESPONSE,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_RATE_LIMITED,
    EXIT_USAGE,
    PROG,
    TABLE_MAX,
    _parser,
    _plan_search,
    _query_args,
    _token,
    _UsageError,
    _with_command,
)
from .output import _WRITERS, _cell, _note, _Progress, _record, _table

__all__ = [
    "DEMO_NOTICE",
    "EXIT_AUTH",
    "EXIT_BAD_RESPONSE",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_RATE_LIMITED",
    "EXIT_USAGE",
    "main",
]

# First match wins: subclasses before their bases.
_EXIT_CODES: Final[tuple[tuple[type[CarrierXError], int], ...]] = (
    (FilterError, EXIT_USAGE),
    (ConfigurationError, EXIT_USAGE),
    (AuthenticationError, EXIT_AUTH),
    (PermissionDeniedError, EXIT_AUTH),
    (NotFoundError, EXIT_NOT_FOUND),
    (RateLimitError, EXIT_RATE_LIMITED),
    (APIConnectionError, EXIT_NETWORK),
    (CarrierXError, EXIT_BAD_RESPONSE),
)
_HINTS: Final[tuple[tuple[type[CarrierXError], str], ...]] = (
    (AuthenticationError, "check CARRIERX_TOKEN or --token-file"),
    (PermissionDeniedError, "the token needs the phonenumber.read scope"),
)

DEMO_NOTICE: Final = (
    "showing built-in DEMO numbers, not real CarrierX inventory; to search the real API "
    "set CARRIERX_TOKEN or use --token-file PATH"
)


# --- the async part ---


async def _search(client: Client, args: argparse.Namespace, flt: Filter | None) -> int:
    stream = client.available_dids(filter=flt, **_query_args(args))
    try:
        return await _write_search(stream, args)
    except NotFoundError as exc:  # a list answered 404: the URL, not a number, is wrong
        raise ResponseDecodeError(
            f"the search URL was not found ({exc.url or 'HTTP 404'}); check --base-url, "
            "which must end in /core/v2",
            status=404,
        ) from None


async def _write_search(stream: AvailableDidStream, args: argparse.Namespace) -> int:
    out, fmt, max_items = sys.stdout, args.format, args.max_items
    writer = _WRITERS[fmt](out, args.fields)
    progress = _Progress(sys.stderr.isatty() and (fmt == "table" or not out.isatty()))
    try:
        async with stream.pages() as pages:
            more = False
            async for page in pages:
                more = page.has_more
                writer.add(page.items)
                out.flush()
                if page.has_more and (max_items is None or writer.count < max_items):
                    progress.show(writer.count)
        gaps = pages.stats.possible_gaps
    finally:
        progress.clear()
    writer.finish()
    out.flush()
    if gaps:
        _note(
            f"the inventory changed too fast during the search: numbers may be missing or "
            f"repeated in {gaps} place(s); --keyset shows each number exactly once"
        )
    if args.max is None and max_items is not None and writer.count == max_items and more:
        _note(f"showing the first {TABLE_MAX} numbers; --max N shows more, --max 0 all")
    return EXIT_OK


async def _get(client: Client, args: argparse.Namespace) -> int:
    did = await client.get_available_did(args.did_sid, include_fields=args.fields)
    record = _record(did, args.fields)
    out = sys.stdout
    if (args.format or ("table" if out.isatty() else "json")) == "json":
        out.write(json.dumps(record, indent=2) + "\n")
    else:
        rows = [[name, _cell(name, getattr(did, name))] for name in record]
        out.write(_table(rows, [False, False]))
    out.flush()
    return EXIT_OK


async def _run(args: argparse.Namespace, token: str | None, flt: Filter | None) -> int:
    """Open the client (against the demo server without a token) and run the command."""
    if token is None:
        from ..testing import FakeCarrierX

        _note(DEMO_NOTICE)
        try:
            async with (
                FakeCarrierX() as fake,
                Client(fake.token, base_url=fake.base_url) as client,
            ):
                return await _command(client, args, flt)
        finally:  # once more at the end, where a long table leaves the reader
            _note(DEMO_NOTICE)
    async with Client(token, base_url=args.base_url or DEFAULT_BASE_URL) as client:
        return await _command(client, args, flt)


async def _command(client: Client, args: argparse.Namespace, flt: Filter | None) -> int:
    if args.command == "get":
        return await _get(client, args)
    return await _search(client, args, flt)


# --- the entry point ---


def _error(message: str) -> None:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr, flush=True)


def _exit_code(exc: CarrierXError) -> int:
    return next(code for kind, code in _EXIT_CODES if isinstance(exc, kind))


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the exit-time flush cannot complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``carrierx-dids`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a == "--token" or a.startswith("--token=") for a in argv):  # never echo its value
        _error("there is no --token option: set CARRIERX_TOKEN or use --token-file PATH")
        return EXIT_USAGE
    try:
        parser = _parser()
        args = parser.parse_args(_with_command(argv, parser.value_options))
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        token = _token(args)
        flt = _plan_search(args) if args.command != "get" else None
        return asyncio.run(_run(args, token, flt))
    except _UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except CarrierXError as exc:
        hint = next((h for kind, h in _HINTS if isinstance(exc, kind)), None)
        _error(f"{exc} ({hint})" if hint else str(exc))
        return _exit_code(exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
