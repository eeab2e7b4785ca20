"""help() teaches: every public parameter, its default and the errors raised are documented,
reprs are readable, and no message or public docstring cites an internal section number."""

import ast
import builtins
import inspect
import pydoc
import re
from pathlib import Path

import pytest

import carrierx_async
from carrierx_async import Client, F, Filter, parse_filter

PACKAGE = Path(carrierx_async.__file__).resolve().parent


def bullets(doc: str) -> dict[str, str]:
    """``- ``name``: text`` bullets of a docstring, by the names they document."""
    found: dict[str, str] = {}
    for item in re.findall(r"^\s*- (.*?)(?=^\s*- |\n\n|\Z)", doc, re.MULTILINE | re.DOTALL):
        head = item.split(":", 1)[0]
        for name in re.findall(r"``(\w+)``", head):
            found.setdefault(name, item)
    return found


DOCUMENTED = [
    (Client, Client.__init__),
    (Client.available_dids, Client.available_dids),
    (Client.get_available_did, Client.get_available_did),
]


@pytest.mark.parametrize(("documented", "func"), DOCUMENTED, ids=lambda x: x.__qualname__)
def test_every_parameter_and_default_is_documented(documented, func):
    doc = inspect.getdoc(documented)
    items = bullets(doc)
    for name, param in inspect.signature(func).parameters.items():
        if name == "self":
            continue
        assert name in items, f"{func.__qualname__}: parameter {name!r} is not documented"
        default = param.default
        if default is inspect.Parameter.empty:
            continue
        text = items[name]
        assert "default" in text.lower(), f"{name}: the default is not stated: {text!r}"
        if isinstance(default, int | float) and not isinstance(default, bool):
            assert str(default) in text, f"{name}: default {default} not in {text!r}"


def public_callables():
    """Every public callable of the package and of carrierx_async.testing, with its methods."""
    import carrierx_async.testing as testing

    for module in (carrierx_async, testing):
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj):
                continue
            yield f"{module.__name__}.{name}", obj
            if isinstance(obj, type):
                for attr, member in vars(obj).items():
                    if callable(member) and (not attr.startswith("_") or attr == "__init__"):
                        yield f"{module.__name__}.{name}.{attr}", member


def test_no_public_signature_has_a_private_parameter():
    # help() shows every parameter: a test hook such as Client(_sleep=...) must not be one.
    seen = 0
    for qualname, obj in public_callables():
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):  # a builtin without a signature
            continue
        seen += 1
        private = [p for p in params if p.startswith("_")]
        assert not private, f"{qualname} takes private parameters {private}"
    assert seen > 30  # the walk reached the classes' methods, not only the names


@pytest.mark.parametrize(
    "documented",
    [
        Client,
        Client.available_dids,
        Client.get_available_did,
        Filter.raw,
        parse_filter,
        type(F.state).like,
        type(F.capabilities).bit,
        type(F.phonenumber).nearby,
        type(F.attributes).__getitem__,
    ],
)
def test_raised_errors_are_named_and_exist(documented):
    doc = inspect.getdoc(documented)
    raised = re.findall(r"``(\w+Error)``", doc)
    assert raised, f"{documented.__qualname__} names no error it raises"
    for name in raised:
        assert issubclass(getattr(carrierx_async, name, None) or getattr(builtins, name), Exception)


def test_help_of_the_filter_api_teaches_its_parts():
    text = pydoc.render_doc(Filter, renderer=pydoc.plaintext)
    for part in ("raw(", "nearby(", "npa=", "zip=", "latlng=", "matches(", "FilterError", "&", "|"):
        assert part in text
    fields = pydoc.render_doc(type(F), renderer=pydoc.plaintext)
    assert "state" in fields and "price" in fields and "attributes" in fields
    price = pydoc.render_doc(type(F.price), renderer=pydoc.plaintext)
    assert "Decimal" in price and "float" in price
    assert "like" in pydoc.render_doc(type(F.state), renderer=pydoc.plaintext)
    assert "bit" in pydoc.render_doc(type(F.capabilities), renderer=pydoc.plaintext)


def test_reprs_are_readable():
    assert repr(F) == "F"
    assert repr(F.price) == "F.price"
    assert repr(F.attributes["tier"]) == "F.attributes['tier']"
    assert repr((F.state == "NY") & Filter.raw("x eq 1")) == "Filter('state eq NY and x eq 1')"


SECTION = re.compile(r"\(\d+(\.\d+)?(,\s*\d+(\.\d+)?)*\)|\breference (section )?\d|\bref \d")


PUBLIC = {"__init__.py", "pytest_plugin.py"}  # the modules whose help() a user reads


def strings_and_public_docstrings():
    """Every string literal of the package but private docstrings, with where it is."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = set()
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if not (isinstance(body, list) and body and isinstance(body[0], ast.Expr)):
                continue
            doc = body[0].value
            if isinstance(doc, ast.Constant) and isinstance(doc.value, str):
                # help() shows a public package's docstring; other modules' are for maintainers
                name = getattr(node, "name", "__init__" if path.name in PUBLIC else "_module")
                if name.startswith("_") and not name.startswith("__"):
                    skip.add(id(doc))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in skip
            ):
                yield f"{path.relative_to(PACKAGE)}:{node.lineno}", node.value


def test_no_message_or_public_docstring_cites_a_section_number():
    cited = [
        (where, text) for where, text in strings_and_public_docstrings() if SECTION.search(text)
    ]
    assert cited == []


def test_the_section_check_can_fail():
    assert SECTION.search("no 'or' (6.1)") and SECTION.search("see reference 4.3")
    assert not SECTION.search("between 1 and 1000 (the API maximum)")
