"""Every test here stores its files in a directory of its own."""

from tests.files.fixtures import fresh_storage  # noqa: F401  (an autouse fixture, shared with tests/api and tests/admin)
