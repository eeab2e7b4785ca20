"""Argument parsing for ``carrierx-dids``: the parser, and flags turned into a filter and query.

Everything here is checked before any I/O; a problem is a _UsageError or an argparse exit.
"""

from __future__ import annotations

import argparse
import functools
import operator
import os
import re
import sys
from collections.abc import Callable
from typing import Any, Final, Literal, NoReturn, TypeAlias, get_args

from .. import __version__
from .._client import DEFAULT_BASE_URL
from .._cursor import resume_point
from .._errors import ConfigurationError, FilterError
from .._fields import F
from .._filters import Filter
from .._query import build_query, check_did_sid
from .._retry import RetryPolicy
from .values import (
    COUNTRY,
    FILTER,
    LIKE,
    LOCALITY,
    NEAR,
    NPA,
    PREFIX,
    RAW_FILTER,
    STATE,
    ZIP,
    _capabilities,
    _count,
    _fields,
    _page_size,
    _positive,
    _seconds,
    cli_words,
)

PROG: Final = "carrierx-dids"
EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
EXIT_AUTH: Final = 3
EXIT_NOT_FOUND: Final = 4
EXIT_RATE_LIMITED: Final = 5
EXIT_NETWORK: Final = 6
EXIT_BAD_RESPONSE: Final = 7
EXIT_INTERRUPTED: Final = 130
#: Numbers shown unless --max N or --all says otherwise, whatever the output format.
DEFAULT_MAX: Final = 20

