"""The Client: configuration, lifecycle and the public calls.

Requests go through ``_transport`` (one GET with retries and a deadline; with this module
the only aiohttp importer) and streams through ``_feed`` (the prefetching feed) and
``_stream`` (the iterators). Everything the client decides is delegated to the pure core
(``_query``, ``_sansio``, ``_retry``, ``_convert``).
"""

from __future__ import annotations

import functools
import os
import urllib.request
import weakref
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self

import aiohttp
from yarl import URL

from ._convert import decode_did
from ._cursor import check_resumable, resume_point
from ._errors import (
    CarrierXError,
    ClientClosedError,
    ConfigurationError,
    ResponseDecodeError,
)
from ._feed import _Feed
from ._filters import Filter
from ._models import AvailableDid
from ._query import (
    Order,
    Pagination,
    build_query,
    check_did_sid,
    check_extra_params,
    field_params,
    validate_fields,
    widen_external_filters,
)
from ._retry import RetryBudget, RetryPolicy
from ._sansio import check_base_url
from ._stream import AvailableDidStream
from ._transport import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_POOL_TIMEOUT,
    Transport,
    _check_seconds,
    _Timeouts,
    _timeouts,
)

__all__ = ["DEFAULT_BASE_URL", "Client"]

#: The production API root: Client's default ``base_url`` (unless CARRIERX_BASE_URL is set).
DEFAULT_BASE_URL: Final = "https://api.carrierx.com/core/v2"
_LIST_PATH: Final = "phonenumber/available_dids"
#: The shortest token accepted: shorter text cannot be told apart from ordinary words in
#: messages, so scrubbing it would mangle them. CarrierX tokens are UUIDs (36 characters).
_MIN_TOKEN: Final = 8


