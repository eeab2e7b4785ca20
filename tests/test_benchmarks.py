"""The benchmark runner's quick (CI smoke) summary carries no verdicts."""

from benchmarks.run import Row, smoke_report, table


def test_quick_mode_prints_no_verdicts():
    rows = [Row("1a typed / raw", 0.43, 0.60), Row("4 memory", 3.0, 1.2, higher_is_better=False)]
    assert "MISS" in table(rows)  # what the full run would say about these figures
    report = smoke_report(rows, 3.0)
    assert "ran: 1a typed / raw" in report and "ran: 4 memory" in report
    for word in ("MISS", "pass", "0.43", "0.60", ">=", "<="):
        assert word not in report