_EXIT_HELP: Final = (
    (EXIT_OK, "success"),
    (EXIT_USAGE, "usage: bad option, filter, field name, token file or base URL"),
    (EXIT_AUTH, "authentication: token rejected, or it lacks the phonenumber.read scope"),
    (EXIT_NOT_FOUND, "not found: no available number with that DID_SID"),
    (EXIT_RATE_LIMITED, "rate limited: retry later"),
    (EXIT_NETWORK, "network: connection failed or timed out"),
    (EXIT_BAD_RESPONSE, "bad response: unexpected server answer or other API error"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)
_COMMANDS: Final = frozenset({"search", "get"})
#: ``--format``'s values (search and get).
OutputFormat: TypeAlias = Literal["table", "json", "jsonl", "csv"]
_FORMATS: Final = get_args(OutputFormat)
#: Filter flags (their dests) in the order their conditions are written. A repeated flag
#: means any of its values: ``--state NY --state CA`` is state NY or CA.
_ANY_OF: Final = ("country", "state", "locality", "npa", "zip", "near", "prefix", "like")
#: The filter flags that hold one value, and what to write instead of a repeat.
_ONCE: Final = {
    "zip": "a search is near one place: run one search per place",
    "near": "a search is near one place: run one search per place",
    "filter": "join its conditions with 'and' in one --filter",
    "raw_filter": "join its conditions with 'and' in one --raw-filter",
}
_EXTERNAL_NEEDS_COUNTRY: Final = (
    "--external needs --country (the external provider search requires country_code eq)"
)
#: build_query's argument names, as its messages spell them -> the flags that set them.
_FLAG_TERMS: Final = {
    "include_external=True": "--external",
    "max_items": "--max",
    "page_size": "--page-size",
    "include_fields": "--fields",
    "exclude_fields": "--fields",
    "order": "--order",
    "pagination='keyset'": "--keyset",
    "after=": "--after",
}
# Only where a message names an argument (its start, after ': ' or 'with '), never inside
# a quoted value the user gave, such as --order 'max_items'.
_FLAG_TERM: Final = re.compile(
    rf"(?:^|(?<=: )|(?<=with )|(?<=without ))({'|'.join(map(re.escape, _FLAG_TERMS))})(?![\w=])"
)


class _UsageError(Exception):
    """A problem with the command line found after argparse: exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr."""

    #: Option strings of the subcommands that take a value (set by ``_parser``).
    value_options: frozenset[str] = frozenset()

    def error(self, message: str) -> NoReturn:
        unknown = "unrecognized arguments: "
        if message.startswith(unknown):  # a value after a mistyped flag may be a secret
            words = message.removeprefix(unknown).split()
            message = unknown + " ".join(_redact(w) for w in words)
            if "--area" in message:
                message += "; the area code is --npa (or --area-code)"
        # Like the library's messages: "--max must be a whole number >= 1, got 0", not
        # "argument --max: must be ..."; a message that names its flag is left as it is.
        if (m := _ARGUMENT.fullmatch(message)) and m[2].startswith(("must be ", f"{m[1]} ")):
            message = m[2] if m[2].startswith(m[1]) else f"{m[1]} {m[2]}"
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


_ARGUMENT: Final = re.compile(r"(?s)argument (--[\w-]+)\S*: (.*)")


def _redact(word: str) -> str:
    """An unrecognized argument as shown in an error: option names only, never values."""
    if not word.startswith("-"):
        return "..."
    name, eq, _ = word.partition("=")
    return f"{name}=..." if eq else name


# --- the parser ---


def _epilog() -> str:
    codes = "\n".join(f"  {code:<4} {text}" for code, text in _EXIT_HELP)
    return (
        "Without CARRIERX_TOKEN or --token-file, or with --demo, the built-in demo\n"
        "numbers answer (not real inventory).\n\n"
        "environment:\n"
        "  CARRIERX_TOKEN     CarrierX API token (or --token-file; there is no --token flag)\n"
        "  CARRIERX_BASE_URL  API root when --base-url is not given\n"
        "  HTTPS_PROXY, HTTP_PROXY, NO_PROXY  honoured for the API (not for --demo)\n\n"
        f"exit codes:\n{codes}"
    )


def _parser() -> _Parser:
    fmt = argparse.RawDescriptionHelpFormatter
    common = _Parser(add_help=False, allow_abbrev=False)
    api = common.add_argument_group("connection")
    api.add_argument("--token-file", metavar="PATH", help="read the API token from this file")
    api.add_argument(
        "--base-url",
        metavar="URL",
        help=f"API root (default $CARRIERX_BASE_URL, else {DEFAULT_BASE_URL})",
    )
    api.add_argument("--demo", action="store_true", help="search built-in demo numbers")
    api.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="give up on a request after this long, retries included (default 30)",
    )
    api.add_argument(
        "--retries",
        type=_count,
        default=2,
        metavar="N",
        help="retry a failed request up to N times (default 2)",
    )
    api.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show each request, retry and wait on stderr",
    )
    common.add_argument(
        "--fields", type=_fields, metavar="A,B,C", help="output only these DID fields"
    )

    parser = _Parser(  # its help is search's: 'carrierx-dids --help' shows every option
        prog=PROG,
        description="Browse CarrierX phone numbers (DIDs) available to rent.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{search,get}")

    search = commands.add_parser(
        "search",
        parents=[common],
        help="search available numbers (the default)",
        allow_abbrev=False,
        description="Browse CarrierX phone numbers (DIDs) available to rent.\n\n"
        "  carrierx-dids [search] [options]  search (the default command)\n"
        "  carrierx-dids get DID_SID         show one number (see 'carrierx-dids get --help')",
        epilog=_epilog(),
        formatter_class=fmt,
    )
    where = search.add_argument_group(
        "filters",
        "Different flags are joined with 'and'. A repeated flag matches any of its values:\n"
        "--state NY --state CA is state NY or CA; but every --capability named is required,\n"
        "and --zip, --near, --filter and --raw-filter are given once.",
    )

    def condition(*names: str, type: Callable[[str], Filter], metavar: str, help: str) -> None:
        """A filter flag: its values, each already a filter, in a list (see _ANY_OF)."""
        where.add_argument(
            *names, type=type, metavar=metavar, help=help, action="append", default=[]
        )

    condition("--country", type=COUNTRY, metavar="ISO3", help="country_code eq, e.g. USA")
    condition("--state", type=STATE, metavar="XX", help="state eq, e.g. NY")
    condition("--locality", type=LOCALITY, metavar="CITY", help='locality eq, e.g. "new york"')
    condition(
        "--npa", "--area-code", type=NPA, metavar="NPA", help="npa eq: the area code, e.g. 516"
    )
    condition("--zip", type=ZIP, metavar="ZIP", help="phonenumber nearby zip:ZIP")
    condition(
        "--near",
        type=NEAR,
        metavar="LAT,LNG",
        help="phonenumber nearby latlng:LAT,LNG (also npa:NPA, zip:ZIP); "
        "write --near=-33.87,151.21 for a negative latitude",
    )
    condition(
        "--prefix", type=PREFIX, metavar="DIGITS", help="phonenumber like DIGITS%%, e.g. 1516"
    )
    condition(
        "--like",
        type=LIKE,
        metavar="PATTERN",
        help='phonenumber like, with %% wildcards: "1516%%555%%"',
    )
    where.add_argument(
        "--capability",
        type=_capabilities,
        action="append",
        metavar="NAMES",
        help="capabilities bit: voice, sms, mms, sms_in, sms_out, mms_in, mms_out "
        "(comma-separated, repeatable; a number must have them all)",
    )
    condition(
        "--filter",
        type=FILTER,
        metavar="TEXT",
        help='filter text, checked first, e.g. "price le 1"',
    )
    condition(
        "--raw-filter",
        type=RAW_FILTER,
        metavar="TEXT",
        help="filter text sent exactly as written, unchecked (for what the client refuses)",
    )
    where.add_argument(
        "--external",
        action="store_true",
        help="include external providers' numbers (needs --country; at most 10)",
    )
    out = search.add_argument_group("results")
    out.add_argument("--order", metavar="ORDER", help='e.g. "price desc" or shuffle')
    size = out.add_mutually_exclusive_group()
    size.add_argument(
        "--max", type=_positive, metavar="N", help=f"show at most N numbers (default {DEFAULT_MAX})"
    )
    size.add_argument("--all", action="store_true", help="show every matching number")
    out.add_argument(
        "--page-size", type=_page_size, metavar="N", help="records per request (at most 1000)"
    )
    out.add_argument(
        "--keyset",
        action="store_true",
        help="walk in phonenumber order by seeking past the last number: each number "
        "present throughout is shown exactly once while the inventory changes",
    )
    out.add_argument(
        "--after",
        metavar="CURSOR",
        help="continue a --keyset search after the number where it stopped (stderr gives "
        "the CURSOR when a search is cut short); implies --keyset",
    )
    out.add_argument(
        "--format", choices=_FORMATS, help="default: table on a terminal, jsonl when piped"
    )

    get = commands.add_parser(
        "get",
        parents=[common],
        help="show one available number by its SID",
        allow_abbrev=False,
        description="Show one available number by its DID_SID.",
        epilog=_epilog(),
        formatter_class=fmt,
    )
    get.add_argument("did_sid", metavar="DID_SID")
    get.add_argument(
        "--format",
        choices=_FORMATS,
        help="default: table on a terminal, else json (one object; jsonl: one line)",
    )
    parser.value_options = frozenset(
        name
        for sub in (search, get)
        for action in sub._actions
        if action.nargs != 0
        for name in action.option_strings
    )
    return parser


