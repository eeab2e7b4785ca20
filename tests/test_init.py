"""The public namespace is exactly what __all__ says, and nothing leaks from private modules."""

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
    "FilterError",
    "ItemIterator",
    "MAX_PAGE_SIZE",
    "NotFoundError",
    "Page",
    "PageIterator",
    "PaginationError",
    "PermissionDeniedError",
    "Query",
    "RateLimitError",
    "ResponseDecodeError",
    "RetryBudget",
    "ServerError",
    "UnprocessableEntityError",
    "__version__",
    "parse_filter",
]


def test_all_is_pinned_and_sorted():
    assert carrierx_async.__all__ == EXPECTED
    assert sorted(EXPECTED) == EXPECTED


def test_every_exported_name_exists():
    for name in carrierx_async.__all__:
        assert getattr(carrierx_async, name) is not None


def test_public_objects_claim_the_package():
    for name in carrierx_async.__all__:
        obj = getattr(carrierx_async, name)
        if isinstance(obj, type):
            assert obj.__module__.startswith("carrierx_async."), name


def test_every_error_is_a_carrierx_error():
    errors = [getattr(carrierx_async, n) for n in carrierx_async.__all__ if n.endswith("Error")]
    assert all(issubclass(e, carrierx_async.CarrierXError) for e in errors)
    assert issubclass(carrierx_async.FilterError, ValueError)
