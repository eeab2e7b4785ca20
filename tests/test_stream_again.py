"""A stream is re-iterable: once a walk has ended (its end, an error, aclose()), another
``async for`` walks again from the start with its own stats; after a ``break`` it goes on
where it stopped. Never an empty success (issue 26).

Ground truth: the fake server's own inventory, in its order, and its request log.
"""

import pytest

from carrierx_async import BadRequestError, Client, ClientClosedError
from carrierx_async.testing import FakeCarrierX, Status

TOKEN = "test-token"
SIZE, PAGE = 45, 20  # a few requests a walk


@pytest.fixture
async def fake():
    async with FakeCarrierX(size=SIZE) as fake:
        yield fake


@pytest.fixture
async def client(fake):
    async with Client(TOKEN, base_url=fake.base_url, prefetch=0) as c:
        yield c


def offsets(fake):
    return [int(r.query["offset"]) for r in fake.requests]


async def test_a_second_full_walk_starts_again(client, fake):
    every = [d["did_sid"] for d in fake.inventory]
    stream = client.available_dids(page_size=PAGE)
    first = [d.did_sid async for d in stream]
    assert first == every
    one_walk = offsets(fake)
    assert one_walk[0] == 0
    assert stream.stats.requests == len(one_walk)
    second = [d.did_sid async for d in stream]
    assert second == every
    assert offsets(fake) == one_walk * 2
    assert stream.stats.requests == len(one_walk)  # the second walk's own
    assert stream.stats.records_yielded == SIZE


async def test_after_a_break_the_walk_goes_on_then_starts_again(client, fake):
    every = [d["did_sid"] for d in fake.inventory]
    stream = client.available_dids(page_size=PAGE)
    head = []
    async for did in stream:
        head.append(did.did_sid)
        if len(head) == 5:
            break
    rest = [d.did_sid async for d in stream]
    assert head + rest == every  # nothing lost, nothing twice
    one_walk = offsets(fake)
    assert one_walk[0] == 0
    again = [d.did_sid async for d in stream]
    assert again == every
    assert offsets(fake) == one_walk * 2


async def test_anext_then_async_for_goes_on(client, fake):
    every = [d["did_sid"] for d in fake.inventory]
    stream = client.available_dids(page_size=PAGE)
    first = await anext(stream)
    assert [first.did_sid] + [d.did_sid async for d in stream] == every


async def test_after_aclose_a_new_walk_starts(client, fake):
    every = [d["did_sid"] for d in fake.inventory]
    async with client.available_dids(page_size=PAGE) as stream:
        assert (await anext(stream)).did_sid == every[0]
    assert offsets(fake) == [0]
    assert [d.did_sid async for d in stream] == every
    assert offsets(fake)[:2] == [0, 0]  # the new walk starts at the beginning


async def test_after_an_error_a_new_walk_starts(client, fake):
    every = [d["did_sid"] for d in fake.inventory]
    fake.add_fault(Status(400))
    stream = client.available_dids(page_size=PAGE)
    with pytest.raises(BadRequestError):
        [d async for d in stream]
    assert [d.did_sid async for d in stream] == every


@pytest.mark.parametrize("kind", ["pages", "dicts"])
async def test_pages_and_dicts_iterators_walk_again_too(client, fake, kind):
    every = [d["did_sid"] for d in fake.inventory]
    walk = getattr(client.available_dids(page_size=PAGE), kind)()

    async def sids():
        if kind == "pages":
            return [d.did_sid async for page in walk for d in page.items]
        return [d["did_sid"] async for d in walk]

    assert await sids() == every
    assert await sids() == every


async def test_a_closed_client_says_so_instead_of_walking_nothing(fake):
    async with Client(TOKEN, base_url=fake.base_url) as client:
        stream = client.available_dids(page_size=PAGE)
        assert len([d async for d in stream]) == SIZE
    with pytest.raises(ClientClosedError):
        [d async for d in stream]
