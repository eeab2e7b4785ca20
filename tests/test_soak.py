"""benchmarks/soak.py runs its fault and churn modes and counts lost and duplicated numbers."""

import re

import pytest

from benchmarks import soak

RECORDS = "1000"  # the least the checks below accept as "present throughout"


def run(capsys, *argv: str) -> tuple[str, int]:
    """benchmarks/soak.py in this process (no interpreter start-up): its output and status."""
    code = soak.main(list(argv))
    return capsys.readouterr().out, code


def figure(pattern: str, out: str) -> int:
    match = re.search(pattern, out, re.M)
    assert match, f"{pattern!r} not in:\n{out}"
    return int(match[1].replace(",", ""))


def assert_exactly_once(out: str, code: int, least: int = int(RECORDS)) -> None:
    assert re.search(r"^lost:\s+0 of the [\d,]+ present throughout$", out, re.M), out
    assert re.search(r"^duplicated:\s+0$", out, re.M), out
    assert figure(r"of the ([\d,]+) present throughout", out) >= least, out
    assert code == 0 and "RESULT:      PASS" in out, out


@pytest.mark.parametrize("pagination", ["offset", "keyset"])
def test_churn_mode_reports_lost_and_duplicated(capsys, pagination):
    argv = ["--churn", "20", "--records", RECORDS, "--page-size", "200", "--seed", "3"]
    out, code = run(capsys, *argv, "--pagination", pagination)
    assert_exactly_once(out, code)
    assert figure(r"([\d,]+) rented", out) > 100  # the inventory really changed under the walk
    assert figure(r"([\d,]+) added during", out) > 100


# What README "Live inventory" promises offset mode heals (nothing lost, nothing twice, no
# possible gap); keyset mode is exactly once under any churn.
SCENARIOS = {
    # fewer than page_size - overlap (100 - 10) added in front of the cursor every request
    "front-add": "--add 60 --churn-at front --page-size 100",
    # about two pages less the overlap added at once (15 for pages of 10)
    "front-add-once": "--add 15 --churn-at front --page-size 10 --churn-times 1",
    # half a page rented at random behind the cursor every request
    "rent-random": "--rent 50 --churn-at random --page-size 100",
    # a page less one rented at once: the records just served
    "rent-once": "--rent 99 --churn-at front --page-size 100 --churn-times 1",
}


@pytest.mark.parametrize("pagination", ["offset", "keyset"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_churn_scenarios_exactly_once(capsys, scenario, pagination):
    argv = SCENARIOS[scenario].split()
    out, code = run(capsys, *argv, "--records", RECORDS, "--seed", "7", "--pagination", pagination)
    assert_exactly_once(out, code)
    rented = figure(r"([\d,]+) rented", out)
    added = figure(r"([\d,]+) added during", out)
    if "--rent" in argv:
        assert added == 0 and rented == (int(argv[1]) if "once" in scenario else int(RECORDS))
    else:
        assert rented == 0 and added >= int(argv[1])
    assert figure(r"possible gaps ([\d,]+)", out) == 0
    if pagination == "offset":  # the walk really met the churn, and healed
        assert figure(r"windows healed ([\d,]+)", out) >= 1
        if "--add" in argv:
            assert figure(r"duplicates dropped ([\d,]+)", out) >= int(argv[1])


def test_beyond_what_offset_heals_is_reported(capsys):
    """page_size - overlap added before every request: the walk stops, and says so."""
    argv = ["--add", "8", "--churn-at", "front", "--page-size", "10", "--records", RECORDS]
    out, code = run(capsys, *argv)
    assert "STREAM FAILED: PaginationError" in out
    assert figure(r"^lost:\s+([\d,]+)", out) > 0
    assert code == 1 and "RESULT:      FAIL" in out


def test_churn_flags():
    args = soak.parse_args(["--churn", "5"])
    assert (args.rent, args.add, args.churn_at, args.churning) == ((5, 5), (5, 5), "anywhere", True)
    assert args.records == 100_000
    args = soak.parse_args(["--churn", "5", "--add", "0"])
    assert (args.rent, args.add) == ((5, 5), (0, 0))
    args = soak.parse_args(["--rent", "0-20", "--churn-at", "front"])
    assert (args.rent, args.add, args.churn_at) == ((0, 20), (0, 0), "front")
    args = soak.parse_args([])
    assert not args.churning and args.records == 1_000_000
    with pytest.raises(SystemExit):
        soak.parse_args(["--rent", "20-3"])


def test_fault_mode_meets_every_fault_and_loses_nothing(capsys):
    argv = ["--records", "600", "--page-size", "50", "--max-gap", "1", "--read-timeout", "0.5"]
    out, code = run(capsys, *argv, "--seed", "5")
    assert_exactly_once(out, code, least=600 - 10)  # one Churn rents at most 10
    served = re.search(r"^faults:\s+([\d,]+) served in [\d,]+ requests: (.*)$", out, re.M)
    assert served, out
    kinds = {part.rsplit(" ", 1)[0] for part in served[2].split(", ")}
    assert kinds == {  # the first deck deals each kind once
        "Churn",
        "Delay",
        "Disconnect",
        "HtmlPage(502)",
        "Reset",
        "Status(429)",
        "Status(500)",
        "Status(503)",
        "Truncated",
    }, out
    # every fault but churn costs exactly one retry (aiohttp's own resend is refused)
    retryable = int(served[1].replace(",", "")) - figure(r"Churn (\d+)", out)
    assert figure(r"retries ([\d,]+)", out) == retryable, out
