"""Running ``carrierx-dids``: main(), the search and get commands, errors as exit codes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, Final

from .._client import Client
from .._errors import (
    APIConnectionError,
    APITimeoutError,
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
from .._stream import AvailableDidStream, PageIterator
from .arguments import (
    DEFAULT_MAX,
    EXIT_AUTH,
    EXIT_BAD_RESPONSE,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_RATE_LIMITED,
    EXIT_USAGE,
    PROG,
    OutputFormat,
    _parser,
    _plan_get,
    _plan_search,
    _query_args,
    _token,
    _UsageError,
    _with_command,
)
from .output import _WRITERS, _cell, _note, _Progress, _record, _table
from .verbose import verbose

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
    (APITimeoutError, "--timeout SECONDS waits longer"),
)

DEMO_NOTICE: Final = (
    "showing built-in DEMO numbers, not real CarrierX inventory; to search the real API "
    "set CARRIERX_TOKEN or use --token-file PATH"
)


# --- the async part ---


async def _search(client: Client, args: argparse.Namespace, flt: Filter | None) -> int:
    stream = client.available_dids(filter=flt, after=args.after, **_query_args(args))
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
    more = False
    try:
        async with stream.pages() as pages:
            async for page in pages:
                more = page.has_more
                writer.add(page.items)
                out.flush()
                if page.has_more and (max_items is None or writer.count < max_items):
                    progress.show(writer.count)
        gaps = pages.stats.possible_gaps
    except (asyncio.CancelledError, CarrierXError) as exc:
        # Ctrl-C or a failure: show what was fetched, as complete output (a closed JSON
        # array, a table), then stop as before.
        progress.clear()
        writer.finish(quiet=True)
        out.flush()
        got = f"after {writer.count:,} numbers" if writer.count else "before any number arrived"
        resume = _resume(pages)
        if isinstance(exc, asyncio.CancelledError):  # main() says it, once, as it exits
            args.interrupted = f"interrupted {got}; the output is incomplete"
            if resume:
                args.interrupted += f"\n{PROG}: {resume}"
        elif writer.count:  # a failure with no number says so on its own error line
            _note(f"stopped {got}; the output is incomplete")
            if resume:
                _note(resume)
        raise
    finally:
        progress.clear()
    writer.finish()
    out.flush()
    if gaps:
        _note(
            f"the inventory changed too fast during the search: numbers may be missing or "
            f"repeated in {gaps} place(s); --keyset shows each number exactly once"
        )
    if max_items is not None and writer.count == max_items and more:
        if args.max is None:
            _note(f"showing the first {DEFAULT_MAX} numbers; --max N shows more, --all every match")
        if resume := _resume(pages):
            _note(resume)
    return EXIT_OK


def _resume(pages: PageIterator[Any]) -> str | None:
    """``resume with --after CURSOR`` for a keyset search cut short, else None."""
    try:
        cursor = pages.cursor
    except CarrierXError:  # the server's last number cannot be sought past: no resuming
        return None
    return None if cursor is None else f"resume with --after {cursor}"


async def _get(client: Client, args: argparse.Namespace, *, demo: bool) -> int:
    try:
        did = await client.get_available_did(args.did_sid, include_fields=args.fields)
    except NotFoundError as exc:
        if not demo:
            raise
        # The demo server's loopback address means nothing to the reader.
        raise NotFoundError(
            404, f"no demo number has DID_SID {args.did_sid}", attempts=exc.attempts
        ) from None
    record = _record(did, args.fields)
    out = sys.stdout
    fmt: OutputFormat = args.format or ("table" if out.isatty() else "json")
    if fmt == "json":  # one object, not search's array of one
        out.write(json.dumps(record, indent=2) + "\n")
    elif fmt == "table":  # one row per field: a record is too wide for one line
        rows = [[name, _cell(name, getattr(did, name))] for name in record]
        out.write(_table(rows, [False, False]))
    else:  # jsonl and csv exactly as search writes them
        writer = _WRITERS[fmt](out, args.fields)
        writer.add([did])
        writer.finish()
    out.flush()
    return EXIT_OK


async def _run(args: argparse.Namespace, token: str | None, flt: Filter | None) -> int:
    """Open the client (against the demo server without a token) and run the command."""
    with verbose(args.verbose) as traces:

        def client(token: str, base_url: str | None, *, demo: bool = False) -> Client:
            return Client(
                token,
                base_url=base_url,  # None: CARRIERX_BASE_URL, else the real API
                timeout=args.timeout,
                # A silent server is waited out for --timeout, not cut at the library's
                # 20 s per-read default: "--timeout SECONDS waits longer" must be true.
                read_timeout=args.timeout,
                max_retries=args.retries,
                trace_configs=traces,
                # HTTP(S)_PROXY and NO_PROXY, as other command line tools do; the demo's
                # fake on 127.0.0.1 is never reached through a proxy.
                trust_env=not demo,
            )

        if token is None:
            from ..testing import FakeCarrierX

            _note(DEMO_NOTICE)  # once, before any output (the default output fits a screen)
            async with FakeCarrierX() as fake, client(fake.token, fake.base_url, demo=True) as demo:
                return await _command(demo, args, flt, demo=True)
        async with client(token, args.base_url) as api:
            return await _command(api, args, flt, demo=False)


async def _command(
    client: Client, args: argparse.Namespace, flt: Filter | None, *, demo: bool
) -> int:
    if args.command == "get":
        return await _get(client, args, demo=demo)
    return await _search(client, args, flt)


# --- the entry point ---


def _error(message: str) -> None:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr, flush=True)


def _message(exc: CarrierXError) -> str:
    """The error line's text: the library's message, the wait a server asked for, a hint."""
    text = str(exc)
    if isinstance(exc, RateLimitError) and exc.retry_after is not None:
        text += f"; the server asked to wait {exc.retry_after:g} s before trying again"
    hint = next((h for kind, h in _HINTS if isinstance(exc, kind)), None)
    return f"{text} ({hint})" if hint else text


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
    """Run ``carrierx-dids`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Ctrl-C at any point in here exits 130 with one line on stderr, never a traceback.
    """
    args = argparse.Namespace()
    try:
        return _main(sys.argv[1:] if argv is None else argv, args)
    except KeyboardInterrupt:
        _note(getattr(args, "interrupted", "interrupted"))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK


def _main(argv: Sequence[str], args: argparse.Namespace) -> int:
    """main() but Ctrl-C and a closed stdout: parse into ``args``, plan, run."""
    argv = list(argv)
    if any(a == "--token" or a.startswith("--token=") for a in argv):  # never echo its value
        _error("there is no --token option: set CARRIERX_TOKEN or use --token-file PATH")
        return EXIT_USAGE
    try:
        parser = _parser()
        parser.parse_args(_with_command(argv, parser.value_options), namespace=args)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        token = _token(args)
        if args.command == "get":
            _plan_get(args)
            flt = None
        else:
            flt = _plan_search(args)
        return asyncio.run(_run(args, token, flt))
    except _UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except CarrierXError as exc:
        _error(_message(exc))
        return _exit_code(exc)
