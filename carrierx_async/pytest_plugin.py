"""pytest plugin: the ``carrierx_fake`` fixture, registered when carrierx_async is installed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from ._client import Client
from .testing import FakeCarrierX


class CarrierXFake:
    """A running fake server and a Client pointed at it."""

    def __init__(self, server: FakeCarrierX, client: Client) -> None:
        self.server = server
        self.client = client


@pytest_asyncio.fixture
async def carrierx_fake() -> AsyncIterator[CarrierXFake]:
    """A running FakeCarrierX and a matching Client, both closed after the test."""
    async with FakeCarrierX() as server, Client(server.token, base_url=server.base_url) as client:
        yield CarrierXFake(server, client)
