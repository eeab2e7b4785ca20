"""``FakeCarrierX``: the ``aiohttp.web`` app on 127.0.0.1 that plays the CarrierX API.
Its routes, Bearer auth, the list envelope and the by-SID lookup, the fault queue
(``add_fault``) and how each fault changes a response, the external-provider numbers of
``include_external=true``, and the request log (``RecordedRequest``). The numbers come from
``inventory.py``, the query from ``arguments.py`` and the faults from ``faults.py``; the
package docstring lists what is simulated and what is assumed.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final, Self

import attrs
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from .arguments import _BadRequest, _error_body, _kept_fields, _list_args, _ListArgs
from .churn import apply_churn
from .faults import (
    Churn,
    Delay,
    Disconnect,
    EmptyHasMore,
    Fault,
    ForeignNext,
    HtmlPage,
    MalformedJson,
    Raw,
    Reset,
    SlowDrip,
    Status,
    Stuck,
    Truncated,
)
from .fields import shape
from .inventory import _Inventory, _InventoryView
from .selection import EXTERNAL_MAX, external, select

_BASE_PATH: Final = "/core/v2"


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request the fake received (the Authorization value is redacted)."""

    method: str
    path: str
    query: MultiDictProxy[str]
    headers: CIMultiDictProxy[str]
    authorized: bool
    fault: Fault | None = None


@attrs.define
class _Pending:
    fault: Fault
    times: int
    path: str | None


