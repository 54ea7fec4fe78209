"""The ActiveWorkflow (Huginn-style) agents: types, schedules, runtime, services, selectors, console.

The models stay where their tables are (`flows.Agent`/`AgentLink`, `executions.Message`/`AgentLog`;
docs/decisions.md, "Agents in one place"); this app sits above flows and executions and imports them.
"""
