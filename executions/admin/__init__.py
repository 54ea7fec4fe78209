"""Console pages of the executions app, one module a concern; importing them registers them."""

from executions.admin import executions, records

__all__ = ["executions", "records"]
