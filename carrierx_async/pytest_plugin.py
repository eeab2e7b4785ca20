"""pytest plugin: the ``carrierx_fake`` fixture, registered when carrierx_async is installed.

Installing carrierx_async registers this module (entry point ``pytest11``), so every pytest
run in that environment imports it. It therefore imports only pytest and this package,
never warns, and imports pytest-asyncio (and the fake server) only when they are used:
without an active pytest-asyncio, requesting an async fixture fails with a clear message.

Set up your project first (the ``testing`` extra installs pytest and pytest-asyncio):

- ``asyncio_default_fixture_loop_scope = "function"`` under ``[tool.pytest.ini_options]`` in
  pyproject.toml (or under ``[pytest]`` in pytest.ini): while it is unset, pytest-asyncio
  warns on every run.
- Mark async tests with ``pytest.mark.asyncio`` (``pytestmark = pytest.mark.asyncio`` for a
  module), or set ``asyncio_mode = "auto"``.

Fixtures:

- ``carrierx_fake``: a running ``FakeCarrierX`` and a default ``Client`` for it, as a
  `CarrierXFake`: ``.client``, ``.token``, ``.base_url``, ``.requests`` (every request the
  server received), ``.inventory``, ``.add_fault(fault, times=1)``, ``.remove(*sids)``,
  ``.add(*records, at=None)``. The client keeps the default retries (real backoff, so give
  ``Status`` faults ``retry_after="0"``); ``carrierx_fake.make_client(max_retries=0)``
  gives one that fails at once, closed after the test like the rest.
- ``carrierx_fake_options``: the ``FakeCarrierX`` arguments (``size``, ``seed``,
  ``inventory``, ``token``, ``latency``), ``{}`` unless overridden in a conftest.py or by
  ``@pytest.mark.parametrize("carrierx_fake_options", [...])``. The
  ``@pytest.mark.carrierx_fake(size=20)`` marker (closest wins) updates them. To serve
  numbers of your own, build them with ``carrierx_async.testing.did_record`` (a complete DID
  object from a few fields):
  ``@pytest.mark.carrierx_fake(inventory=[did_record(state="NY", price="0.5"), ...])``.
- ``carrierx_fake_factory``: ``await carrierx_fake_factory(seed=3)`` starts another one.

The async fixtures run in the event loop pytest-asyncio gives fixtures
(``asyncio_default_fixture_loop_scope``); tests that use them must run in that loop
(by default both get one loop per test function).

Why a fake server rather than a mock: it speaks real HTTP on 127.0.0.1, so a test runs the
real client (URLs, retries, timeouts, paging, decoding) and fails where production would.
Libraries that patch aiohttp's internals break when those change; ``aioresponses`` (0.7.9)
fails with aiohttp 3.14 (``ClientResponse.__init__() missing 1 required keyword-only
argument: 'stream_writer'``). Outside pytest, ``async with FakeCarrierX() as fake:`` and
``Client(fake.token, base_url=fake.base_url)`` do the same (``carrierx_async.testing``).
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NoReturn

import pytest

from ._client import Client

if TYPE_CHECKING:
    from .testing import FakeCarrierX, Fault, RecordedRequest

__all__ = ["OPTION_NAMES", "CarrierXFake", "FakeFactory"]

#: Keyword arguments of FakeCarrierX that the options fixture and the marker accept.
OPTION_NAMES: Final = frozenset({"inventory", "latency", "seed", "size", "token"})

_MARKER: Final = "carrierx_fake"
_NEEDS_ASYNCIO: Final = (
    "the carrierx_fake fixtures need pytest-asyncio, which is not installed or not enabled: "
    "pip install pytest-asyncio (and do not pass -p no:asyncio)"
)


class CarrierXFake:
    """A running FakeCarrierX and a Client pointed at it: the ``carrierx_fake`` fixture."""

    def __init__(self, server: FakeCarrierX) -> None:
        self.server = server
        self._clients: list[Client] = []
        #: A Client with the default settings (retries included) for this server.
        self.client = self.make_client()

    def __repr__(self) -> str:
        return f"<CarrierXFake base_url={self.server.base_url!r}>"

    @property
    def token(self) -> str:
        """The token the server accepts."""
        return self.server.token

    @property
    def base_url(self) -> str:
        """The server's API root, for a Client or a session of your own."""
        return self.server.base_url

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request the server received, in order (a live list)."""
        return self.server.requests

    @property
    def inventory(self) -> Sequence[dict[str, Any]]:
        """The numbers still available, as wire dicts (a live read-only view)."""
        return self.server.inventory

    def add_fault(self, fault: Fault, *, times: int = 1, path: str | None = None) -> None:
        """Apply ``fault`` to the next ``times`` requests (to ``path`` only, if given)."""
        self.server.add_fault(fault, times=times, path=path)

    def remove(self, *did_sids: str) -> int:
        """Take numbers out of the inventory (as if rented); returns how many were there."""
        return self.server.remove(*did_sids)

    def add(self, *records: Mapping[str, Any], at: int | None = None) -> int:
        """Add numbers (``did_record()`` builds one) before position ``at`` (default: the
        end); returns the inventory size."""
        return self.server.add(*records, at=at)

    def make_client(self, **options: Any) -> Client:
        """Another Client for this server, closed after the test: ``make_client(max_retries=0)``.

        ``options`` are Client arguments; ``token`` and ``base_url`` default to the server's.
        """
        token = options.pop("token", self.token)
        options.setdefault("base_url", self.base_url)
        client = Client(token, **options)
        self._clients.append(client)
        return client

    async def aclose(self) -> None:
        """Close every client made here, then the server."""
        try:
            for client in self._clients:
                await client.close()
        finally:
            await self.server.close()


#: ``carrierx_fake_factory``: ``await factory(**options)`` starts a server and its client.
FakeFactory = Callable[..., Awaitable[CarrierXFake]]


def _fake_options(options: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """Check FakeCarrierX options; TypeError names the unknown ones and the valid ones."""
    if unknown := sorted(set(options) - OPTION_NAMES):
        raise TypeError(
            f"unknown carrierx_fake option {', '.join(map(repr, unknown))} in {source}; "
            f"valid options: {', '.join(sorted(OPTION_NAMES))}"
        )
    return dict(options)


def _marked_options(request: pytest.FixtureRequest, base: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by the carrierx_fake markers on the test, farthest first."""
    options = _fake_options(base, source="carrierx_fake_options")
    for marker in reversed(list(request.node.iter_markers(_MARKER))):
        if marker.args:
            raise TypeError("the carrierx_fake marker takes keyword arguments only")
        options.update(_fake_options(marker.kwargs, source="the carrierx_fake marker"))
    return options


