"""Installing for use in another project: an editable install type-checks in the user's code.

The README's ``pip install -e .`` builds an editable wheel with the project's own build
backend (PEP 660). The test asks that backend for the wheel, installs its ``.pth`` into a
fresh virtual environment as pip would, and runs ``mypy --strict`` on a user program
outside the repository against that environment.
"""

import importlib
import os
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

USER_PROGRAM = """
import asyncio
from decimal import Decimal

from carrierx_async import AvailableDid, Client, F


async def cheapest(state: str) -> Decimal | None:
    async with Client() as client:
        async for did in client.available_dids(filter=F.state == state, order="price asc"):
            return did.price
    return None


def label(did: AvailableDid) -> str:
    return f"{did.phonenumber} {did.locality}"


print(asyncio.run(cheapest("NY")))
"""


def editable_wheel(directory):
    """What pip builds for ``pip install -e .``: the backend's PEP 660 editable wheel."""
    backend = PYPROJECT["build-system"]["build-backend"]
    importlib.import_module(backend)  # a dev extra: fail here, clearly, if it is missing
    code = f"import sys, {backend} as b; print(b.build_editable(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return directory / done.stdout.strip().splitlines()[-1]


def mypy(program, python):
    """mypy --strict on the program, resolving imports as ``python``'s environment does.

    The runs of one test share a cache beside the program (the standard library and aiohttp
    are checked once); imports are resolved again on every run."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    cache = str(program.parent / ".mypy_cache")
    argv = ["-m", "mypy", "--strict", "--cache-dir", cache, "--python-executable", str(python)]
    return subprocess.run(
        [sys.executable, *argv, program.name],
        cwd=program.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="venv layout")
def test_user_program_type_checks_against_the_editable_install(tmp_path):
    wheel = editable_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        pths = {name: zf.read(name).decode() for name in zf.namelist() if name.endswith(".pth")}
    # A plain path entry: static checkers and IDEs read those (not import hooks).
    assert pths, f"no .pth in {wheel.name}"
    for name, text in pths.items():
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines == [str(ROOT)], f"{name}: {text!r}"

    env = tmp_path / "venv"
    venv.create(env, with_pip=False)  # nothing from this environment, not even the package
    python = env / "bin" / "python"
    (site,) = (env / "lib").glob("python3*/site-packages")
    user = tmp_path / "user_project"
    user.mkdir()
    program = user / "app.py"
    program.write_text(USER_PROGRAM, encoding="utf-8")

    before = mypy(program, python)  # control: the check really depends on the install
    assert "Cannot find implementation or library stub" in before.stdout, before.stdout

    for name, text in pths.items():
        (site / name).write_text(text, encoding="utf-8")
    after = mypy(program, python)
    assert after.returncode == 0, after.stdout + after.stderr

    program.write_text(USER_PROGRAM + "\nwrong: int = label\n", encoding="utf-8")
    typed = mypy(program, python)  # the package's types are seen, not Any
    assert "AvailableDid" in typed.stdout and typed.returncode == 1, typed.stdout
