"""The typed field namespace: mypy --strict catches a misspelt field and a wrong value type
in a user's file, and accepts the README's filter examples. Runtime checks stay."""

import os
import re
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from carrierx_async import F, FilterError

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

USER_BAD = """\
from decimal import Decimal
from typing import cast
from carrierx_async import Client, F, Order

def search(client: Client) -> None:
    client.available_dids(filter=F.stat == "NY")  # BAD attr-defined
    client.available_dids(filter=F.price <= "1.5")  # BAD operator
    client.available_dids(filter=F.price == "1.5")  # BAD arg-type
    client.available_dids(filter=F.state == 5)  # BAD arg-type
    client.available_dids(filter=F.npa > 5.5)  # BAD operator
    client.available_dids(filter=F.capabilities.like("4"))  # BAD attr-defined
    client.available_dids(filter=F.state.bit(4))  # BAD attr-defined
    client.available_dids(filter=F.price.nearby(npa=516))  # BAD attr-defined
    client.available_dids(filter=F.attributes["k"] == 5)  # BAD arg-type
    client.available_dids(filter=(F.state == "NY") & (F.price < Decimal("1")))
    client.available_dids(pagination="keyst")  # BAD arg-type
    client.available_dids(order="prise desc")  # BAD arg-type
    client.available_dids(order="price down")  # BAD arg-type
    client.available_dids(order="shufle")  # BAD arg-type
    client.available_dids(pagination="keyset", order="phonenumber desc")
    client.available_dids(order=cast(Order, " ".join(["price", "asc"])))
"""


def readme_filters_section() -> str:
    start = README.index("## Filters\n")
    return README[start : README.index("\n## ", start + 1)]


def readme_filter_expressions() -> list[str]:
    """The Python column of the README's Filters table, one expression per cell item."""
    exprs = []
    for line in readme_filters_section().splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split(" | ")[0].removeprefix("| ").replace("\\|", "|")
        exprs += re.findall(r"`([^`]+)`", cell)
    return exprs


def readme_blocks() -> list[str]:
    """The python blocks of the README's Filters section, wrapped in async functions."""
    wrapped = []
    section = readme_filters_section()
    for i, block in enumerate(re.findall(r"^```python\n(.*?)^```", section, re.M | re.S)):
        imports = [line for line in block.splitlines() if line.startswith(("from ", "import "))]
        body = [line for line in block.splitlines() if line not in imports]
        wrapped.append(
            "\n".join(imports)
            + f"\n\nasync def block_{i}(token: str) -> None:\n"
            + textwrap.indent("\n".join(body), "    ")
            + "\n"
        )
    return wrapped


def user_good() -> str:
    exprs = readme_filter_expressions()
    assert len(exprs) >= 20, "the README table was not found"
    lines = [
        "from decimal import Decimal",
        "from carrierx_async import Capability, Client, F, Filter",
        "",
        "def table(client: Client) -> None:",
    ]
    lines += [f"    client.available_dids(filter={e})" for e in exprs]
    blocks = readme_blocks()
    assert blocks, "the README's Filters section has no python block"
    return "\n".join(lines) + "\n\n" + "\n\n".join(blocks)


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory):
    work = tmp_path_factory.mktemp("mypy")
    (work / "user_bad.py").write_text(USER_BAD)
    (work / "user_good.py").write_text(user_good())
    env = {**os.environ, "MYPYPATH": str(ROOT), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--hide-error-context",
         "--cache-dir", str(work / ".cache"), "user_bad.py", "user_good.py"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return result.stdout + result.stderr


def errors_by_line(report: str, filename: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for m in re.finditer(rf"^{filename}:(\d+): error: .*\[([\w-]+)\]$", report, re.M):
        found.setdefault(int(m[1]), m[2])
    return found


def test_mypy_checks_this_worktree(mypy_report):
    # The package mypy resolves is the one under test, not another install.
    assert "Cannot find implementation" not in mypy_report
    assert "import-not-found" not in mypy_report


def test_mypy_flags_misspelt_fields_and_wrong_value_types(mypy_report):
    expected = {
        n: m[1]
        for n, line in enumerate(USER_BAD.splitlines(), 1)
        if (m := re.search(r"# BAD (\S+)", line))
    }
    assert errors_by_line(mypy_report, "user_bad.py") == expected, mypy_report
    assert 'maybe "state"' in mypy_report  # the suggestion for F.stat


def test_mypy_accepts_the_readme_examples(mypy_report):
    assert errors_by_line(mypy_report, "user_good.py") == {}, mypy_report
    assert "user_good.py" not in mypy_report, mypy_report


# The wire text each README example must send, written by hand from the API reference's
# filter grammar (field, operator, value; quotes only around a value with a space).
WIRE = {
    'F.state == "NY"': "state eq NY",
    'F.locality == "NEW YORK"': 'locality eq "NEW YORK"',
    'F.state != "NY"': "state ne NY",
    'F.state < "NY"': "state lt NY",
    'F.phonenumber > "15160000000"': "phonenumber gt 15160000000",
    'F.price <= Decimal("1.00")': "price le 1.00",
    "F.price < 1": "price lt 1",
    "F.price >= 1": "price ge 1",
    'F.phonenumber.like("1516%")': "phonenumber like 1516%",
    'F.locality.like("SALT_LAKE%")': "locality like SALT_LAKE%",
    "F.capabilities.bit(Capability.VOICE | Capability.SMS_OUT)": "capabilities bit 6",
    "F.capabilities >= 7": "capabilities ge 7",
    "F.npa == 516": "npa eq 516",
    "F.npa > 500": "npa gt 500",
    "F.npa_nxx == 516555": "npa_nxx eq 516555",
    'F.attributes["tier"] == "gold"': "attributes.tier eq gold",
    "Filter.nearby(npa=516)": "phonenumber nearby npa:516",
    'Filter.nearby(zip="10025")': "phonenumber nearby zip:10025",
    "Filter.nearby(latlng=(40.8019, -73.9681))": "phonenumber nearby latlng:40.8019,-73.9681",
    '(F.state == "NY") & (F.price < 2)': "state eq NY and price lt 2",
    "Filter.raw(\"price ilike '1%'\") & (F.npa == 516)": "price ilike '1%' and npa eq 516",
}


def test_the_readme_examples_render_the_wire_text_it_shows():
    from carrierx_async import Capability, Filter  # noqa: F401  (names the table uses)

    assert readme_filter_expressions() == list(WIRE)
    for expr, wire in WIRE.items():
        rendered = eval(expr)
        assert isinstance(rendered, Filter), expr
        assert str(rendered) == wire, expr
    readme_wire = [
        text
        for line in readme_filters_section().splitlines()
        if line.startswith("| `")
        for text in re.findall(r"`([^`]+)`", line.split(" | ")[1])
    ]
    assert readme_wire == list(WIRE.values())


RUNTIME = [
    (lambda: F.stat, r"did you mean 'state'"),
    (lambda: F.price <= "1.5", r"expected Decimal or int, got str"),
    (lambda: F.price == "1.5", r"expected Decimal or int, got str"),
    (lambda: F.npa > 5.5, r"expected int or 3-digit str, got float"),
]


@pytest.mark.parametrize(("build", "message"), RUNTIME)
def test_the_same_mistakes_fail_at_run_time(build, message):
    with pytest.raises(FilterError, match=message):
        build()


def test_a_misspelt_field_is_also_an_attribute_error():
    assert getattr(F, "stat", None) is None
    assert str(F.price == Decimal("1")) == "price eq 1"
