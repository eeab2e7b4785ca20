"""The command line, run as a real child process (``python -m carrierx_async``).

Non-demo runs talk to a FakeCarrierX served by the test's own event loop, so children
are started with asyncio.create_subprocess_exec and the loop keeps serving meanwhile.
"""

import asyncio
import csv
import inspect
import io
import json
import os
import pty
import signal
import socket
import sys
from decimal import Decimal
from importlib.metadata import entry_points
from pathlib import Path
from typing import NamedTuple

import pytest
from aiohttp import web

from carrierx_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Capability,
    Client,
    ConfigurationError,
    FilterError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
)
from carrierx_async.cli import (
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
from carrierx_async.cli.commands import _exit_code
from carrierx_async.testing import Churn, FakeCarrierX, Status, did_record

TOKEN = "cli-test-token"
ROOT = Path(__file__).resolve().parents[1]
TABLE_HEADER = ["PHONENUMBER", "INTERNATIONAL", "LOCALITY", "STATE", "COUNTRY", "CAPABILITIES"]


class Result(NamedTuple):
    code: int
    out: str
    err: str


def child_env(**extra):
    """The test environment without CARRIERX_*, with every warning shown on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARRIERX_")}
    env["PYTHONWARNINGS"] = "default"
    env.update(extra)
    return env


def default_sigint():
    """In the child before exec: Ctrl-C as a terminal delivers it, even when this test run
    was started with SIGINT ignored (a background job), which a child would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def spawn(
    *args,
    env=None,
    stdout=asyncio.subprocess.PIPE,
    stderr=asyncio.subprocess.PIPE,
    program=("-m", "carrierx_async"),
    interruptible=False,
):
    """The command line as a child process; ``interruptible`` for a test that sends SIGINT."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *program,
        *args,
        stdout=stdout,
        stderr=stderr,
        env=env or child_env(),
        cwd=ROOT,
        preexec_fn=default_sigint if interruptible else None,
    )


def check_clean(out, err):
    """What every run must satisfy: no credential and no traceback anywhere."""
    assert TOKEN not in out + err
    assert "Traceback" not in err
    assert "Warning" not in err


async def cli(*args, env=None):
    proc = await spawn(*args, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    result = Result(proc.returncode, out.decode(), err.decode())
    check_clean(result.out, result.err)
    return result


def read_all(fd):
    """Read a pty master until the child side is closed (EIO)."""
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        pass
    finally:
        os.close(fd)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def error_line(err):
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("carrierx-dids: error: ")
    return lines[0]


def jsonl(out):
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
async def fake():
    async with FakeCarrierX(token=TOKEN) as server:
        yield server


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(f"  {TOKEN}\n")
    return path


@pytest.fixture
def api(fake, token_file):
    return ["--base-url", fake.base_url, "--token-file", str(token_file)]


@pytest.fixture
def usage_error(token_file, capsys):
    """main(argv) in process, against a closed port: its one error line, minus the prefix."""

    def run(argv):
        code = main([*argv, "--base-url", NOWHERE, "--token-file", str(token_file)])
        out, err = capsys.readouterr()
        assert (code, out) == (EXIT_USAGE, ""), err
        return error_line(err).removeprefix("carrierx-dids: error: ")

    return run


def list_queries(fake):
    return [r.query for r in fake.requests if r.path.endswith("/available_dids")]


# --- demo mode ---


async def test_first_command_on_a_terminal_shows_a_demo_table():
    master, slave = pty.openpty()
    proc = await spawn(stdout=slave)
    os.close(slave)
    reader = asyncio.get_running_loop().run_in_executor(None, read_all, master)
    err = (await asyncio.wait_for(proc.stderr.read(), 20)).decode()
    assert await asyncio.wait_for(proc.wait(), 20) == EXIT_OK
    out = await reader
    check_clean(out, err)

    lines = out.splitlines()
    assert lines[0].split()[:6] == TABLE_HEADER and lines[0].split()[-1] == "PRICE"
    expected = FakeCarrierX().inventory[:20]  # the demo's inventory: default seed
    assert [line.split()[0] for line in lines[1:]] == [r["phonenumber"] for r in expected]
    # Prices with two decimals each (the wire mixes "1.00", "2.5" and "0.6").
    prices = [line.split()[-1] for line in lines[1:]]
    assert {r["price"] for r in expected} >= {"1.00", "2.5", "0.6"}
    assert prices == [f"{Decimal(r['price']):.2f}" for r in expected]
    assert len({len(line) for line in lines}) == 1  # aligned; price right-aligned
    # Said once, before the table (stderr and stdout share the terminal).
    assert err.splitlines() == [
        f"carrierx-dids: {DEMO_NOTICE}",
        "carrierx-dids: showing the first 20 numbers; --max N shows more, --all every match",
    ]


async def test_demo_flag_wins_over_a_configured_token():
    result = await cli(
        "--demo", "--max", "2", "--format", "csv", env=child_env(CARRIERX_TOKEN=TOKEN)
    )
    assert result.code == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [r["did_sid"] for r in rows] == [r["did_sid"] for r in FakeCarrierX().inventory[:2]]
    assert result.err.splitlines()[0] == f"carrierx-dids: {DEMO_NOTICE}"


async def test_progress_line_only_when_stderr_is_a_terminal():
    master, slave = pty.openpty()
    proc = await spawn("--demo", "--all", "--page-size", "1000", stderr=slave)
    os.close(slave)
    reader = asyncio.get_running_loop().run_in_executor(None, read_all, master)
    out = (await asyncio.wait_for(proc.stdout.read(), 20)).decode()
    assert await asyncio.wait_for(proc.wait(), 20) == EXIT_OK
    err = await reader
    check_clean(out, err)
    assert len(out.splitlines()) == 3000
    assert "\r1,000 numbers..." in err
    assert err.startswith(f"carrierx-dids: {DEMO_NOTICE}\n")  # once, first
    assert err.endswith("\r\x1b[K")  # the progress line is cleared at the end
    assert err.count(DEMO_NOTICE) == 1


async def test_closed_stdout_pipe_exits_quietly():
    r, w = os.pipe()
    proc = await spawn("--demo", "--all", "--page-size", "100", stdout=w)
    os.close(w)

    def first_line():
        with os.fdopen(r, "rb") as f:
            return f.readline()

    line = await asyncio.get_running_loop().run_in_executor(None, first_line)
    assert json.loads(line)["did_sid"] == FakeCarrierX().inventory[0]["did_sid"]
    err = (await asyncio.wait_for(proc.stderr.read(), 20)).decode()
    assert await asyncio.wait_for(proc.wait(), 20) == EXIT_OK
    assert err.splitlines() == [f"carrierx-dids: {DEMO_NOTICE}"]


# --- output formats against the test's fake ---


async def test_jsonl_is_the_piped_default(fake, api):
    result = await cli("--state", "NY", "--max", "5", *api)
    assert result.code == EXIT_OK
    assert result.err == ""  # no demo notice, no progress
    expected = [r for r in fake.inventory if r["state"] == "NY"][:5]
    assert jsonl(result.out) == expected  # wire names, price str, capabilities int
    (query,) = list_queries(fake)
    assert query["filter"] == "state eq NY"
    assert query["limit"] == "5"


async def test_json_array(fake, api):
    result = await cli("search", *api, "--country", "GBR", "--max", "3", "--format", "json")
    assert result.code == EXIT_OK
    assert json.loads(result.out) == [r for r in fake.inventory if r["country_code"] == "GBR"][:3]


async def test_csv_with_fields(fake, api):
    fields = "phonenumber,price,capabilities"
    args = ["--locality", "new york", "--fields", fields, "--max", "4", "--format", "csv"]
    result = await cli(*api, *args)
    assert result.code == EXIT_OK
    rows = list(csv.reader(io.StringIO(result.out)))
    ny = [r for r in fake.inventory if r["locality"] == "NEW YORK"][:4]
    assert rows == [
        fields.split(","),
        *([r["phonenumber"], r["price"], str(r["capabilities"])] for r in ny),
    ]
    (query,) = list_queries(fake)
    assert query["filter"] == 'locality eq "NEW YORK"'
    assert query["include_fields"] == fields + ",did_sid"  # asked for always, not shown


async def test_table_with_fields(fake, api):
    result = await cli(*api, "--fields", "did_sid,capabilities", "--max", "3", "--format", "table")
    assert result.code == EXIT_OK
    lines = result.out.splitlines()
    assert lines[0].split() == ["DID_SID", "CAPABILITIES"]
    names = {0: "none", 4: "voice", 5: "voice,sms_in", 7: "voice,sms", 31: "voice,sms,mms"}
    shown = [line.split() for line in lines[1:]]
    assert shown == [[r["did_sid"], names[r["capabilities"]]] for r in fake.inventory[:3]]
    assert result.err == ""  # --max given: no "first 20" note


async def test_flags_render_the_filter_text(fake, api):
    args = ["--country", "usa", "--state", "ny", "--npa", "516", "--like", "1516%"]
    args += ["--capability", "voice", "--capability", "sms", "--filter", "price le 1"]
    args += ["--order", "price desc", "--page-size", "50", "--max", "7"]
    result = await cli(*api, *args)
    assert result.code == EXIT_OK
    query = list_queries(fake)[0]
    assert query["filter"] == (
        "country_code eq USA and state eq NY and npa eq 516 and phonenumber like 1516% "
        "and capabilities bit 7 and price le 1"
    )
    assert (query["order"], query["limit"]) == ("price desc", "7")
    records = jsonl(result.out)
    assert len(records) == 7
    for r in records:
        assert r["phonenumber"].startswith("1516") and r["state"] == "NY"
        assert Capability(r["capabilities"]) & 7 == 7 and Decimal(r["price"]) <= 1
    prices = [Decimal(r["price"]) for r in records]
    assert prices == sorted(prices, reverse=True)


async def test_raw_filter_is_sent_as_written(fake, api):
    args = ["--state", "ny", "--raw-filter", "price  LE  '1'", "--max", "3"]
    result = await cli(*api, *args)
    assert result.code == EXIT_OK
    assert list_queries(fake)[0]["filter"] == "state eq NY and price  LE  '1'"
    records = jsonl(result.out)
    assert len(records) == 3 and all(Decimal(r["price"]) <= 1 for r in records)


async def test_location_flags_render_nearby(fake, api):
    args = ["--zip", "10025", "--near=40.7128,-74.0060", "--capability", "mms_in", "--max", "2"]
    result = await cli(*api, *args)
    assert result.code == EXIT_OK
    assert list_queries(fake)[0]["filter"] == (
        "phonenumber nearby zip:10025 and phonenumber nearby latlng:40.7128,-74.006 "
        "and capabilities bit 8"
    )
    assert {r["state"] for r in jsonl(result.out)} == {"NY"}


async def test_jsonl_is_written_as_pages_arrive(fake, api):
    fake.latency = 0.3
    proc = await spawn(*api, "--max", "200", "--page-size", "50")
    first = await asyncio.wait_for(proc.stdout.readline(), 20)
    requests_at_first_line = len(fake.requests)
    rest, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == EXIT_OK and err == b""
    assert json.loads(first) == fake.inventory[0]
    assert [r["did_sid"] for r in jsonl((first + rest).decode())] == [
        r["did_sid"] for r in fake.inventory[:200]
    ]
    assert requests_at_first_line < len(fake.requests)


async def test_external_needs_a_country_and_is_sent(fake, api):
    refused = await cli(*api, "--external", "--state", "NY")
    assert refused.code == EXIT_USAGE
    assert "country_code" in error_line(refused.err)
    assert fake.requests == []
    result = await cli(*api, "--external", "--country", "USA", "--state", "NY", "--max", "3")
    assert result.code == EXIT_OK
    (query,) = list_queries(fake)
    assert (query["include_external"], query["offset"]) == ("true", "0")
    assert len(jsonl(result.out)) == 3


def test_query_errors_name_the_flags(usage_error):
    external = ["--external", "--country", "USA"]
    lines = [
        usage_error(argv)
        for argv in (
            ["--external", "--state", "NY"],
            ["--external"],
            [*external, "--max", "11"],
            [*external, "--page-size", "50"],
            ["--page-size", "5000"],
            ["--order", "max_items sideways"],
            [*external, "--filter", "price le 1"],  # no flag of its own: library words
        )
    ]
    needs_country = (
        "--external needs --country (the external provider search requires country_code eq)"
    )
    assert lines[:2] == [needs_country] * 2
    assert lines[2].endswith("--max must be at most 10, got 11")
    assert lines[3].endswith("--page-size must be at most 10, got 50")
    assert lines[4].startswith("--page-size must be a whole number from 1 to 1000, got 5000")
    assert lines[5].startswith("--order 'max_items sideways' is not")  # the value as given
    assert lines[6].startswith("'price le' is not allowed with --external; allowed: ")
    for line in lines:
        assert "include_external" not in line and "F.country_code" not in line


async def test_options_before_the_subcommand(fake, api, usage_error):
    record = fake.inventory[3]
    sid = record["did_sid"]
    demo_sid = FakeCarrierX().inventory[0]["did_sid"]
    got, demo, searched, value = await asyncio.gather(
        cli(*api, "get", record["did_sid"], "--format", "json"),
        cli("--demo", "get", demo_sid),
        cli("--state", "NY", *api, "search", "--max", "2"),
        cli("--locality", "get", *api, "--max", "1"),  # 'get' is --locality's value
    )
    assert [r.code for r in (got, demo, searched, value)] == [EXIT_OK] * 4
    assert json.loads(got.out) == record
    assert json.loads(demo.out)["did_sid"] == demo_sid
    assert [r["state"] for r in jsonl(searched.out)] == ["NY", "NY"]
    assert value.out == ""
    filters = sorted(q["filter"] for q in list_queries(fake))
    assert filters == ["locality eq GET", "state eq NY"]  # localities are upper case
    # A search flag is still refused by get, wherever it is written.
    assert "unrecognized arguments: --state" in usage_error(["--state", "NY", "get", sid])


# --- get ---


async def test_get_found(fake, api):
    record = fake.inventory[3]
    result = await cli("get", record["did_sid"], *api, "--format", "json")
    assert result.code == EXIT_OK
    assert json.loads(result.out) == record
    table = await cli("get", record["did_sid"], *api, "--format", "table")
    rows = dict(line.split(None, 1) for line in table.out.splitlines())
    assert rows["phonenumber"] == record["phonenumber"]
    assert rows["callback_url"] == "-"


async def test_get_not_found_exits_4(fake, api):
    result = await cli("get", "00000000-0000-4000-8000-00000000dead", *api)
    assert result.code == EXIT_NOT_FOUND
    assert "404" in error_line(result.err)
    assert result.out == ""


@pytest.mark.parametrize(("npa", "more"), [("786", False), ("212", True)])
async def test_table_says_there_is_more_only_when_there_is(fake, api, npa, more):
    # npa 786 with capabilities exactly 7 matches exactly 20 numbers: the table shows them all.
    result = await cli(
        "--format", "table", "--npa", npa, "--filter", "capabilities eq 7", *api
    )  # fmt: skip
    assert result.code == EXIT_OK
    want = [d for d in fake.inventory if d["phonenumber"][1:4] == npa and d["capabilities"] == 7]
    assert (len(want) == 20) is not more
    assert len(result.out.splitlines()) == 1 + 20
    assert ("showing the first 20" in result.err) is more


# --- failures ---


async def test_search_404_points_at_the_base_url(fake, token_file):
    base = fake.base_url.removesuffix("/core/v2")
    result = await cli("--base-url", base, "--token-file", str(token_file))
    assert result.code == EXIT_BAD_RESPONSE
    assert "check --base-url" in error_line(result.err)
    assert result.out == ""


@pytest.mark.parametrize(
    ("base", "fragment"),
    [("https://[bad", "not a URL"), ("https://u:p@api.carrierx.com/core/v2", "credentials")],
)
async def test_unusable_base_url_exits_2(token_file, base, fragment):
    result = await cli("--base-url", base, "--token-file", str(token_file))
    assert result.code == EXIT_USAGE
    assert fragment in error_line(result.err)


async def test_wrong_token_exits_3_without_showing_it(fake, tmp_path):
    secret = "wrong-secret-0123456789"
    (tmp_path / "t").write_text(secret)
    result = await cli("--base-url", fake.base_url, "--token-file", str(tmp_path / "t"))
    assert result.code == EXIT_AUTH
    assert "401" in error_line(result.err)
    assert secret not in result.out + result.err
    assert [r.authorized for r in fake.requests] == [False]


def test_bad_filter_exits_2_before_any_request(usage_error):
    assert "'or'" in usage_error(["--filter", "state eq NY or state eq CA"])
    assert "npa" in usage_error(["--npa", "51"])
    assert "DID_SID" in usage_error(["get", "not a sid"])


async def test_server_errors_map_to_exit_codes(fake, api):
    fake.add_fault(Status(429, retry_after="120"))  # beyond the wait limit: no retry
    limited = await cli(*api)
    assert limited.code == EXIT_RATE_LIMITED
    line = error_line(limited.err)
    assert "429" in line
    assert line.endswith("; the server asked to wait 120 s before trying again")
    assert len(fake.requests) == 1


async def test_network_error_exits_6():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await cli(
        "--base-url", f"http://127.0.0.1:{port}/core/v2", env=child_env(CARRIERX_TOKEN=TOKEN)
    )
    assert result.code == EXIT_NETWORK
    assert "request failed" in error_line(result.err)


async def test_interrupt_exits_130_with_one_line_and_no_traceback(fake, api):
    fake.latency = 30
    proc = await spawn(*api, "--all", interruptible=True)
    async with asyncio.timeout(20):
        while not fake.requests:
            await asyncio.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == EXIT_INTERRUPTED
    # Empty output could pass for "no matches": stderr says it is not.
    assert out == b""
    assert err.decode().splitlines() == [
        "carrierx-dids: interrupted before any number arrived; the output is incomplete"
    ]


# --- what the command says while it works, and when it is stopped ---


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json", "table"])
async def test_one_default_size_for_every_format_and_all_for_everything(fake, api, fmt):
    ny = [r for r in fake.inventory if r["state"] == "NY"]
    assert len(ny) > 20
    shown, every = await asyncio.gather(
        cli(*api, "--state", "NY", "--format", fmt),
        cli(*api, "--state", "NY", "--format", fmt, "--all"),
    )
    assert shown.code == every.code == EXIT_OK
    assert shown.err == (
        "carrierx-dids: showing the first 20 numbers; --max N shows more, --all every match\n"
    )
    assert every.err == ""
    header = 1 if fmt in ("csv", "table") else 0
    if fmt == "json":
        assert len(json.loads(shown.out)) == 20 and len(json.loads(every.out)) == len(ny)
    else:
        assert len(shown.out.splitlines()) == header + 20
        assert len(every.out.splitlines()) == header + len(ny)
    limits = sorted(int(q["limit"]) for q in list_queries(fake))
    assert limits[0] == 20 and limits[-1] > 20


async def test_the_environment_the_demo_server_prints_is_used(fake):
    env = child_env(CARRIERX_TOKEN=TOKEN, CARRIERX_BASE_URL=fake.base_url)
    result = await cli("--max", "2", env=env)
    assert (result.code, result.err) == (EXIT_OK, "")  # not the demo
    assert jsonl(result.out) == fake.inventory[:2]
    assert len(list_queries(fake)) == 1


async def test_locality_any_case_and_prefix(fake, api):
    result = await cli(*api, "--locality", "new york", "--prefix", "1646", "--all")
    assert result.code == EXIT_OK
    want = [
        r for r in fake.inventory if r["locality"] == "NEW YORK" and r["phonenumber"][:4] == "1646"
    ]
    assert want and jsonl(result.out) == want
    assert list_queries(fake)[0]["filter"] == 'locality eq "NEW YORK" and phonenumber like 1646%'


async def test_like_without_a_wildcard_is_refused_with_advice(fake, api):
    result = await cli(*api, "--like", "1516")
    assert result.code == EXIT_USAGE
    line = error_line(result.err)
    assert "no % wildcard" in line and "--prefix 1516" in line
    assert fake.requests == []


async def test_external_refusal_speaks_to_a_command_line_user(fake, api):
    result = await cli(*api, "--external", "--country", "USA", "--filter", "price le 1")
    line = error_line(result.err)
    assert result.code == EXIT_USAGE
    assert "Client(" not in line and "external_filters" not in line
    assert line.endswith("; drop that condition, or search without --external")
    assert fake.requests == []


async def test_usage_errors_come_before_the_demo_and_the_notice_once():
    bad = await cli("get", "not-a-sid")
    assert bad.code == EXIT_USAGE
    assert "DID_SID" in error_line(bad.err)  # the only line: no demo notice, no server
    missing = await cli("get", "00000000-0000-4000-8000-00000000dead")
    assert missing.code == EXIT_NOT_FOUND
    notice, line = missing.err.splitlines()
    assert notice == f"carrierx-dids: {DEMO_NOTICE}"
    assert line == (
        "carrierx-dids: error: HTTP 404: no demo number has DID_SID "
        "00000000-0000-4000-8000-00000000dead"
    )
    assert "127.0.0.1" not in missing.err


async def test_verbose_shows_requests_retries_and_waits(fake, api):
    fake.add_fault(Status(503, retry_after="0"), times=2)
    quiet = await cli(*api, "--max", "1", "--retries", "2")
    assert (quiet.code, quiet.err) == (EXIT_OK, "")
    fake.add_fault(Status(503, retry_after="1"), times=2)
    loud = await cli(*api, "--max", "1", "-v")
    assert loud.code == EXIT_OK
    lines = loud.err.splitlines()
    url = f"{fake.base_url}/phonenumber/available_dids?limit=1&offset=0"
    assert lines[0] == f"carrierx-dids: GET {url} ..."
    assert lines[1].startswith(f"carrierx-dids: GET {url} -> 503 (attempt 1, ")
    assert lines[2].startswith(f"carrierx-dids: GET {url}: ") and "retrying in 1.00s" in lines[2]
    assert lines[3] == lines[0]
    assert lines[4].startswith(f"carrierx-dids: GET {url} -> 503 (attempt 2, ")
    assert "retrying in 1.00s" in lines[5]
    assert lines[7].startswith(f"carrierx-dids: GET {url} -> 200 (attempt 3, ")
    assert len(lines) == 8
    assert len(jsonl(loud.out)) == 1
    assert [r.authorized for r in fake.requests] == [True] * 6  # check_clean: token unseen


async def test_retries_flag(fake, api):
    fake.add_fault(Status(503, retry_after="0"), times=3)
    none = await cli(*api, "--max", "1", "--retries", "0")
    assert none.code == EXIT_BAD_RESPONSE and "503" in error_line(none.err)
    assert len(fake.requests) == 1
    three = await cli(*api, "--max", "1", "--retries", "3")
    assert three.code == EXIT_OK
    assert len(fake.requests) == 1 + 3  # two more 503s, then the page
    assert jsonl(three.out) == fake.inventory[:1]


@pytest.fixture
async def silent_api(token_file):
    """A hostile server: accepts every connection and never answers."""
    seen = []

    async def never(request):
        seen.append(request.path)
        await asyncio.sleep(3600)

    app = web.Application()
    app.router.add_get("/{tail:.*}", never)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield seen, ["--base-url", f"http://127.0.0.1:{port}/core/v2", "--token-file", str(token_file)]
    await runner.cleanup()


async def test_timeout_flag_ends_a_silent_server(silent_api):
    seen, api = silent_api
    result = await cli(*api, "--timeout", "1", "--retries", "0")  # default 30 s > cli()'s 20
    assert result.code == EXIT_NETWORK
    line = error_line(result.err)
    assert "1s deadline" in line and "--timeout SECONDS waits longer" in line
    assert len(seen) == 1


#: The command line with an event loop whose clock runs SPEED times faster than real time:
#: its timeouts (aiohttp's, the library's, --timeout) all read loop.time().
FAST_CLOCK = """
import asyncio, selectors, sys
from carrierx_async.__main__ import main

SPEED = 20

class Selector(selectors.DefaultSelector):
    def select(self, timeout=None):  # the loop waits in its own seconds: real ones are fewer
        return super().select(None if timeout is None else timeout / SPEED)

class Loop(asyncio.SelectorEventLoop):
    def __init__(self):
        super().__init__(Selector())

    def time(self):
        return super().time() * SPEED

class Policy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self):
        return Loop()

