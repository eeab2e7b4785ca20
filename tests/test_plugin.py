"""The pytest plugin: auto-registration (run in a pytester subprocess) and the fixture helpers."""

import importlib.metadata
import subprocess
import sys
from decimal import Decimal

import pytest

from carrierx_async import AuthenticationError, Capability, Client, F, ServerError
from carrierx_async.pytest_plugin import OPTION_NAMES, CarrierXFake, _carrierx_fake_factory
from carrierx_async.testing import FakeCarrierX, Status, did_record

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

USER_TEST = """
from carrierx_async.testing import Status


async def test_my_search_survives_a_503(carrierx_fake):
    carrierx_fake.add_fault(Status(503, retry_after="0"))
    client = carrierx_fake.client
    numbers = [d async for d in client.available_dids(filter="state eq NY", max_items=3)]
    assert [d.state for d in numbers] == ["NY"] * 3
    assert len(carrierx_fake.requests) == 2
"""


@pytest.fixture
def user_project(pytester):
    pytester.makeini(INI)
    pytester.makepyfile(test_user=USER_TEST)
    return pytester


# -- in a user's project (subprocess: a fresh interpreter, plugins from entry points) ------


def test_entry_point_names_this_module():
    eps = importlib.metadata.entry_points(group="pytest11")
    assert [ep.value for ep in eps if ep.name == "carrierx_async"] == [
        "carrierx_async.pytest_plugin"
    ]


def test_a_users_test_gets_the_fixture_without_any_setup(user_project):
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "carrierx_async" in result.stdout.str()  # listed among the plugins


def test_the_fixture_comes_from_the_entry_point(user_project):
    result = user_project.runpytest_subprocess("-p", "no:carrierx_async")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'carrierx_fake' not found*"])


