"""Benchmarks for carrierx_async: ``python -m benchmarks [--quick]`` (see README.md)."""
