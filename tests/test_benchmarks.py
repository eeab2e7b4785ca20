"""benchmarks/: the smoke run works and prints no figures; the arithmetic is right."""

import re

import pytest

from benchmarks import run


def test_quick_runs_every_row_and_prints_no_figures(capsys):
    assert run.main(["--quick"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    ran = [line for line in lines if line.startswith(("ran: ", "skipped: "))]
    assert len(ran) == 8, out  # every row of the full table, run or said to be skipped
    assert sum(line.startswith("ran: ") for line in ran) >= 6, out  # peers may be missing
    assert lines[-1].startswith("smoke run: 8 rows in "), out
    figures = re.compile(r"\d\.\d|\dx\b|\d/s\b|\d MB\b|\d ms\b")
    assert not [line for line in ran if figures.search(line)], out


def test_median_ratio_is_the_median_of_the_per_round_ratios():
    # per round: 2/1 = 2, 3/1 = 3, 9/3 = 3; the ratio of the medians would be 3/1 = 3 too,
    # so a fourth round tells them apart: 10/10 = 1 -> ratios 1, 2, 3, 3 -> median 2.5
    assert run.median_ratio([2, 3, 9], [1, 1, 3]) == 3
    assert run.median_ratio([2, 3, 9, 10], [1, 1, 3, 10]) == 2.5
    with pytest.raises(ValueError):  # rounds must pair up
        run.median_ratio([1, 2], [1])


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        (list(range(1, 101)), 99, 99),  # nearest rank: ceil(0.99 * 100) = the 99th value
        (list(range(1, 101)), 100, 100),
        ([5, 1, 3, 2, 4], 50, 3),  # ceil(2.5) = the 3rd smallest
        ([0.5, 0.1, 9.0, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9], 99, 9.0),  # ceil(9.9) = 10th
        ([0.5, 0.1, 9.0, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9], 90, 0.9),  # 9th
        ([7.0], 1, 7.0),
    ],
)
def test_percentile_is_the_nearest_rank(values, q, expected):
    assert run.percentile(values, q) == expected


async def test_interleave_alternates_the_order_and_drops_the_warm_up_round():
    calls = []

    def variant(name):
        async def go():
            calls.append(name)
            return len(calls)

        return go

    results = await run.interleave({"a": variant("a"), "b": variant("b")}, 2, False)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert results == {"a": [4, 5], "b": [3, 6]}