def test_strict_mode_with_the_asyncio_marker(pytester):
    pytester.makeini(INI.replace("auto", "strict"))
    pytester.makepyfile(
        test_user=USER_TEST.replace(
            "\nasync def", "\nimport pytest\n\n@pytest.mark.asyncio\nasync def"
        )
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_markers_options_and_factory_in_a_users_project(pytester):
    pytester.makeini(INI + "addopts = --strict-markers\n")
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def carrierx_fake_options():
            return {"size": 40, "token": "conftest-token"}
        """
    )
    pytester.makepyfile(
        test_user="""
        import pytest
        from carrierx_async.testing import did_record

        pytestmark = pytest.mark.carrierx_fake(seed=11)

        async def test_conftest_and_module_marker(carrierx_fake):
            assert len(carrierx_fake.inventory) == 40
            assert carrierx_fake.token == "conftest-token"
            assert carrierx_fake.server.seed == 11

        @pytest.mark.carrierx_fake(size=5)
        async def test_closest_marker_wins(carrierx_fake):
            assert (len(carrierx_fake.inventory), carrierx_fake.server.seed) == (5, 11)

        @pytest.mark.carrierx_fake(inventory=[])
        async def test_explicit_inventory(carrierx_fake):
            assert [d async for d in carrierx_fake.client.available_dids()] == []

        @pytest.mark.carrierx_fake(inventory=[did_record(state="NY", price="0.5"), did_record()])
        async def test_did_record_inventory(carrierx_fake):
            cheap = [d async for d in carrierx_fake.client.available_dids(filter="price lt 0.6")]
            assert [d.did_sid for d in cheap] == [carrierx_fake.inventory[0]["did_sid"]]
            assert len(carrierx_fake.inventory) == 2

        async def test_factory(carrierx_fake_factory):
            one, two = await carrierx_fake_factory(seed=1), await carrierx_fake_factory(seed=2)
            assert one.base_url != two.base_url
            assert one.inventory[0] != two.inventory[0]

        @pytest.mark.carrierx_fake(sise=5)
        async def test_typo(carrierx_fake):
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines(
        ["*unknown carrierx_fake option 'sise' in the carrierx_fake marker; valid options: *"]
    )
    assert "Traceback" not in result.stdout.str()


def test_without_pytest_asyncio_nothing_breaks_until_the_fixture_is_used(pytester, monkeypatch):
    # pytest-asyncio neither enabled nor importable: a stub shadows it.
    blocker = pytester.mkdir("blocked")
    blocker.joinpath("pytest_asyncio.py").write_text("raise ImportError('blocked by the test')\n")
    monkeypatch.setenv("PYTHONPATH", str(blocker))
    monkeypatch.setenv("PYTHONWARNINGS", "error")  # any warning at import time is fatal
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(
        test_user="""
        import sys

        def test_plain_tests_run():
            assert "carrierx_async.pytest_plugin" in sys.modules
            assert "pytest_asyncio" not in sys.modules
            assert "carrierx_async.testing" not in sys.modules  # imported only when used

        async def test_uses_the_fixture(carrierx_fake):
            pass

        def test_uses_the_factory(carrierx_fake_factory):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:asyncio")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*the carrierx_fake fixtures need pytest-asyncio*"] * 2)
    assert "Traceback" not in result.stdout.str()


def test_importing_the_plugin_alone_is_silent(pytester):
    blocker = pytester.mkdir("blocked")
    blocker.joinpath("pytest_asyncio.py").write_text("raise ImportError('blocked by the test')\n")
    code = (
        "import sys, carrierx_async.pytest_plugin; "
        "assert 'pytest_asyncio' not in sys.modules and 'aiohttp.web' not in sys.modules"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(blocker)},
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_marker_is_registered(pytester):
    pytester.makeini(INI)
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.carrierx_fake(**options): FakeCarrierX options*"])


# -- the fixtures here (this suite has the plugin installed too) --------------------------


async def test_fixture_delegates_to_the_server(carrierx_fake):
    assert isinstance(carrierx_fake, CarrierXFake)
    assert isinstance(carrierx_fake.server, FakeCarrierX)
    assert str(carrierx_fake.client.base_url) == carrierx_fake.base_url
    assert carrierx_fake.requests is carrierx_fake.server.requests
    first = carrierx_fake.inventory[0]
    assert carrierx_fake.remove(first["did_sid"]) == 1
    assert carrierx_fake.inventory[0] != first
    size = len(carrierx_fake.inventory)
    assert carrierx_fake.add(first, at=size) == size + 1  # released again, at the end
    assert carrierx_fake.inventory[-1] == first
    carrierx_fake.add_fault(Status(418), path="/nowhere")
    carrierx_fake.add_fault(Status(503, retry_after="0"), times=2)
    did = await anext(carrierx_fake.client.available_dids())
    assert did.did_sid == carrierx_fake.inventory[0]["did_sid"]
    faults = [r.fault for r in carrierx_fake.requests]
    # Two faulted attempts, the page; then perhaps the prefetched next page, unfaulted.
    assert faults[:3] == [Status(503, retry_after="0")] * 2 + [None]
    assert faults[3:] in ([], [None])


async def test_default_client_keeps_default_retries_and_make_client_overrides(carrierx_fake):
    carrierx_fake.add_fault(Status(503, retry_after="0"), times=5)
    quick = carrierx_fake.make_client(max_retries=0)
    with pytest.raises(ServerError) as info:
        await anext(quick.available_dids())
    assert info.value.attempts == 1
    with pytest.raises(ServerError) as info:
        await anext(carrierx_fake.client.available_dids())
    assert info.value.attempts == 3  # max_retries=2, the Client default


@pytest.mark.carrierx_fake(size=7, seed=5, token="marker-token")
async def test_marker_options(carrierx_fake):
    assert len(carrierx_fake.inventory) == 7
    assert (carrierx_fake.server.seed, carrierx_fake.token) == (5, "marker-token")
    assert len([d async for d in carrierx_fake.client.available_dids()]) == 7


@pytest.mark.parametrize("carrierx_fake_options", [{"size": 3}, {"inventory": []}])
async def test_options_can_be_parametrized(carrierx_fake, carrierx_fake_options):
    expected = carrierx_fake_options.get("size", 0)
    assert len(carrierx_fake.inventory) == expected


BUILT = [
    did_record(state="NY", price="0.5"),
    did_record(state="CA", locality="LOS ANGELES", lata="730", phonenumber="13105550123"),
    did_record(state="TX", capabilities=0),
]


@pytest.mark.carrierx_fake(inventory=BUILT)
async def test_marker_seeds_did_records(carrierx_fake):
    assert list(carrierx_fake.inventory) == BUILT
    dids = [d async for d in carrierx_fake.client.available_dids()]
    assert [d.did_sid for d in dids] == [r["did_sid"] for r in BUILT]
    assert [d.state for d in dids] == ["NY", "CA", "TX"]
    assert dids[0].price == Decimal("0.5")
    assert [d.active_capabilities for d in dids] == [Capability.VOICE, Capability.VOICE, 0]
    voice = carrierx_fake.client.available_dids(filter=F.capabilities.bit(Capability.VOICE))
    assert [d.phonenumber async for d in voice] == [r["phonenumber"] for r in BUILT[:2]]
    one = await carrierx_fake.client.get_available_did(BUILT[1]["did_sid"])
    assert (one.locality, one.in_country_format) == ("LOS ANGELES", "(310) 555-0123")


async def test_factory_closes_everything_it_started():
    factory = _carrierx_fake_factory()
    start = await anext(factory)
    one = await start(size=5)
    two = await start(inventory=list(one.inventory)[:2], token="other-token")
    extra = two.make_client(timeout=5.0)
    clients = [one.client, two.client, extra]
    assert [len(f.inventory) for f in (one, two)] == [5, 2]
    assert [d.did_sid async for d in extra.available_dids()] == [
        r["did_sid"] for r in one.inventory[:2]
    ]
    with pytest.raises(TypeError, match="unknown carrierx_fake option 'sise'"):
        await start(sise=1)
    await factory.aclose()
    assert all(c.closed for c in clients)
    for fake in (one, two):
        with pytest.raises(RuntimeError, match="not running"):
            _ = fake.base_url


async def test_make_client_token_and_base_url_can_be_overridden(carrierx_fake):
    other = carrierx_fake.make_client(token="wrong-token", base_url=carrierx_fake.base_url + "/")
    assert isinstance(other, Client)
    with pytest.raises(AuthenticationError) as info:  # the fake refuses the other token
        await anext(other.available_dids())
    assert info.value.status == 401
    assert info.value.message == "authentication required"
    assert [r.authorized for r in carrierx_fake.server.requests] == [False]  # not retried


def test_option_names_match_fake_carrierx():
    import inspect

    params = inspect.signature(FakeCarrierX).parameters
    assert set(params) == OPTION_NAMES


def test_plugin_module_docstring_mentions_every_fixture():
    import carrierx_async.pytest_plugin as plugin

    doc = plugin.__doc__ or ""
    for name in (
        "carrierx_fake_options",
        "carrierx_fake_factory",
        "max_retries=0",
        "marker",
        "did_record",
    ):
        assert name in doc
