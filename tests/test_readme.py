"""The README cannot drift: every ```python block runs the way a reader would run it.

- A program is written to a file and run as ``python block.py`` in a child process, with
  the two variables ``python -m carrierx_async.testing`` prints (``CARRIERX_TOKEN``,
  ``CARRIERX_BASE_URL``), exactly as the README tells a reader without an account. That
  demo server is a child process too, started the way the README says.
- A block that defines ``test_*`` functions is written to ``test_block.py`` and run with
  ``python -m pytest`` in a child process, in a directory of its own (none of this
  project's pytest configuration) and in pytest-asyncio's default strict mode, with the
  ``pyproject.toml`` the README's testing section tells a reader to write first, read from
  the README itself.
- A block right after a ``<!-- fragment -->`` line is only compiled (as the body of an
  async function): the README says it is a fragment.
- Each ``carrierx-dids`` line of a ```sh block runs as printed (the console script as
  ``python -m carrierx_async``), without a token: the demo answers.
Failures name the block's README line and its first line.
"""

import ast
import inspect
import os
import re
import shlex
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import carrierx_async
from carrierx_async import AvailableDidStream, Filter, ItemIterator, PageIterator

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
FRAGMENT = "<!-- fragment -->"
#: Where the package under test lives: children import this copy.
PACKAGE_ROOT = str(Path(carrierx_async.__file__).resolve().parent.parent)


class Block:
    """One ```python block: where it is, its source, and how a reader runs it."""

    def __init__(self, line, source, fragment):
        self.line, self.source, self.fragment = line, source, fragment
        self.first = next((x for x in source.splitlines() if x.strip()), "")
        self.name = f"README.md line {self.line} ({self.first!r})"

    def tests(self):
        """Names of the test functions the block defines at top level."""
        tree = ast.parse(self.source)
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
        return [n.name for n in tree.body if isinstance(n, kinds) and n.name.startswith("test")]


def blocks(text=TEXT):
    found = []
    for m in BLOCK.finditer(text):
        before = text[: m.start()].rstrip("\n").rpartition("\n")[2].strip()
        found.append(Block(text.count("\n", 0, m.start()) + 2, m.group(1), before == FRAGMENT))
    return found


def child_env(**extra):
    """The environment a reader has: the package importable, no token of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARRIERX_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
    env["PYTHONWARNINGS"] = "default"  # an unclosed session or socket shows on stderr
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def demo_env():
    """``python -m carrierx_async.testing`` running; the variables it prints, as a dict."""
    with subprocess.Popen(
        [sys.executable, "-m", "carrierx_async.testing"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=child_env(),
    ) as server:
        try:
            exports = dict(
                server.stdout.readline().removeprefix("export ").strip().split("=", 1)
                for _ in range(2)
            )
            assert set(exports) == {"CARRIERX_TOKEN", "CARRIERX_BASE_URL"}, exports
            yield exports
        finally:
            server.terminate()
            server.wait(30)


TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def reader_config(text=TEXT):
    """The README's one ```toml block of pytest configuration, and its README line."""
    found = [m for m in TOML_BLOCK.finditer(text) if "[tool.pytest.ini_options]" in m.group(1)]
    assert len(found) == 1, "the README shows no (or more than one) pytest configuration"
    return found[0].group(1), text.count("\n", 0, found[0].start()) + 2


#: What a reader who followed the README has in pyproject.toml: the README's own block.
READER_CONFIG = reader_config()[0]


def test_the_readme_shows_the_pytest_configuration_before_any_test():
    """Issue 26, item 8: the setting pytest-asyncio warns about comes before any test."""
    config, line = reader_config()
    ini = tomllib.loads(config)["tool"]["pytest"]["ini_options"]
    assert ini["asyncio_default_fixture_loop_scope"] == "function"
    assert line < min(b.line for b in blocks() if b.tests())