def _with_command(argv: list[str], value_options: frozenset[str]) -> list[str]:
    """Make ``search`` the default subcommand; move one written after options to the front.

    ``--demo get SID`` -> ``get --demo SID``, but ``--locality get`` stays a search for the
    locality "get": a word right after an option that takes a value is that value.
    """
    if argv and not argv[0].startswith("-"):
        return argv
    if argv and argv[0] in ("-h", "--help"):  # search is the default: its help is the help
        return ["search", *argv]
    if argv and argv[0] == "--version":
        return argv
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] in _COMMANDS:
            return [argv[i], *argv[:i], *argv[i + 1 :]]
        i += 2 if argv[i] in value_options else 1
    return ["search", *argv]


# --- planning: everything checked before any I/O ---


def _search_filter(args: argparse.Namespace) -> Filter | None:
    """The filter flags' conditions (each flag's values already filters) joined with 'and'."""
    for dest, instead in _ONCE.items():
        if len(getattr(args, dest)) > 1:
            raise _UsageError(f"--{dest.replace('_', '-')} was given more than once; {instead}")
    parts = [functools.reduce(operator.or_, getattr(args, d)) for d in _ANY_OF if getattr(args, d)]
    if args.capability:
        parts.append(F.capabilities.bit(functools.reduce(operator.or_, args.capability)))
    parts += [*args.filter, *args.raw_filter]
    return functools.reduce(operator.and_, parts) if parts else None