class FakeCarrierX:
    """A local fake of CarrierX's available-DIDs API, with scriptable faults.

    ``inventory``, when given, replaces the generated numbers (``size`` is then ignored):
    complete wire DID dicts, served in that order, such as ``did_record(state="NY")`` builds.
    """

    def __init__(
        self,
        *,
        token: str = "test-token",
        size: int = 3000,
        seed: int = 7,
        latency: float = 0.0,
        inventory: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.token = token
        self.seed = seed
        self.latency = latency
        self._inv = _Inventory(seed, size, inventory)
        #: The available records (wire dicts), a live read-only view.
        self.inventory: Sequence[dict[str, Any]] = _InventoryView(self._inv)
        #: Every request received, in order.
        self.requests: list[RecordedRequest] = []
        self._faults: list[_Pending] = []
        self._added = 0
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """The API root to give a client, e.g. ``http://127.0.0.1:PORT/core/v2``."""
        if self._base_url is None:
            raise RuntimeError("FakeCarrierX is not running; use 'async with' or start()")
        return self._base_url

    async def start(self) -> None:
        """Start serving on 127.0.0.1 on a free port."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get(_BASE_PATH + "/phonenumber/available_dids", self._handle_list)
        app.router.add_get(_BASE_PATH + "/dids/inventory", self._handle_list)
        app.router.add_get(_BASE_PATH + "/phonenumber/available_dids/{did_sid}", self._handle_one)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.25
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._base_url = f"http://{host}:{port}{_BASE_PATH}"

    async def close(self) -> None:
        """Stop serving; in-flight requests are cut off."""
        runner, self._runner, self._base_url = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def add_fault(self, fault: Fault, *, times: int = 1, path: str | None = None) -> None:
        """Apply ``fault`` to the next ``times`` requests (to ``path`` only, if given)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(_Pending(fault, times, path))

    def remove(self, *did_sids: str) -> int:
        """Take numbers out of the inventory (as if rented); returns how many were there."""
        found = [i for sid in did_sids if (i := self._inv.find(sid)) is not None]
        for i in found:
            self._inv.remove(i)
        return len(found)

    # -- internals ------------------------------------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        for pending in self._faults:
            if pending.path is None or path in (pending.path, _BASE_PATH + pending.path):
                pending.times -= 1
                if pending.times == 0:
                    self._faults.remove(pending)
                return pending.fault
        return None

    async def _begin(self, request: web.Request) -> tuple[Fault | None, bool]:
        """Record the request, take its fault, apply latency."""
        fault = self._take_fault(request.path)
        authorized = request.headers.get("Authorization") == f"Bearer {self.token}"
        headers = CIMultiDict(request.headers)
        if "Authorization" in headers:
            headers["Authorization"] = "<redacted>"
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=MultiDictProxy(MultiDict(request.query)),
                headers=CIMultiDictProxy(headers),
                authorized=authorized,
                fault=fault,
            )
        )
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if isinstance(fault, Delay):
            await asyncio.sleep(fault.seconds)
        return fault, authorized

    async def _handle_list(self, request: web.Request) -> web.StreamResponse:
        fault, authorized = await self._begin(request)
        if (early := self._early(request, fault)) is not None:
            return early
        try:
            if not authorized:
                return self._unauthorized()
            args = _list_args(request.query)
            keep = _kept_fields(request.query)
        except _BadRequest as exc:
            return self._bad_request(exc)
        if isinstance(fault, Stuck):
            args = attrs.evolve(args, offset=0)
        if isinstance(fault, EmptyHasMore):
            items: list[dict[str, Any]] = []
            has_more = True
        else:
            items, has_more = self._page(args)
        count = len(items)
        pagination: dict[str, str] = {}
        if has_more:
            next_url = request.url.update_query(offset=str(args.offset + count))
            pagination["next"] = str(next_url)
            if isinstance(fault, ForeignNext):
                pagination["next"] = fault.origin.rstrip("/") + next_url.raw_path_qs
        envelope = {
            "count": count,
            "has_more": has_more,
            "items": [shape(r, keep) for r in items],
            "limit": args.limit,
            "offset": args.offset,
            "pagination": pagination,
            "total": None,  # always null on available_dids (4.5)
        }
        if isinstance(fault, Churn):
            self._churn(fault, args)
        return await self._send(request, fault, 200, json.dumps(envelope).encode())

    def _churn(self, fault: Churn, args: _ListArgs) -> None:
        """Rent and add numbers where ``fault.at`` says (see ``Churn`` and ``churn.py``)."""
        stop = args.offset + args.limit  # the part of the result set served so far
        self._added = apply_churn(
            self._inv,
            fault,
            served=lambda: select(self._inv, attrs.evolve(args, offset=0, limit=stop))[0],
            request_no=len(self.requests),
            added=self._added,
        )

    def add(self, *records: Mapping[str, Any], at: int | None = None) -> int:
        """Add numbers to the inventory (as if released), before position ``at``
        (default: the end); returns the inventory size. Records are complete wire
        dicts such as ``did_record()`` builds, with a did_sid not already present."""
        k = len(self._inv) if at is None else at
        self._inv.insert([(k, r) for r in records])
        return len(self._inv)

    async def _handle_one(self, request: web.Request) -> web.StreamResponse:
        fault, authorized = await self._begin(request)
        if (early := self._early(request, fault)) is not None:
            return early
        try:
            if not authorized:
                return self._unauthorized()
            keep = _kept_fields(request.query)
        except _BadRequest as exc:
            return self._bad_request(exc)
        i = self._inv.find(request.match_info["did_sid"])
        if i is None:
            body = _error_body("not found", "did_sid", "Cannot find item by SID")
            return await self._send(request, fault, 404, body)
        body = json.dumps(shape(self._inv.wire(i), keep)).encode()
        return await self._send(request, fault, 200, body)

    async def _handle_unknown(self, request: web.Request) -> web.StreamResponse:
        fault, _ = await self._begin(request)
        if (early := self._early(request, fault)) is not None:
            return early
        return await self._send(request, fault, 404, _error_body("not found", None))

    def _unauthorized(self) -> web.Response:
        body = _error_body("authentication required", None, "bad credentials")
        return web.Response(status=401, body=body, content_type="application/json")

    def _bad_request(self, exc: _BadRequest) -> web.Response:
        body = _error_body("invalid query argument", exc.field, exc.message)
        return web.Response(status=400, body=body, content_type="application/json")

    def _early(self, request: web.Request, fault: Fault | None) -> web.StreamResponse | None:
        """Faults that replace the response entirely."""
        match fault:
            case Status(status=status, retry_after=retry_after, message=message):
                headers = {} if retry_after is None else {"Retry-After": retry_after}
                return web.Response(
                    status=status,
                    body=_error_body(message),
                    content_type="application/json",
                    headers=headers,
                )
            case MalformedJson(body=body):
                return web.Response(status=200, body=body, content_type="application/json")
            case HtmlPage(status=status):
                html = f"<html><body><h1>{status} {HTTPStatus(status).phrase}</h1></body></html>"
                return web.Response(status=status, text=html, content_type="text/html")
            case Raw(body=body, status=status, content_type=content_type):
                return web.Response(status=status, body=body, content_type=content_type)
            case Disconnect():
                if request.transport is not None:
                    request.transport.close()
                return web.Response()  # aiohttp drops it: the transport is gone
        return None

    async def _send(
        self, request: web.Request, fault: Fault | None, status: int, body: bytes
    ) -> web.StreamResponse:
        """Deliver a JSON body, as the transport faults dictate."""
        if not isinstance(fault, SlowDrip | Truncated | Reset):
            return web.Response(status=status, body=body, content_type="application/json")
        response = web.StreamResponse(status=status)
        response.content_type = "application/json"
        response.content_length = len(body)
        await response.prepare(request)
        if isinstance(fault, SlowDrip):
            for start in range(0, len(body), max(1, fault.chunk_size)):
                await asyncio.sleep(fault.interval)
                await response.write(body[start : start + max(1, fault.chunk_size)])
            await response.write_eof()
            return response
        await response.write(body[: int(len(body) * fault.fraction)])
        transport = request.transport
        if transport is not None:
            if isinstance(fault, Reset):
                await asyncio.sleep(0.01)  # let the client read the headers first
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                transport.abort()
            else:
                transport.close()
        return response  # aiohttp's write_eof then fails quietly: the transport is gone

    def _page(self, args: _ListArgs) -> tuple[list[dict[str, Any]], bool]:
        """The page's wire dicts and has_more. With include_external=true (4.1), when the
        internal matches fall short of ``limit``, up to 10 external numbers follow them:
        the page can hold more than ``limit`` records."""
        indices, has_more = select(self._inv, args)
        items = [self._inv.wire(i) for i in indices]
        if args.external and args.filter is not None and len(items) < args.limit:
            extra = external(self.seed, args.filter, EXTERNAL_MAX)
            items += extra
            has_more = has_more or bool(extra)
        return items, has_more