def run(block, directory, env, config=READER_CONFIG):
    """Run a block as a reader would; returns the finished process.

    ``config`` is the reader's pyproject.toml: the README's, or none at all when empty.
    """
    if block.tests():
        # Not this project's configuration: the one the README's testing section shows.
        if config:
            (directory / "pyproject.toml").write_text(config)
        (directory / "test_block.py").write_text(block.source, encoding="utf-8")
        argv = ["-m", "pytest", "-p", "no:cacheprovider", "-o", "asyncio_mode=strict"]
        argv += ["-q", "test_block.py"]
    else:
        (directory / "block.py").write_text(block.source, encoding="utf-8")
        argv = ["block.py"]
    return subprocess.run(
        [sys.executable, *argv],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check(block, result):
    """What a reader would call success, with the block named on failure."""
    output = textwrap.indent((result.stdout + result.stderr)[-3000:], "  | ")
    assert result.returncode == 0, f"{block.name} failed (exit {result.returncode}):\n{output}"
    for bad in ("Traceback", "Unclosed", "ResourceWarning", "never awaited"):
        assert bad not in result.stdout + result.stderr, f"{block.name}: {bad!r}\n{output}"
    if block.tests():
        n = len(block.tests())
        assert re.search(rf"\b{n} passed\b", result.stdout), (
            f"{block.name}: not {n} passed\n{output}"
        )
        assert not re.search(r"skipped|xfail|warning", result.stdout), f"{block.name}\n{output}"
        assert not re.search(r"(?i)warning", result.stderr), f"{block.name}\n{output}"
    elif "print(" in block.source:
        assert result.stdout.strip(), f"{block.name} printed nothing"


def test_readme_has_programs_tests_and_fragments():
    assert len(cli_lines()) >= 3
    found = blocks()
    assert any(b.tests() for b in found)
    assert any(b.fragment for b in found)
    assert any(not b.fragment and not b.tests() for b in found)


@pytest.mark.parametrize("block", blocks(), ids=lambda b: f"line{b.line}")
def test_readme_block_runs_as_printed(block, demo_env, tmp_path):
    if block.fragment:
        # Still Python: code as it would stand inside an async function.
        compile(block.source, block.name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        return
    check(block, run(block, tmp_path, child_env(**demo_env)))


SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def cli_lines():
    """Every ``carrierx-dids`` command line in the README's ```sh blocks."""
    return [
        line
        for m in SH_BLOCK.finditer(TEXT)
        for line in m.group(1).splitlines()
        if line.startswith("carrierx-dids ")
    ]


@pytest.mark.parametrize("line", cli_lines())
def test_readme_command_line_runs_in_demo_mode(line, tmp_path):
    """As printed, without a token: the demo inventory answers (the README says so)."""
    program = f"{shlex.quote(sys.executable)} -m carrierx_async"
    result = subprocess.run(
        line.replace("carrierx-dids", program, 1),
        shell=True,
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"README: {line!r} failed:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    written = result.stdout or "".join(f.read_text() for f in tmp_path.iterdir())
    assert written.strip(), f"README: {line!r} printed nothing"


BROKEN_PROGRAM = """
from carrierx_async import Client

async with Client() as client:
    pass
"""
UNMARKED_TEST = """
from carrierx_async.testing import FakeCarrierX


async def test_unmarked():
    async with FakeCarrierX():
        pass
"""
MARKED_TEST = "import pytest\n\npytestmark = pytest.mark.asyncio\n" + UNMARKED_TEST


@pytest.mark.parametrize(
    ("source", "config", "fails"),
    [
        (BROKEN_PROGRAM, READER_CONFIG, True),
        (UNMARKED_TEST, READER_CONFIG, True),
        (MARKED_TEST, "", True),
        (MARKED_TEST, READER_CONFIG, False),
    ],
    ids=[
        "module-level async with",
        "async test without a marker",
        "no pytest configuration (pytest-asyncio warns)",
        "marked async test",
    ],
)
def test_the_harness_fails_what_a_reader_would_hit(source, config, fails, demo_env, tmp_path):
    """The README mistakes this harness exists for fail it; the fixed form passes."""
    block = blocks(f"text\n\n```python\n{source.lstrip()}```\n")[0]
    result = run(block, tmp_path, child_env(**demo_env), config)
    if fails:
        with pytest.raises(AssertionError, match=re.escape(block.first)):
            check(block, result)
    else:
        check(block, result)


def test_fragments_are_only_the_marked_blocks():
    text = f"a\n\n{FRAGMENT}\n```python\nawait x\n```\n\n```python\nprint(1)\n```\n"
    assert [(b.fragment, b.first) for b in blocks(text)] == [(True, "await x"), (False, "print(1)")]


def test_demo_server_serves_what_a_client_reads(demo_env, tmp_path):
    """The variables the demo server prints are the ones Client() reads."""
    program = (
        "import asyncio\nfrom carrierx_async import Client\n\n\nasync def main():\n"
        "    async with Client() as c:\n        print(c.base_url)\n"
        "        print(len([d async for d in c.available_dids(max_items=3)]))\n\n\n"
        "asyncio.run(main())\n"
    )
    block = blocks(f"```python\n{program}```\n")[0]
    result = run(block, tmp_path, child_env(**demo_env))
    check(block, result)
    assert result.stdout.split() == [demo_env["CARRIERX_BASE_URL"], "3"]


# -- docstrings ---------------------------------------------------------------------------


def public_names():
    return [n for n in carrierx_async.__all__ if not n.startswith("__")]


def doc_comment(name):
    """The ``#:`` comment right above ``name``'s assignment in the package source, or ''."""
    for path in Path(carrierx_async.__file__).parent.glob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if re.match(rf"{name}\b[^=]*=", line):
                comment = []
                while i > 0 and lines[i - 1].startswith("#:"):
                    i -= 1
                    comment.insert(0, lines[i][2:].strip())
                return " ".join(comment)
    return ""


@pytest.mark.parametrize("name", public_names())
def test_every_public_name_has_a_docstring(name):
    obj = getattr(carrierx_async, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        doc = obj.__doc__
    elif type(obj).__module__.startswith("carrierx_async"):  # an instance such as F
        doc = type(obj).__doc__
    else:  # a constant: documented by a Sphinx-style "#:" comment where it is defined
        doc = doc_comment(name)
    assert (doc or "").strip(), f"carrierx_async.{name} has no docstring (or #: comment)"


def public_methods():
    classes = [carrierx_async.Client, Filter, AvailableDidStream, ItemIterator, PageIterator]
    classes += [type(carrierx_async.F), type(carrierx_async.F.state)]
    for cls in classes:
        for name in dir(cls):
            if name.startswith("_"):
                continue
            raw = inspect.getattr_static(cls, name)
            func = raw.fget if isinstance(raw, property) else getattr(raw, "__func__", raw)
            if inspect.isfunction(func) and func.__module__.startswith("carrierx_async"):
                yield pytest.param(func, id=f"{cls.__name__}.{name}")


@pytest.mark.parametrize("func", list(public_methods()))  # pytest 9.2+: no generators
def test_every_public_method_has_a_docstring(func):
    assert (func.__doc__ or "").strip(), f"{func.__qualname__} has no docstring"