def _read_token_file(path: str) -> str:
    """The stripped content of --token-file; messages show neither content nor path."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as exc:
        raise _UsageError(f"cannot read the --token-file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise _UsageError("the --token-file is not UTF-8 text") from None
    if not token:
        raise _UsageError("the --token-file is empty")
    return token


def _token(args: argparse.Namespace) -> str | None:
    """The token to use, or None for the demo."""
    if args.demo:
        if args.token_file is not None or args.base_url is not None:
            raise _UsageError("--demo cannot be combined with --token-file or --base-url")
        return None
    if args.token_file is not None:
        return _read_token_file(args.token_file)
    token = os.environ.get("CARRIERX_TOKEN", "").strip()
    if token:
        return token
    if args.base_url is not None or os.environ.get("CARRIERX_BASE_URL", "").strip():
        where = "--base-url" if args.base_url is not None else "CARRIERX_BASE_URL"
        raise _UsageError(f"{where} needs a token: set CARRIERX_TOKEN or use --token-file PATH")
    return None


def _plan_connection(args: argparse.Namespace) -> None:
    """Check what the Client will be given, before any I/O."""
    try:
        RetryPolicy(max_retries=args.retries)
    except ValueError as exc:  # ConfigurationError is a ValueError
        raise _UsageError(f"--retries: {exc}") from None


def _plan_get(args: argparse.Namespace) -> None:
    """Check the DID_SID before any I/O (and before the demo server starts)."""
    _plan_connection(args)
    try:
        check_did_sid(args.did_sid)
    except (FilterError, ConfigurationError) as exc:
        raise _UsageError(str(exc).replace("did_sid", "DID_SID", 1)) from None


def _plan_search(args: argparse.Namespace) -> Filter | None:
    """Settle format and --max, and validate the whole query before any I/O."""
    _plan_connection(args)
    args.format = args.format or ("table" if sys.stdout.isatty() else "jsonl")
    # One default everywhere; --external gets at most 10 in one request anyway.
    default_max = args.max is None and not args.all and not args.external
    args.max_items = DEFAULT_MAX if default_max else args.max
    flt = _search_filter(args)
    if args.external and flt is not None and flt.is_disjunction:
        raise _UsageError(
            "--external takes one value per filter flag (the external provider search is a "
            "single request): run one search per value"
        )
    if args.after is not None and args.external:
        raise _UsageError(
            "--after cannot be combined with --external: the external provider search is one "
            "request, there is nothing to continue"
        )
    if args.after is not None and flt is not None and flt.is_disjunction:
        raise _UsageError(
            "--after cannot continue a search with a repeated filter flag (its values are "
            "searched separately): run one search per value"
        )
    try:
        resume_point([build_query(filter=flt, **_query_args(args))], args.after)
    except (FilterError, ConfigurationError) as exc:
        raise _UsageError(_flag_terms(str(exc))) from None
    return flt


def _flag_terms(message: str) -> str:
    """A build_query message in flag terms; the library's own words for anything else."""
    if message.startswith("include_external=True needs"):  # no country_code eq condition
        return _EXTERNAL_NEEDS_COUNTRY
    if "Client(external_filters=" in message:  # advice a command-line user cannot follow
        message = message.split(" (widen with Client(")[0]
        message += "; drop that condition, or search without --external"
    return cli_words(_FLAG_TERM.sub(lambda m: _FLAG_TERMS[m[1]], message))


def _query_args(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "order": args.order,
        "page_size": args.page_size,
        "max_items": args.max_items,
        "include_fields": args.fields,
        "include_external": args.external,
        "pagination": "keyset" if args.keyset or args.after is not None else "offset",
    }
