"""Built-in plugins; importing this package registers them."""

from connectors.plugins import control, data, http, kv, util

__all__ = ["control", "data", "http", "kv", "util"]
