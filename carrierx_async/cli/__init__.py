"""The ``carrierx-dids`` command line; ``python -m carrierx_async`` is the same program.

    carrierx-dids [search] [--state NY] [--capability voice,sms] [--format jsonl] ...
    carrierx-dids get DID_SID [--format json]

Decisions:
- No subcommand means ``search``, so ``carrierx-dids --help`` is search's help (it names
  ``get``). Options normally follow the subcommand, but one written later
  (``carrierx-dids --demo get SID``) is moved to the front, unless it is an option's value
  (``--locality get``).
- A repeated filter flag means any of its values: ``--state NY --state CA`` is state NY
  or CA (the library's ``|``: one request per alternative, merged). Different flags are
  joined with 'and'; ``--capability`` bits add up (every one is required). ``--zip``,
  ``--near``, ``--filter`` and ``--raw-filter`` hold one value: a repeat is refused, never
  dropped.
- Library messages are reworded in flag terms (``--max``, not ``max_items``;
  ``--raw-filter``, not ``Filter.raw(...)``); a bad number reads "--max must be a whole
  number >= 1, got 0" whichever check found it.
- Credentials come from CARRIERX_TOKEN or ``--token-file`` only: a ``--token`` flag would
  leak into ``ps`` and shell history; usage errors never echo unrecognized values. With
  neither (and no ``--base-url``), or with ``--demo``, the embedded FakeCarrierX answers
  and stderr says once, before any output, that these are demo numbers. Usage errors
  (a bad DID_SID included) are found before the demo server starts.
- Output: a table when stdout is a terminal, jsonl otherwise. jsonl, json and csv are
  written and flushed page by page, never buffered whole; a table must be measured, so it
  is printed at the end. At most 20 numbers in every format (a pipe to the real API would
  otherwise walk the whole inventory); ``--max N`` or ``--all`` say otherwise, and stderr
  says when the default cut the output short.
- Ctrl-C or a failure mid-search still prints what was fetched as complete output (the
  table, a closed JSON array), says on stderr that it is incomplete, then exits 130 (or
  the failure's code). Ctrl-C anywhere in main() (reading the token file, starting the
  demo server, waiting for the first page) is one stderr line and 130, never a traceback.
  A SIGINT ignored by the parent (a background job of a script) stays ignored, as POSIX
  shells intend and as Python and asyncio do.
- ``--after CURSOR`` continues a keyset search (``--keyset`` implied) after the number
  where one stopped: a keyset search cut short (``--max``, the default 20, Ctrl-C, a
  failure) ends stderr with ``resume with --after CURSOR``. The cursor belongs to its
  filter flags, order and ``--fields``; with ``--external`` or a repeated filter flag it is
  refused (their searches cannot be continued).
- ``--timeout`` is the deadline of one request, retries and waits included, and also the
  longest silence waited for on a read (the library's default is 20 s); ``--retries``
  the retries after a failed attempt; ``-v`` shows each request, response, retry and wait
  on stderr (the library's log records and the URL as sent; never headers).
- A 429 says how long the server asked to wait.
- Records are decoded (validated), then written with wire names: price as a string,
  capabilities as an int, only the fields the server sent, or exactly ``--fields``.
- ``--country``/``--state``/``--locality`` are upper-cased (the API's values are);
  ``--npa`` (or ``--area-code``) is ``npa eq`` (that area code); ``--prefix 1516`` is
  ``phonenumber like 1516%``;
  ``--like`` without a ``%`` is refused (it would be an exact match, rarely what is meant);
  ``--zip`` and ``--near`` are ``phonenumber nearby`` (API 4.2).
- A table shows prices with at least two decimals; json, jsonl and csv keep the wire text.
  ``get`` writes the same four formats (json as one object, not an array of one).
- Progress (``\\r1,000 numbers...``) goes to stderr only when stderr is a terminal and the
  records are not scrolling past on the same terminal (stdout piped, or a table).
- Every expected failure is one stderr line and an EXIT_* code; a closed stdout pipe ends
  quietly with 0 (the reader stopped: not our failure); Ctrl-C gives 130.
"""

from .commands import (
    DEMO_NOTICE,
    EXIT_AUTH,
    EXIT_BAD_RESPONSE,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_RATE_LIMITED,
    EXIT_USAGE,
    main,
)

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