asyncio.set_event_loop_policy(Policy())
sys.exit(main())
"""


async def test_timeout_flag_also_waits_out_a_long_silence(token_file, serve):
    # The library cuts a read after 20 s of silence; a user who asks for --timeout 200
    # means "wait up to 200 s": a server silent for 30 s must be waited for. The child's
    # clock runs 20x, so 1.5 real seconds of silence are 30 s to it.
    record = did_record(state="NY")

    async def slow(request):
        await asyncio.sleep(1.5)  # the server's behaviour under test, not synchronisation
        return web.json_response(page_body([record], 0, False))

    base = await serve(slow)
    args = ["--base-url", base, "--token-file", str(token_file), "--retries", "0"]

    async def run(timeout):
        proc = await spawn(*args, "--timeout", timeout, program=("-c", FAST_CLOCK))
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        check_clean(out.decode(), err.decode())
        return proc.returncode, out.decode(), err.decode()

    waited, control = await asyncio.gather(run("200"), run("10"))
    assert waited[0] == EXIT_OK, waited[2]
    assert [r["did_sid"] for r in jsonl(waited[1])] == [record["did_sid"]]
    # The control proves the clock is fast: 10 s to the child is 0.5 s of the 1.5 s silence.
    assert control[0] == EXIT_NETWORK and "10s deadline" in error_line(control[2])


def page_body(records, offset, has_more):
    return {
        "count": len(records),
        "has_more": has_more,
        "items": records,
        "limit": len(records),
        "offset": offset,
        "total": None,
    }


@pytest.fixture
async def first_page_then_hang(token_file):
    """A hostile server: offset 0 answers 7 numbers and has_more; later pages never come."""
    first = [did_record(state="NY") for _ in range(7)]
    requests = []

    async def handler(request):
        requests.append(request.query)
        if request.query.get("offset") == "0":
            return web.json_response(page_body(first, 0, True))
        await asyncio.sleep(3600)

    app = web.Application()
    app.router.add_get("/core/v2/phonenumber/available_dids", handler)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}/core/v2"
    yield first, requests, ["--base-url", base, "--token-file", str(token_file)]
    await runner.cleanup()


def read_until(fd, marker):
    """Read a pty master until ``marker`` has appeared; return what was read (fd stays open)."""
    data = b""
    while marker not in data:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data.decode().replace("\r\n", "\n")


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv"])
async def test_interrupt_shows_what_was_fetched_as_complete_output(first_page_then_hang, fmt):
    first, requests, api = first_page_then_hang
    master, slave = pty.openpty()  # stderr on a terminal: the progress line says when
    proc = await spawn(
        *api, "--all", "--page-size", "7", "--format", fmt, stderr=slave, interruptible=True
    )
    os.close(slave)
    loop = asyncio.get_running_loop()
    # "7 numbers..." is shown once the first page is written (or, for a table, kept).
    err = await asyncio.wait_for(loop.run_in_executor(None, read_until, master, b"7 numbers"), 20)
    proc.send_signal(signal.SIGINT)
    out = (await asyncio.wait_for(proc.stdout.read(), 20)).decode()
    assert await asyncio.wait_for(proc.wait(), 20) == EXIT_INTERRUPTED
    err += await loop.run_in_executor(None, read_all, master)
    check_clean(out, err)
    assert err == (
        "\r7 numbers...\r\x1b[Kcarrierx-dids: interrupted after 7 numbers; "
        "the output is incomplete\n"
    )
    assert len(requests) <= 2  # the second page, if asked for, never came
    numbers = [r["phonenumber"] for r in first]
    if fmt == "table":
        assert [line.split()[0] for line in out.splitlines()[1:]] == numbers
    elif fmt == "json":
        assert json.loads(out) == first  # a closed array: valid JSON
    elif fmt == "jsonl":
        assert jsonl(out) == first
    else:
        assert [row["phonenumber"] for row in csv.DictReader(io.StringIO(out))] == numbers


async def test_interrupt_before_any_number_leaves_valid_json(silent_api):
    seen, api = silent_api
    proc = await spawn(*api, "--format", "json", interruptible=True)
    async with asyncio.timeout(20):
        while not seen:
            await asyncio.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == EXIT_INTERRUPTED
    assert json.loads(out) == []
    assert err.decode().splitlines() == [
        "carrierx-dids: interrupted before any number arrived; the output is incomplete"
    ]


# --- in process: errors found before any I/O, help and packaging ---
# A regression that got past the checks would try port 9 (closed) and exit 6, not 2.

NOWHERE = "http://127.0.0.1:9/core/v2"

BAD_INPUT = [
    ["--filter", "colour eq red"],
    ["--raw-filter", "state eq NY\nand npa eq 516"],
    ["--zip", "1002"],
    ["--near", "north"],
    ["--near", "npa:51"],
    ["--capability", "fax"],
    ["--fields", "prce"],
    ["--order", "price sideways"],
    ["--page-size", "5000"],
    ["--max", "-1"],
    ["--max", "0"],  # "all" is --all
    ["--max", "5", "--all"],
    ["--like", "1516"],  # no wildcard: an exact match, rarely meant
    ["--prefix", "15x"],
    ["--timeout", "0"],
    ["--timeout", "soon"],
    ["--retries", "-1"],
    ["get", "not-a-sid"],
    ["--external", "--country", "USA", "--max", "11"],
    ["--bogus"],
    ["--base-url"],
    ["get"],
]


@pytest.mark.parametrize("bad", BAD_INPUT, ids=" ".join)
def test_bad_input_exits_2(bad, token_file, capsys):
    argv = ["--base-url", NOWHERE, "--token-file", str(token_file)]
    assert main([*bad, *argv] if bad[0] == "get" else [*argv, *bad]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    error_line(err)


def test_token_problems_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CARRIERX_TOKEN", raising=False)
    empty = tmp_path / "empty"
    empty.write_text(" \n")
    secret_path = str(tmp_path / TOKEN)  # a token mistaken for a path is not echoed
    for argv in (
        ["--base-url", NOWHERE, "--token-file", str(empty)],
        ["--base-url", NOWHERE, "--token-file", secret_path],
        ["--base-url", NOWHERE],  # a server but no token: not the demo
        ["--demo", "--base-url", NOWHERE],
        ["--token", TOKEN],  # no such flag, and its value is not echoed
        [f"--token={TOKEN}"],
        ["--tok", TOKEN],  # no abbreviation of --token-file either
    ):
        assert main(argv) == EXIT_USAGE, argv
        out, err = capsys.readouterr()
        assert DEMO_NOTICE not in err
        assert "cli-test" not in out + err, argv
        error_line(err)
    monkeypatch.setenv("CARRIERX_BASE_URL", NOWHERE)  # the same, from the environment
    assert main([]) == EXIT_USAGE
    assert "CARRIERX_BASE_URL needs a token" in error_line(capsys.readouterr().err)
    monkeypatch.setenv("CARRIERX_TOKEN", TOKEN)
    assert main(["--base-url", "http://example.com/core/v2"]) == EXIT_USAGE  # clear text
    assert "http" in error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (FilterError("x"), EXIT_USAGE),
        (ConfigurationError("x"), EXIT_USAGE),
        (AuthenticationError(401, "x"), EXIT_AUTH),
        (PermissionDeniedError(403, "x"), EXIT_AUTH),
        (NotFoundError(404, "x"), EXIT_NOT_FOUND),
        (RateLimitError(429, "x"), EXIT_RATE_LIMITED),
        (APIConnectionError("x"), EXIT_NETWORK),
        (APITimeoutError("x"), EXIT_NETWORK),
        (BadRequestError(400, "x"), EXIT_BAD_RESPONSE),
        (ServerError(503, "x"), EXIT_BAD_RESPONSE),
        (ResponseDecodeError("x", status=200), EXIT_BAD_RESPONSE),
        (PaginationError("x"), EXIT_BAD_RESPONSE),
    ],
)
def test_exit_code_table(error, code):
    assert _exit_code(error) == code


def test_help_documents_every_exit_code(capsys):
    assert main(["--help"]) == EXIT_OK
    text = capsys.readouterr().out
    codes = (EXIT_OK, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_RATE_LIMITED, EXIT_NETWORK)
    for code in (*codes, EXIT_BAD_RESPONSE, EXIT_INTERRUPTED):
        assert f"\n  {code:<4} " in text
    assert "CARRIERX_TOKEN" in text
    assert main(["--token", TOKEN]) == EXIT_USAGE  # credentials never on the command line
    assert TOKEN not in capsys.readouterr().err


def test_console_script_is_main():
    (script,) = entry_points(group="console_scripts", name="carrierx-dids")
    assert script.load() is main


async def test_keyset_flag_seeks_in_phonenumber_order(fake, api):
    result = await cli(*api, "--keyset", "--state", "NY", "--page-size", "10", "--max", "25")
    assert result.code == EXIT_OK
    assert result.err.startswith("carrierx-dids: resume with --after ")  # (tests/test_resume)
    assert len(result.err.splitlines()) == 1
    numbers = [r["phonenumber"] for r in jsonl(result.out)]
    ny = sorted(r["phonenumber"] for r in fake.inventory if r["state"] == "NY")
    assert numbers == ny[:25]
    queries = list_queries(fake)
    assert [(q["offset"], q["order"]) for q in queries] == [("0", "phonenumber asc")] * 3
    assert queries[1]["filter"] == f"state eq NY and phonenumber gt {ny[9]}"


async def test_keyset_flag_refuses_another_order_before_any_request(fake, api):
    result = await cli(*api, "--keyset", "--order", "price")
    assert result.code == EXIT_USAGE
    line = error_line(result.err).removeprefix("carrierx-dids: error: ")
    assert line.startswith("--keyset walks in phonenumber order: --order must be")
    assert fake.requests == []


async def test_search_says_when_the_inventory_changed_too_fast(fake, api):
    # 50 numbers rented at the front after the first page of 10 (every number yielded
    # so far among them): the walk cannot find its place again, and says so.
    fake.add_fault(Churn(remove=50))
    result = await cli(*api, "--page-size", "10", "--max", "30")
    assert result.code == EXIT_OK
    assert len(jsonl(result.out)) == 30
    assert "numbers may be missing or repeated in 1 place(s); --keyset" in result.err


# --- issue 26: help, repeated flags, --area-code, one style for numbers, get csv ---


def test_help_shows_the_search_options_and_the_get_command(capsys):
    texts = []
    for argv in (["--help"], ["-h"], ["get", "--help"]):
        assert main(argv) == EXIT_OK
        out, err = capsys.readouterr()
        assert err == ""
        texts.append(out)
    top, short, get = texts
    assert top == short
    for option in ("--state", "--area-code", "--raw-filter", "--max", "--all", "--format"):
        assert f"  {option} " in top or f", {option} " in top, option
    assert "carrierx-dids get DID_SID" in top  # the other command, and where its help is
    assert "matches any of its values" in top  # what a repeated flag means
    assert "\n  130  interrupted" in top  # the exit codes stay in the help
    assert "DID_SID" in get and "--state" not in get


async def test_repeated_filter_flags_mean_any_of_their_values(fake, api):
    args = ["--state", "ny", "--state", "CA", "--area-code", "212", "--npa", "415"]
    args += ["--area-code", "516", "--all", "--page-size", "1000"]
    result = await cli(*api, *args)
    assert result.code == EXIT_OK and result.err == ""
    want = {
        r["did_sid"]
        for r in fake.inventory
        if r["state"] in ("NY", "CA") and r["phonenumber"][1:4] in ("212", "415", "516")
    }
    got = [r["did_sid"] for r in jsonl(result.out)]
    assert len(want) > 100 and len(got) == len(set(got)) and set(got) == want
    filters = {q["filter"] for q in list_queries(fake)}
    assert filters == {
        f"state eq {state} and npa eq {npa}" for state in ("NY", "CA") for npa in (212, 415, 516)
    }


async def test_repeated_prefix_and_like_mean_any_pattern(fake, api):
    args = ["--prefix", "1212", "--prefix", "1516", "--like", "%1", "--like", "%3", "--all"]
    result = await cli(*api, *args)
    assert result.code == EXIT_OK
    want = {
        r["did_sid"]
        for r in fake.inventory
        if r["phonenumber"][:4] in ("1212", "1516") and r["phonenumber"][-1] in "13"
    }
    assert want and {r["did_sid"] for r in jsonl(result.out)} == want
    assert {q["filter"] for q in list_queries(fake)} == {
        f"phonenumber like {prefix}% and phonenumber like %{last}"
        for prefix in ("1212", "1516")
        for last in "13"
    }


@pytest.mark.parametrize(
    ("flags", "advice"),
    [
        (["--zip", "10025", "--zip", "10026"], "a search is near one place"),
        (["--near", "40.7,-74.0", "--near", "zip:10025"], "a search is near one place"),
        (["--filter", "price le 1", "--filter", "npa eq 516"], "with 'and' in one --filter"),
        (["--raw-filter", "a eq 1", "--raw-filter", "b eq 2"], "with 'and' in one --raw-filter"),
        (["--external", "--country", "USA", "--state", "NY", "--state", "CA"], "one search per"),
    ],
    ids=lambda x: x[0] if isinstance(x, list) else None,
)
def test_single_value_filter_flags_refuse_a_repeat(flags, advice, usage_error):
    line = usage_error(flags)
    assert line.startswith(f"{flags[0]} ") and advice in line, line


async def test_area_code_is_npa_and_a_near_miss_is_pointed_at_it(fake, api, usage_error):
    alias, npa = await asyncio.gather(
        cli(*api, "--area-code", "516", "--max", "3"), cli(*api, "--npa", "516", "--max", "3")
    )
    assert alias.code == npa.code == EXIT_OK
    assert alias.out == npa.out and jsonl(alias.out)
    assert {q["filter"] for q in list_queries(fake)} == {"npa eq 516"}
    assert "--npa (or --area-code)" in usage_error(["--area", "516"])


#: A bad number for each number flag -> the message, in one style: "<flag> must be ..., got <text>".
BAD_NUMBERS = [
    (["--max", "0"], "--max must be a whole number >= 1, got 0"),
    (["--max", "-1"], "--max must be a whole number >= 1, got -1"),
    (["--max", "lots"], "--max must be a whole number >= 1, got lots"),
    (["--page-size", "0"], "--page-size must be a whole number from 1 to 1000, got 0"),
    (["--page-size", "5000"], "--page-size must be a whole number from 1 to 1000, got 5000"),
    (["--retries", "-1"], "--retries must be a whole number >= 0, got -1"),
    (["--timeout", "0"], "--timeout must be a number of seconds > 0 (below 1000000), got 0"),
    (["--timeout", "soon"], "--timeout must be a number of seconds > 0 (below 1000000), got soon"),
    (["--external", "--country", "USA", "--max", "11"], "--max must be at most 10, got 11"),
]


@pytest.mark.parametrize(
    ("flags", "message"), BAD_NUMBERS, ids=[" ".join(f) for f, _ in BAD_NUMBERS]
)
def test_bad_numbers_get_one_message_style(flags, message, usage_error):
    line = usage_error(flags)
    assert line.startswith(message) or line.endswith(f": {message}"), line


async def test_get_writes_csv_and_jsonl_as_search_does(fake, api):
    record = fake.inventory[3]
    got_csv, got_jsonl, searched = await asyncio.gather(
        cli("get", record["did_sid"], *api, "--format", "csv"),
        cli("get", record["did_sid"], *api, "--format", "jsonl"),
        cli(*api, "--max", "4", "--format", "csv"),
    )
    assert got_csv.code == got_jsonl.code == searched.code == EXIT_OK
    header, row = list(csv.reader(io.StringIO(got_csv.out)))
    assert header == sorted(record)  # every field, in wire order, as search's csv
    assert dict(zip(header, row, strict=True))["price"] == record["price"]  # the wire text
    assert dict(zip(header, row, strict=True))["phonenumber"] == record["phonenumber"]
    assert list(csv.reader(io.StringIO(searched.out)))[::4] == [header, row]
    assert jsonl(got_jsonl.out) == [record]


def test_filter_advice_names_the_raw_filter_option(usage_error):
    unknown = usage_error(["--filter", "colour eq red"])
    operator = usage_error(["--filter", "state zz NY"])
    raw = usage_error(["--raw-filter", "state eq NY\nand npa eq 516"])
    assert unknown.startswith("--filter 'colour eq red' at offset 0: unknown field 'colour'")
    assert operator.startswith("--filter 'state zz NY' at offset 6: unknown operator 'zz'")
    for line in (unknown, operator):
        assert "send it with --raw-filter (see" in line, line
    assert raw.startswith("argument --raw-filter: the --raw-filter text holds")
    for line in (unknown, operator, raw):
        assert "Filter.raw" not in line


async def test_interrupt_while_starting_up_is_one_line(tmp_path, fake):
    # Blocked opening --token-file (a FIFO nobody writes yet): before the event loop and
    # any request, the first moment the command is stopped at on purpose.
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    proc = await spawn("--base-url", fake.base_url, "--token-file", str(fifo), interruptible=True)
    async with asyncio.timeout(20):
        while True:  # a writer can open a FIFO without blocking only once it has a reader
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                await asyncio.sleep(0.02)
    try:
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        os.close(writer)
    assert proc.returncode == EXIT_INTERRUPTED
    assert out == b"" and err.decode() == "carrierx-dids: interrupted\n"
    assert fake.requests == []


@pytest.mark.skipif(
    "trust_env" not in inspect.signature(Client).parameters,
    reason="needs Client(trust_env=): then commands.py passes trust_env=True (see PROXY there)",
)
@pytest.mark.parametrize("bypass", [False, True])
async def test_proxy_variables_are_honoured(token_file, serve, bypass):
    # A stub HTTP proxy: it answers the request itself, and records the absolute URL a
    # client sends to a proxy. The API is on a closed port: only the proxy can answer.
    record = did_record(state="NY")
    seen = []

    async def proxy(request):
        seen.append((str(request.url), request.headers.get("Authorization", "")))
        return web.json_response(page_body([record], 0, False))

    proxy_url = (await serve(proxy)).removesuffix("/core/v2")
    env = {k: v for k, v in child_env().items() if "proxy" not in k.lower()}
    env |= {"HTTP_PROXY": proxy_url, "HTTPS_PROXY": proxy_url}
    if bypass:
        env |= {"NO_PROXY": "127.0.0.1"}
    result = await cli("--base-url", NOWHERE, "--token-file", str(token_file), env=env)
    if bypass:  # straight to the closed port
        assert result.code == EXIT_NETWORK and seen == []
        return
    assert result.code == EXIT_OK, result.err
    assert jsonl(result.out) == [record]
    ((url, authorization),) = seen
    assert url.startswith(f"{NOWHERE}/phonenumber/available_dids?")
    assert authorization == f"Bearer {TOKEN}"
