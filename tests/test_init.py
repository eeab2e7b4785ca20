"""The public namespace is exactly what __all__ says, and nothing leaks from private modules."""

import importlib.metadata

import carrierx_async

EXPECTED = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "AvailableDid",
    "AvailableDidStream",
    "BadRequestError",
    "Capability",
    "CarrierXError",
    "Client",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "DEFAULT_BASE_URL",
    "EXTERNAL_FILTERS",
    "F",
    "Filter",
    "FilterAttributeError",
    "FilterError",
    "ItemIterator",
    "MAX_PAGE_SIZE",
    "NotFoundError",
    "Order",
    "Page",
    "PageIterator",
    "Pagination",
    "PaginationError",
    "PermissionDeniedError",
    "PoolTimeoutError",
    "Query",
    "RateLimitError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "RetryBudget",
    "ServerError",
    "StreamStats",
    "UnprocessableEntityError",
    "__version__",
    "parse_filter",
]


def test_all_is_pinned_and_sorted():
    assert carrierx_async.__all__ == EXPECTED
    assert sorted(EXPECTED) == EXPECTED


# The constants, from the API reference (/work/shared/carrierx-api.md: base URL, limit).
CONSTANTS = {"DEFAULT_BASE_URL": "https://api.carrierx.com/core/v2", "MAX_PAGE_SIZE": 1000}


def test_every_exported_name_is_the_object_it_names():
    """A class or function is exported under its own name; errors are CarrierXErrors."""
    named = [
        n
        for n in EXPECTED
        if n not in {*CONSTANTS, "EXTERNAL_FILTERS", "F", "Order", "Pagination", "__version__"}
    ]
    for name in named:
        assert getattr(carrierx_async, name).__name__ == name
    errors = [n for n in named if n.endswith("Error")]
    assert len(errors) == 20  # the tree drawn in _errors' docstring
    for name in errors:
        assert issubclass(getattr(carrierx_async, name), carrierx_async.CarrierXError), name
    for name, value in CONSTANTS.items():
        assert getattr(carrierx_async, name) == value
    assert type(carrierx_async.F).__name__ == "FieldNamespace"
    assert str(carrierx_async.F.state == "NY") == "state eq NY"
    assert importlib.metadata.version("carrierx_async") == carrierx_async.__version__


def test_nothing_public_outside_all():
    # Every public attribute of the package is either in __all__ or a submodule.
    public = {n for n in dir(carrierx_async) if not n.startswith(("_", "@"))}  # @: pytest
    modules = {n for n in public if type(getattr(carrierx_async, n)).__name__ == "module"}
    assert public - modules == set(carrierx_async.__all__) - {"__version__"}
    assert modules <= {"cli", "testing", "pytest_plugin", "examples"}


def test_every_error_is_a_carrierx_error():
    errors = [getattr(carrierx_async, n) for n in carrierx_async.__all__ if n.endswith("Error")]
    assert all(issubclass(e, carrierx_async.CarrierXError) for e in errors)
    assert issubclass(carrierx_async.FilterError, ValueError)
