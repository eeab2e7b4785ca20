"""benchmarks/soak.py's churn mode runs and counts lost and duplicated numbers."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("pagination", ["offset", "keyset"])
def test_churn_mode_reports_lost_and_duplicated(pagination):
    argv = ["--churn", "20", "--records", "3000", "--page-size", "200", "--seed", "3"]
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            str(ROOT / "benchmarks" / "soak.py"),
            *argv,
            "--pagination",
            pagination,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    out = proc.stdout
    assert re.search(r"^lost:\s+0 of the [\d,]+ present throughout$", out, re.M), out + proc.stderr
    assert re.search(r"^duplicated:\s+0$", out, re.M)
    rented = int(re.search(r"([\d,]+) rented", out)[1].replace(",", ""))
    assert rented > 100  # the inventory really changed under the walk
    assert proc.returncode == 0 and out.rstrip().endswith("RESULT:      PASS")