class Client:
    """An async CarrierX Core API v2 client for browsing available phone numbers.

    Use it as ``async with Client(token) as client:`` (or call ``await client.close()``).
    Every argument but ``token`` is keyword-only:

    - ``token``: the Bearer token (8 characters or more); default ``None`` reads
      ``CARRIERX_TOKEN``. It never appears in a repr, message or log record, and is sent
      only to ``base_url``'s origin (never to a redirect target, never to a proxy as the
      proxy's own credential).
    - ``base_url``: the API root, default ``DEFAULT_BASE_URL``
      (``https://api.carrierx.com/core/v2``); plain ``http://`` only for a loopback host.
    - ``session``: an ``aiohttp.ClientSession`` to borrow (never closed, the token never
      set on it); default ``None``: the client makes one and ``close()`` closes it.
    - ``timeout``: seconds for a whole call, retries included; default 30.0.
    - ``connect_timeout``: seconds to connect, per attempt; default 10.0.
    - ``read_timeout``: seconds to wait for each read from the socket; default 20.0.
    - ``max_retries``: retries of a failed attempt (connection errors, timeouts, 408, 429,
      500, 502, 503, 504); default 2.
    - ``prefetch``: pages fetched ahead while records are consumed; default 1 (0: none).
    - ``retry_budget``: a ``RetryBudget`` to share between clients; default ``None`` gives
      this client its own.
    - ``external_filters``: (field, operator) pairs to allow with ``include_external=True``
      beyond ``EXTERNAL_FILTERS``, e.g. ``[("price", "le")]``; default none.
    - ``trace_configs``: ``aiohttp.TraceConfig`` objects for the session the client makes;
      default ``None``.
    - ``max_response_bytes``: the largest response body read (after decompression);
      default 16777216 (16 MiB); a larger one raises ``ResponseTooLargeError``.
    - ``max_concurrency``: requests this client has in flight at once, across all its
      streams and calls (prefetch included); default 8; the rest wait in arrival order.
    - ``pool_timeout``: seconds a request may wait for one of those slots; default 60.0;
      ``None``: as long as it takes. The wait is not part of ``timeout`` (that clock
      measures the server); past it the call raises ``PoolTimeoutError``, unsent.
    - ``proxy``: an ``http://`` (or ``https://``) proxy URL for every request of the
      session the client makes, credentials in the URL if it needs them
      (``http://user:pass@proxy:3128``); default ``None``.
    - ``trust_env``: when no ``proxy`` is given, take it from the environment as aiohttp's
      ``trust_env`` does: ``HTTPS_PROXY`` or ``HTTP_PROXY`` (by ``base_url``'s scheme,
      either case), none if ``NO_PROXY`` lists the API host; read once, here. Unlike
      aiohttp's, ``.netrc`` is not read: the token is the only credential sent. Default
      ``False``.

    Raises ``ConfigurationError`` (a ``CarrierXError`` and a ``ValueError``) at once for a
    missing token (or one shorter than 8 characters, or with a control character), a bad
    base URL, timeouts, ``prefetch``, ``external_filters``, ``max_response_bytes``,
    ``max_concurrency``, ``pool_timeout`` or ``proxy``, or ``trace_configs``, ``proxy`` or
    ``trust_env`` given with a ``session``.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | URL | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        connect_timeout: float = 10.0,
        read_timeout: float = 20.0,
        prefetch: int = 1,
        retry_budget: RetryBudget | None = None,
        external_filters: Iterable[tuple[str, str]] = (),
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        pool_timeout: float | None = DEFAULT_POOL_TIMEOUT,
        proxy: str | URL | None = None,
        trust_env: bool = False,
    ) -> None:
        token = (token if token is not None else os.environ.get("CARRIERX_TOKEN", "")).strip()
        if not token:
            raise ConfigurationError(
                "no CarrierX token: pass Client(token=...) or set the CARRIERX_TOKEN "
                "environment variable"
            )
        bad = next((i for i, c in enumerate(token) if not " " <= c <= "~"), None)
        if bad is not None:  # an HTTP header cannot carry it; never echo the token itself
            raise ConfigurationError(
                f"the token has a control or non-ASCII character at position {bad}"
            )
        if len(token) < _MIN_TOKEN:
            raise ConfigurationError(
                f"the token has {len(token)} characters; a CarrierX token has at least "
                f"{_MIN_TOKEN} (they are UUIDs)"
            )
        for name, value in (
            ("max_response_bytes", max_response_bytes),
            ("max_concurrency", max_concurrency),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be a whole number >= 1, got {value!r}")
        if base_url is None:
            base_url = os.environ.get("CARRIERX_BASE_URL", "").strip() or DEFAULT_BASE_URL
        base = check_base_url(base_url)
        timeouts = _timeouts(timeout, connect_timeout, read_timeout, ConfigurationError)
        _check_prefetch(prefetch, ConfigurationError)
        policy = RetryPolicy(max_retries=max_retries)
        external = widen_external_filters(external_filters)
        if pool_timeout is not None:
            _check_seconds("pool_timeout", pool_timeout, ConfigurationError)
        own = [
            name
            for name, value in (
                ("trace_configs", trace_configs),
                ("proxy", proxy),
                ("trust_env", trust_env),
            )
            if value
        ]
        if session is not None and own:
            raise ConfigurationError(
                f"{' and '.join(own)} apply to a session the client creates; set them on "
                "the session you pass instead"
            )
        if proxy is None and trust_env:
            proxy = _env_proxy(base)
        self._base_url = base
        self._list_url = base / _LIST_PATH
        self._timeouts = timeouts
        self._external_filters = external
        self._prefetch = prefetch
        self._transport = Transport(
            token,
            session=session,
            trace_configs=trace_configs or (),
            policy=policy,
            budget=retry_budget if retry_budget is not None else RetryBudget(),
            max_response_bytes=max_response_bytes,
            max_concurrency=max_concurrency,
            pool_timeout=pool_timeout,
            proxy=None if proxy is None else _check_proxy(proxy),
        )
        self._feeds: weakref.WeakSet[_Feed[Any]] = weakref.WeakSet()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<Client base_url={str(self._base_url)!r}{state}>"

    @property
    def base_url(self) -> URL:
        """The API root every request goes to."""
        return self._base_url

    @property
    def closed(self) -> bool:
        """True once close() has been called."""
        return self._transport.closed

    async def __aenter__(self) -> Self:
        self._transport.ensure_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop open streams and close the session if this client created it."""
        if self._transport.closed:
            return
        self._transport.closed = True
        self._transport.wake_all()
        for feed in list(self._feeds):
            await feed.aclose(ClientClosedError("the Client was closed while this stream was open"))
        await self._transport.close_session()

    def available_dids(
        self,
        *,
        filter: Filter | str | None = None,
        order: Order | None = None,
        page_size: int | None = None,
        max_items: int | None = None,
        include_fields: Iterable[Any] | None = None,
        exclude_fields: Iterable[Any] | None = None,
        include_external: bool = False,
        pagination: Pagination = "offset",
        prefetch: int | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        extra_params: Mapping[str, str | int | bool] | None = None,
        after: str | None = None,
    ) -> AvailableDidStream:
        """Stream the available DIDs matching a query; no I/O until iterated.

        ``async for did in client.available_dids(filter=F.state == "NY"): ...`` yields
        ``AvailableDid`` records; ``.pages()`` and ``.dicts()`` give pages or plain dicts.
        Every argument is keyword-only:

        - ``filter``: a ``Filter`` (``F.<field>`` operators, ``Filter.nearby``,
          ``Filter.raw``) or filter text, checked by ``parse_filter``; default ``None``:
          every number. A ``|`` filter runs one request stream per alternative, merged
          without duplicates.
        - ``order``: ``"<field>"``, ``"<field> asc"``, ``"<field> desc"`` or ``"shuffle"``
          (typed as the ``Order`` literal, so mypy flags a misspelt field; text computed at
          run time: ``typing.cast(Order, text)``, still checked); default ``None``: the
          server's order.
        - ``page_size``: records per request, 1..1000; default ``None``: 1000 (10 with
          ``include_external``).
        - ``max_items``: stop after this many records; default ``None``: read to the end.
        - ``include_fields``: DID field names (or ``F.<field>``) to keep; default ``None``.
        - ``exclude_fields``: DID field names to drop; default ``None``. Not both.
        - ``include_external``: also search external providers; default ``False``. Needs a
          ``country_code`` eq condition, at most 10 records, no paging.
        - ``pagination``: ``"offset"`` (default: counts offsets and heals itself while
          numbers are rented and added) or ``"keyset"`` (seeks past the last phonenumber
          in phonenumber order: exactly once however the inventory changes; README, "Live
          inventory").
        - ``prefetch``: pages fetched ahead for this stream; default ``None``: the client's.
        - ``timeout``: seconds for each request, retries included; default ``None``: the
          client's.
        - ``connect_timeout``: seconds to connect; default ``None``: the client's.
        - ``read_timeout``: seconds per socket read; default ``None``: the client's.
        - ``extra_params``: more query arguments sent on every request as written (``str``,
          ``int`` or ``bool`` values), for arguments the client does not know; default
          ``None``.
        - ``after``: a ``stream.cursor`` to continue after (keyset mode only, one
          alternative); default ``None``: from the start.

        Raises, before any request: ``FilterError`` for a bad ``filter`` (or one
        ``include_external`` cannot search); ``ConfigurationError`` for any other bad
        argument, including an ``extra_params`` key the client sends itself (``limit``,
        ``offset``, ``filter``, ``order``, ``include_fields``, ``exclude_fields``,
        ``include_external``) and an ``after`` that is not this query's cursor or cannot
        resume it; ``ClientClosedError`` on a closed client. While iterating:
        ``APIError`` subclasses for error answers, ``APIConnectionError`` or
        ``APITimeoutError``, ``ResponseDecodeError``, ``PaginationError``.
        """
        if self.closed:
            raise ClientClosedError("this Client is closed; create a new one")
        if after is not None:
            check_resumable(pagination=pagination, include_external=include_external)
        query = build_query(
            filter=filter,
            order=order,
            page_size=page_size,
            max_items=max_items,
            include_fields=include_fields,
            exclude_fields=exclude_fields,
            include_external=include_external,
            external_filters=self._external_filters,
            extra_params=extra_params,
            pagination=pagination,
        )
        if prefetch is not None:
            _check_prefetch(prefetch, ConfigurationError)
        timeouts = self._call_timeouts(timeout, connect_timeout, read_timeout)
        queries = (
            [query.with_filter(alt) for alt in query.filter.alternatives()]
            if query.filter is not None
            else [query]
        )
        fingerprint, key = resume_point(queries, after)
        return AvailableDidStream(
            self._transport,
            self._list_url,
            self._feeds,
            queries,
            prefetch=self._prefetch if prefetch is None else prefetch,
            timeouts=timeouts,
            after=key,
            fingerprint=fingerprint,
        )

    async def get_available_did(
        self,
        did_sid: str,
        *,
        include_fields: Iterable[Any] | None = None,
        exclude_fields: Iterable[Any] | None = None,
        timeout: float | None = None,
        extra_params: Mapping[str, str | int | bool] | None = None,
    ) -> AvailableDid:
        """Fetch one available DID by its SID (``GET /phonenumber/available_dids/{did_sid}``).

        - ``did_sid``: the number's SID (hex digits and ``-``).
        - ``include_fields``: DID field names (or ``F.<field>``) to keep; default ``None``.
        - ``exclude_fields``: DID field names to drop; default ``None``. Not both.
        - ``timeout``: seconds for the call, retries included; default ``None``: the
          client's.
        - ``extra_params``: more query arguments sent as written, as for
          ``available_dids``; default ``None``.

        Raises ``ConfigurationError`` before the request for a bad SID, field list, timeout or an
        ``extra_params`` key the client owns; ``ClientClosedError`` on a closed client;
        ``NotFoundError`` when no available number has that SID; other ``APIError``
        subclasses, ``APIConnectionError`` or ``APITimeoutError``, ``ResponseDecodeError``.
        """
        check_did_sid(did_sid)
        include, exclude = validate_fields(include_fields, exclude_fields)
        extra = check_extra_params(extra_params)
        return await self._transport.get_json(
            self._list_url / did_sid,
            field_params(include, exclude) | dict(extra),
            self._call_timeouts(timeout, None, None),
            functools.partial(
                _decode_one,
                keyed="did_sid" not in (exclude or ())
                and (include is None or "did_sid" in include),
            ),
        )

    def _call_timeouts(
        self, timeout: float | None, connect_timeout: float | None, read_timeout: float | None
    ) -> _Timeouts:
        """The client's time limits with one call's overrides (a bad value:
        ConfigurationError)."""
        base = self._timeouts
        if timeout is None and connect_timeout is None and read_timeout is None:
            return base
        return _timeouts(
            base.deadline if timeout is None else timeout,
            base.attempt.sock_connect if connect_timeout is None else connect_timeout,
            base.attempt.sock_read if read_timeout is None else read_timeout,
            ConfigurationError,
        )


async def _decode_one(data: Any, *, keyed: bool) -> AvailableDid:
    """One DID object; a list envelope, or an object without ``did_sid`` when field
    filtering kept it, is not one (an error body answered with a 2xx, for instance)."""
    if isinstance(data, dict) and "items" in data and isinstance(data["items"], list):
        raise ResponseDecodeError("expected one DID object, got a list envelope", status=200)
    if keyed and not (isinstance(data, dict) and isinstance(data.get("did_sid"), str)):
        raise ResponseDecodeError("expected a DID object with a 'did_sid'", status=200)
    return decode_did(data)


def _check_proxy(proxy: str | URL) -> URL:
    """A proxy URL aiohttp can use; the message never shows it (it may hold a password)."""
    url = URL(proxy)
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"proxy must be an http:// or https:// URL with a host, got scheme {url.scheme!r}"
        )
    return url


def _env_proxy(base: URL) -> str | None:
    """The proxy aiohttp's trust_env would pick for ``base`` from the environment."""
    if base.host is None or urllib.request.proxy_bypass(base.host):
        return None
    return urllib.request.getproxies().get(base.scheme)


def _check_prefetch(value: Any, exc: type[CarrierXError]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise exc(f"prefetch must be a whole number >= 0, got {value!r}")
