"""Output for ``carrierx-dids``: records as jsonl, json, csv or a table, and progress on stderr."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final, TextIO

from .._models import DID_FIELDS_ORDER, AvailableDid, Capability
from .arguments import PROG, OutputFormat
from .values import MMS, SMS

_TABLE_COLUMNS: Final = (
    ("phonenumber", "PHONENUMBER"),
    ("international_format", "INTERNATIONAL"),
    ("locality", "LOCALITY"),
    ("state", "STATE"),
    ("country_code", "COUNTRY"),
    ("capabilities", "CAPABILITIES"),
    ("price", "PRICE"),
)
_RIGHT_ALIGNED: Final = frozenset({"price"})
_CAPABILITY_FIELDS: Final = frozenset({"capabilities", "active_capabilities"})


# --- output ---


def _note(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _caps_text(mask: Capability) -> str:
    """``Capability(7)`` -> ``voice,sms``."""
    parts = ["voice"] if Capability.VOICE in mask else []
    for name, both, inbound in (("sms", SMS, Capability.SMS_IN), ("mms", MMS, Capability.MMS_IN)):
        bits = mask & both
        if bits == both:
            parts.append(name)
        elif bits:
            parts.append(f"{name}_in" if bits == inbound else f"{name}_out")
    return ",".join(parts) or "none"


def _record(did: AvailableDid, fields: Sequence[str] | None) -> dict[str, Any]:
    """Wire names and JSON values (``to_dict``): only the fields sent, or exactly ``fields``."""
    if fields is None:
        return did.to_dict()
    values = did.to_dict(all_fields=True)
    return {name: values[name] for name in fields}


def _text_value(value: Any) -> str:
    """A JSON value as one csv or table cell."""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else str(value)


def _price_text(price: Decimal) -> str:
    """At least two decimals (``1.00``, ``2.50``, ``0.60``), more only when the price has them."""
    exponent = price.as_tuple().exponent
    return format(price, ".2f" if isinstance(exponent, int) and exponent >= -2 else "f")


def _cell(name: str, value: Any) -> str:
    """A table cell: readable capabilities and prices, '-' for missing, no control characters."""
    if value is None:
        return "-"
    if name in _CAPABILITY_FIELDS:
        text = _caps_text(value)
    elif isinstance(value, Decimal):
        text = _price_text(value)
    else:
        text = _text_value(value)
    return "".join(c if c.isprintable() else "?" for c in text)


def _table(rows: list[list[str]], right: Sequence[bool]) -> str:
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    return "".join(
        "  ".join(
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)
        ).rstrip()
        + "\n"
        for row in rows
    )


class _Writer:
    """Writes search results in one format; ``add`` is called once per page."""

    def __init__(self, out: TextIO, fields: Sequence[str] | None) -> None:
        self.out = out
        self.fields = fields
        self.count = 0

    def add(self, dids: Sequence[AvailableDid]) -> None:
        """Write (or, for a table, keep) these records."""
        self.count += len(dids)

    def finish(self, *, quiet: bool = False) -> None:
        """Write what closes the output (``quiet``: no note when there is nothing)."""


class _JsonLines(_Writer):
    def add(self, dids: Sequence[AvailableDid]) -> None:
        super().add(dids)
        self.out.writelines(json.dumps(_record(d, self.fields)) + "\n" for d in dids)


class _JsonArray(_Writer):
    def add(self, dids: Sequence[AvailableDid]) -> None:
        for d in dids:
            self.out.write(
                ("[\n" if self.count == 0 else ",\n") + json.dumps(_record(d, self.fields))
            )
            self.count += 1

    def finish(self, *, quiet: bool = False) -> None:
        self.out.write("[]\n" if self.count == 0 else "\n]\n")


class _Csv(_Writer):
    def __init__(self, out: TextIO, fields: Sequence[str] | None) -> None:
        super().__init__(out, fields)
        self.columns = list(fields or DID_FIELDS_ORDER)
        self.csv = csv.writer(out, lineterminator="\n")
        self.started = False

    def _header(self) -> None:
        if not self.started:
            self.csv.writerow(self.columns)
            self.started = True

    def add(self, dids: Sequence[AvailableDid]) -> None:
        super().add(dids)
        self._header()
        rows = (d.to_dict(all_fields=True) for d in dids)
        self.csv.writerows([_text_value(row[c]) for c in self.columns] for row in rows)

    def finish(self, *, quiet: bool = False) -> None:
        self._header()


class _Table(_Writer):
    def __init__(self, out: TextIO, fields: Sequence[str] | None) -> None:
        super().__init__(out, fields)
        self.columns = list(_TABLE_COLUMNS) if fields is None else [(f, f.upper()) for f in fields]
        self.rows = [[title for _, title in self.columns]]

    def add(self, dids: Sequence[AvailableDid]) -> None:
        super().add(dids)
        self.rows.extend([_cell(n, getattr(d, n)) for n, _ in self.columns] for d in dids)

    def finish(self, *, quiet: bool = False) -> None:
        if self.count == 0:
            if not quiet:
                _note("no available numbers match")
            return
        self.out.write(_table(self.rows, [n in _RIGHT_ALIGNED for n, _ in self.columns]))


_WRITERS: Final[dict[OutputFormat, type[_Writer]]] = {
    "table": _Table,
    "json": _JsonArray,
    "jsonl": _JsonLines,
    "csv": _Csv,
}


class _Progress:
    """``\\r1,000 numbers...`` on stderr while a long stream runs."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False

    def show(self, count: int) -> None:
        if self.enabled:
            sys.stderr.write(f"\r{count:,} numbers...")
            sys.stderr.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False
