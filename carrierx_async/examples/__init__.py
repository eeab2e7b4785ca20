"""Runnable examples of embedding carrierx_async; each module's docstring says how to run it."""