@pytest.fixture
def carrierx_fake_options() -> dict[str, Any]:
    """FakeCarrierX arguments for ``carrierx_fake`` (size, seed, inventory, token, latency).

    ``inventory`` is a list of wire DID dicts: ``[did_record(state="NY"), did_record()]``
    (``carrierx_async.testing.did_record``).
    """
    return {}


async def _carrierx_fake_factory() -> AsyncIterator[FakeFactory]:
    """Start FakeCarrierX servers with their clients: ``await carrierx_fake_factory(seed=3)``."""
    from .testing import FakeCarrierX

    async with contextlib.AsyncExitStack() as stack:

        async def start(**options: Any) -> CarrierXFake:
            server = FakeCarrierX(**_fake_options(options, source="carrierx_fake_factory()"))
            await server.start()
            stack.push_async_callback(server.close)
            fake = CarrierXFake(server)
            stack.push_async_callback(fake.aclose)
            return fake

        yield start


async def _carrierx_fake(
    request: pytest.FixtureRequest,
    carrierx_fake_options: dict[str, Any],
    carrierx_fake_factory: FakeFactory,
) -> CarrierXFake:
    """A running FakeCarrierX and a default Client for it (see carrierx_fake_options)."""
    try:
        options = _marked_options(request, carrierx_fake_options)
    except TypeError as exc:
        problem = str(exc)
    else:
        return await carrierx_fake_factory(**options)
    pytest.fail(problem, pytrace=False)


def _missing_asyncio() -> NoReturn:
    """Stands in for the async fixtures when pytest-asyncio is not active."""
    pytest.fail(_NEEDS_ASYNCIO, pytrace=False)


def _asyncio_active(config: pytest.Config) -> bool:
    plugin = sys.modules.get("pytest_asyncio.plugin")
    return plugin is not None and config.pluginmanager.is_registered(plugin)


def _fixtures(config: pytest.Config) -> types.ModuleType:
    """The async fixtures, or stand-ins that say pytest-asyncio is needed."""
    holder = types.ModuleType(f"{__name__}.fixtures")
    if _asyncio_active(config):
        import pytest_asyncio

        fixtures: dict[str, object] = {
            "carrierx_fake": pytest_asyncio.fixture(_carrierx_fake, name="carrierx_fake"),
            "carrierx_fake_factory": pytest_asyncio.fixture(
                _carrierx_fake_factory, name="carrierx_fake_factory"
            ),
        }
    else:
        fixtures = {
            name: pytest.fixture(_missing_asyncio, name=name)
            for name in ("carrierx_fake", "carrierx_fake_factory")
        }
    vars(holder).update(fixtures)
    return holder


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and the async fixtures (once pytest-asyncio's state is known)."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): FakeCarrierX options for the carrierx_fake fixture "
        f"({', '.join(sorted(OPTION_NAMES))})",
    )
    config.pluginmanager.register(_fixtures(config), f"{__name__}.fixtures")
