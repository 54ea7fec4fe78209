"""Console pages of the flows app, one module a concern; importing them registers them."""

from flows.admin import flows, triggers

__all__ = ["flows", "triggers"]
