"""Imports point one way: the pure core never reaches aiohttp, the shell, or any I/O module."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "carrierx_async"

# The synchronous, I/O-free core (style.md: "delete the shell and what is left is complete").
CORE = frozenset(
    {
        "_errors",
        "_cursor",
        "_models",
        "_filter_kinds",
        "_fields",
        "_filter_match",
        "_filters",
        "_filter_parser",
        "_query",
        "_convert",
        "_sansio",
        "_pagination",
        "_retry",
    }
)
FORBIDDEN = frozenset({"aiohttp", "asyncio", "socket", "multidict"})


def imports_of(module: str) -> set[str]:
    """Every module name an `import` in carrierx_async/<module>.py names, resolved."""
    return imports_in(PACKAGE / f"{module}.py")


def imports_in(path: Path) -> set[str]:
    """Every module name an `import` in a top-level module of the package names, resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.add(node.module or "")
            elif node.level == 1 and node.module:
                names.add(f"carrierx_async.{node.module}")
            else:  # "from . import x" or deeper: name each imported member
                names.update(f"carrierx_async.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", sorted(CORE))
def test_a_core_module_imports_only_core_and_plain_libraries(module):
    for name in imports_of(module):
        top = name.split(".")[0]
        if top == "carrierx_async":
            assert name.removeprefix("carrierx_async.") in CORE, f"{module} imports {name}"
        else:
            assert top not in FORBIDDEN, f"{module} imports {name}"


def test_the_core_list_is_every_module_but_the_shell():
    # A new module must be placed on one side on purpose: here, or in the shell list.
    shell = {
        "__init__",
        "__main__",
        "_body",
        "_client",
        "_feed",
        "_stream",
        "_transport",
        "pytest_plugin",
    }
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == CORE | shell


def test_the_checker_sees_a_forbidden_import(tmp_path, monkeypatch):
    # The check above must be able to fail: a module importing aiohttp is caught.
    (tmp_path / "_bad.py").write_text("import aiohttp\nfrom ._client import Client\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path)
    assert imports_of("_bad") == {"aiohttp", "carrierx_async._client"}


def test_only_the_shell_imports_aiohttp():
    importers = {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if any(n.split(".")[0] == "aiohttp" for n in imports_in(p))
    }
    # The two shell modules, plus the public fake server, the example service and the
    # CLI's -v trace hook (I/O by job).
    assert importers <= {
        "_client.py",
        "_transport.py",
        "testing/server.py",
        "pytest_plugin.py",
        "examples/aiohttp_service.py",
        "cli/verbose.py",
    }
    assert {"_client.py", "_transport.py"} <= importers


def test_the_feed_and_the_streams_do_not_import_the_client():
    # The feed gets a transport and a URL; no module of the stream imports the client
    # (not even for types), so client -> stream -> feed has no cycle.
    for module in ("_feed", "_stream", "_body", "_transport"):
        assert "carrierx_async._client" not in imports_of(module), module
    source = (PACKAGE / "_feed.py").read_text(encoding="utf-8")
    assert "_client" not in source and "_list_url" not in source


def test_decoding_lives_in_two_modules_of_at_most_350_lines():
    decoding = ["_convert", "_body"]
    lines = sum(
        len((PACKAGE / f"{m}.py").read_text(encoding="utf-8").splitlines()) for m in decoding
    )
    assert lines <= 350
    for path in PACKAGE.rglob("*.py"):  # and nothing touches the garbage collector
        assert "gc." not in path.read_text(encoding="utf-8"), path
