"""Console pages of the flows app, one module a concern; importing them registers them."""

from flows.admin import agents, flows, triggers

__all__ = ["agents", "flows", "triggers"]
