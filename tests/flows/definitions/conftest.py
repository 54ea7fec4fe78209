"""Fixtures for the definition tests; tests marked `registry` use the real plugin catalog."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "registry: validates against the real plugin catalog")
