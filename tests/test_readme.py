"""The README cannot drift: every ```python block runs against a FakeCarrierX; public docs exist.

Each block runs as written, in a worker thread (blocks may call ``asyncio.run``) while the
fake serves from the test's loop, over real HTTP. The harness only supplies what a reader
would: ``CARRIERX_TOKEN`` and a ``token`` variable (the fake's), top-level ``await``/``async
with`` (compiled as in the asyncio REPL), and a ``Client`` whose default base_url is the
fake's (handed to the block through its own ``import`` of carrierx_async; nothing on the
wire is patched). DID SIDs the README quotes exist in the fake's inventory. Functions named
``test_*`` that a block defines are then called, with the plugin's ``carrierx_fake`` fixture
(and its marker options) if they ask for it.
"""

import ast
import asyncio
import builtins
import inspect
import logging
import re
import types
from pathlib import Path

import pytest

import carrierx_async
from carrierx_async import DEFAULT_BASE_URL, AvailableDidStream, Filter, ItemIterator, PageIterator
from carrierx_async.pytest_plugin import _carrierx_fake_factory
from carrierx_async.testing import FakeCarrierX

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
SID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def blocks():
    """(line number, source) of every ```python block."""
    return [(TEXT.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(TEXT)]


def client_for(base_url):
    """carrierx_async.Client, but the default (real API) base_url becomes the fake's."""

    class Client(carrierx_async.Client):
        def __init__(self, token=None, **options):
            if str(options.get("base_url", DEFAULT_BASE_URL)).rstrip("/") == DEFAULT_BASE_URL:
                options["base_url"] = base_url
            super().__init__(token, **options)

    return Client


def block_builtins(base_url):
    """Builtins whose ``import carrierx_async`` yields the package with client_for(base_url)."""

    class Package(types.ModuleType):
        def __getattr__(self, name):
            return getattr(carrierx_async, name)

    package = Package("carrierx_async", carrierx_async.__doc__)
    package.Client = client_for(base_url)

    def import_(name, globals=None, locals=None, fromlist=(), level=0):
        module = builtins.__import__(name, globals, locals, fromlist, level)
        top = name.partition(".")[0]
        if level == 0 and top == "carrierx_async" and (not fromlist or name == top):
            return package
        return module

    return {**vars(builtins), "__import__": import_}


def run_block(source, filename, base_url, token):
    """Run one block as a script would (in this thread: no event loop is running here)."""
    code = compile(source, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace = {
        "__name__": "__main__",
        "__builtins__": block_builtins(base_url),
        "token": token,
    }
    result = eval(code, namespace)  # a coroutine when the block awaits at top level
    if inspect.iscoroutine(result):
        asyncio.run(result)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and inspect.isfunction(value):
            asyncio.run(call_test(value))


async def call_test(func):
    """Call a README test function, supplying the plugin's carrierx_fake fixture if it asks."""
    wanted = set(inspect.signature(func).parameters)
    assert wanted <= {"carrierx_fake"}, f"the README harness cannot supply {sorted(wanted)}"
    factory = _carrierx_fake_factory()
    start = await anext(factory)
    try:
        kwargs = {}
        if wanted:
            options = {}
            marks = [m for m in getattr(func, "pytestmark", []) if m.name == "carrierx_fake"]
            for mark in reversed(marks):  # the mark closest to the function wins
                options.update(mark.kwargs)
            kwargs["carrierx_fake"] = await start(**options)
        outcome = func(**kwargs)
        if inspect.iscoroutine(outcome):
            await outcome
    finally:
        await factory.aclose()


@pytest.fixture(autouse=True)
def restore_logging():
    """Blocks may configure logging (basicConfig, levels): undo it after each."""
    root, ours = logging.getLogger(), logging.getLogger("carrierx_async")
    saved = (root.handlers[:], root.level, ours.handlers[:], ours.level)
    yield
    root.handlers[:], ours.handlers[:] = saved[0], saved[2]
    root.setLevel(saved[1])
    ours.setLevel(saved[3])


@pytest.fixture
async def readme_fake():
    """A fake whose inventory also holds every DID SID quoted in the README."""
    records = list(FakeCarrierX(size=3000).inventory)
    for record, sid in zip(records, sorted(set(SID.findall(TEXT))), strict=False):
        record["did_sid"] = sid
    async with FakeCarrierX(inventory=records) as fake:
        yield fake


def test_readme_has_python_blocks():
    assert len(blocks()) >= 3


@pytest.mark.parametrize(("line", "source"), blocks(), ids=[f"line{n}" for n, _ in blocks()])
async def test_readme_block_runs(readme_fake, monkeypatch, capsys, line, source):
    monkeypatch.setenv("CARRIERX_TOKEN", readme_fake.token)
    filename = f"{README.name}:{line}"
    async with asyncio.timeout(60):
        await asyncio.to_thread(
            run_block, source, filename, readme_fake.base_url, readme_fake.token
        )
    out = capsys.readouterr().out
    if "print(" in source:
        assert out.strip(), f"the block at {filename} printed nothing"


async def test_the_harness_keeps_requests_on_the_fake(readme_fake, monkeypatch):
    """A block's Client() goes to the fake, over HTTP; an explicit base_url is kept."""
    monkeypatch.setenv("CARRIERX_TOKEN", readme_fake.token)
    source = """
from carrierx_async import Client
import carrierx_async.testing

assert carrierx_async.testing.FakeCarrierX.__name__ == "FakeCarrierX"
assert carrierx_async.Client is Client
async with Client() as client:
    got = [d async for d in client.available_dids(max_items=3)]
assert len(got) == 3
assert str(Client(base_url="http://127.0.0.1:1/x").base_url) == "http://127.0.0.1:1/x"
"""
    await asyncio.to_thread(run_block, source, "harness", readme_fake.base_url, readme_fake.token)
    assert len(readme_fake.requests) == 1
    assert carrierx_async.Client.__module__ == "carrierx_async._client"  # nothing leaked


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
