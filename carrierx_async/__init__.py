"""carrierx_async: asyncio-native client for CarrierX Core API v2 "Browse Available DIDs"."""

__version__ = "0.1.0"
