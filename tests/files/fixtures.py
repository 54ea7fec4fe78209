"""A storage directory of each test's own, so what a test finds stored is what it stored."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def fresh_storage(settings, tmp_path: Path) -> Path:
    """The "millrace" storage in this test's temporary directory (imported by the test modules)."""
    root = tmp_path / "storage"
    millrace = settings.STORAGES["millrace"]
    settings.STORAGES = {
        **settings.STORAGES,
        "millrace": {**millrace, "OPTIONS": {**millrace["OPTIONS"], "location": str(root)}},
    }
    return root
