"""Console pages of the agents: agents (with their pages and graphs) and messages. Importing them registers them."""

from agents.admin import agents, messages

__all__ = ["agents", "messages"]
