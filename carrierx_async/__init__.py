"""carrierx_async: asyncio-native client for CarrierX Core API v2 "Browse Available DIDs"."""

from ._client import DEFAULT_BASE_URL, Client
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CarrierXError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    FilterAttributeError,
    FilterError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    PoolTimeoutError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    UnprocessableEntityError,
)
from ._fields import F
from ._filter_parser import parse_filter
from ._filters import Filter
from ._models import AvailableDid, Capability, Page
from ._pagination import StreamStats
from ._query import EXTERNAL_FILTERS, MAX_PAGE_SIZE, Order, Pagination, Query
from ._retry import RetryBudget
from ._stream import AvailableDidStream, ItemIterator, PageIterator

__version__ = "0.1.0"

__all__ = [
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
