"""Built-in plugins; importing this package registers them."""

from connectors.plugins import connector, control, data, http, kv, util

__all__ = ["connector", "control", "data", "http", "kv", "util"]
