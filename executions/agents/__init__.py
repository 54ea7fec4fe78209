"""The ActiveWorkflow (Huginn-style) agent runtime: types, schedules, propagation and services."""
