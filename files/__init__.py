"""Namespace files and execution files: role-checked reads and writes over `core.storage`."""
