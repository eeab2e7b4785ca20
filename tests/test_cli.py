"""The command line, run as a real child process (``python -m carrierx_async``).

Non-demo runs talk to a FakeCarrierX served by the test's own event loop, so children
are started with asyncio.create_subprocess_exec and the loop keeps serving meanwhile.
"""

import asyncio
import csv
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

from carrierx_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Capability,
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
from carrierx_async.testing import Churn, FakeCarrierX, Status

TOKEN = "cli-test-token"
ROOT = Path(__file__).resolve().parents[1]
TABLE_HEADER = ["PHONENUMBER", "INTERNATIONAL", "LOCALITY", "STATE", "COUNTRY", "CAPABILITIES"]


class Result(NamedTuple):
    code: int
    out: str
    err: str


def child_env(**extra):
    """The test environment without CARRIERX_TOKEN, with every warning shown on stderr."""
    env = {k: v for k, v in os.environ.items() if k != "CARRIERX_TOKEN"}
    env["PYTHONWARNINGS"] = "default"
    env.update(extra)
    return env


async def spawn(*args, env=None, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE):
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "carrierx_async",
        *args,
        stdout=stdout,
        stderr=stderr,
        env=env or child_env(),
        cwd=ROOT,
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
    assert lines[1].split()[-1] == expected[0]["price"]
    assert len({len(line) for line in lines}) == 1  # aligned; price right-aligned
    # Said before and after the table, so it is seen wherever the reader ends up.
    assert err.splitlines().count(f"carrierx-dids: {DEMO_NOTICE}") == 2
    assert "\r" not in err  # stderr is a pipe: no progress line


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
    proc = await spawn("--demo", "--max", "0", "--page-size", "1000", stderr=slave)
    os.close(slave)
    reader = asyncio.get_running_loop().run_in_executor(None, read_all, master)
    out = (await asyncio.wait_for(proc.stdout.read(), 20)).decode()
    assert await asyncio.wait_for(proc.wait(), 20) == EXIT_OK
    err = await reader
    check_clean(out, err)
    assert len(out.splitlines()) == 3000
    assert "\r1,000 numbers..." in err
    # Cleared at the end, before the closing demo notice.
    assert err.rstrip("\n").endswith(f"\r\x1b[Kcarrierx-dids: {DEMO_NOTICE}")


async def test_closed_stdout_pipe_exits_quietly():
    r, w = os.pipe()
    proc = await spawn("--demo", "--max", "0", "--page-size", "100", stdout=w)
    os.close(w)

    def first_line():
        with os.fdopen(r, "rb") as f:
            return f.readline()

    line = await asyncio.get_running_loop().run_in_executor(None, first_line)
    assert json.loads(line)["did_sid"] == FakeCarrierX().inventory[0]["did_sid"]
    err = (await asyncio.wait_for(proc.stderr.read(), 20)).decode()
    assert await asyncio.wait_for(proc.wait(), 20) == EXIT_OK
    assert err.splitlines() == [f"carrierx-dids: {DEMO_NOTICE}"] * 2


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
    args = ["--locality", "NEW YORK", "--fields", fields, "--max", "4", "--format", "csv"]
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
    assert query["include_fields"] == fields


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


async def test_query_errors_name_the_flags(fake, api):
    external = ["--external", "--country", "USA"]
    results = await asyncio.gather(
        cli(*api, "--external", "--state", "NY"),
        cli(*api, "--external"),
        cli(*api, *external, "--max", "11"),
        cli(*api, *external, "--page-size", "50"),
        cli(*api, "--page-size", "5000"),
        cli(*api, "--order", "max_items sideways"),
        cli(*api, *external, "--filter", "price le 1"),  # no flag of its own: library words
    )
    assert [r.code for r in results] == [EXIT_USAGE] * len(results)
    lines = [error_line(r.err).removeprefix("carrierx-dids: error: ") for r in results]
    needs_country = (
        "--external needs --country (the external provider search requires country_code eq)"
    )
    assert lines[:2] == [needs_country] * 2
    assert lines[2].endswith("--max must be at most 10, got 11")
    assert lines[3].endswith("--page-size must be at most 10, got 50")
    assert lines[4] == "--page-size must be at most 1000, got 5000"
    assert lines[5].startswith("--order 'max_items sideways' is not")  # the value as given
    assert lines[6].startswith("'price le' is not allowed with --external; allowed: ")
    for line in lines:
        assert "include_external" not in line and "F.country_code" not in line
    assert fake.requests == []


async def test_options_before_the_subcommand(fake, api):
    record = fake.inventory[3]
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
    assert filters == ["locality eq get", "state eq NY"]
    # A search flag is still refused by get, wherever it is written.
    refused = await cli("--state", "NY", "get", record["did_sid"], *api)
    assert refused.code == EXIT_USAGE
    assert "unrecognized arguments: --state" in error_line(refused.err)


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


async def test_bad_filter_exits_2_before_any_request(fake, api):
    results = await asyncio.gather(
        cli(*api, "--filter", "state eq NY or state eq CA"),
        cli(*api, "--npa", "51"),
        cli("get", "not a sid", *api),
    )
    assert "'or'" in error_line(results[0].err)
    assert "npa" in error_line(results[1].err)
    assert "did_sid" in error_line(results[2].err)
    assert [r.code for r in results] == [EXIT_USAGE] * 3
    assert fake.requests == []


async def test_server_errors_map_to_exit_codes(fake, api):
    fake.add_fault(Status(429, retry_after="3600"))  # beyond the wait limit: no retry
    limited = await cli(*api)
    assert limited.code == EXIT_RATE_LIMITED
    assert "429" in error_line(limited.err)


async def test_network_error_exits_6():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await cli(
        "--base-url", f"http://127.0.0.1:{port}/core/v2", env=child_env(CARRIERX_TOKEN=TOKEN)
    )
    assert result.code == EXIT_NETWORK
    assert "request failed" in error_line(result.err)


async def test_ctrl_c_exits_130_quietly(fake, api):
    fake.latency = 30
    proc = await spawn(*api, "--max", "0")
    async with asyncio.timeout(20):
        while not fake.requests:
            await asyncio.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == EXIT_INTERRUPTED
    assert (out, err) == (b"", b"")


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
    assert result.code == EXIT_OK and result.err == ""
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
