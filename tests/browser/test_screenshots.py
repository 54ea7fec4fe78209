"""Screenshots: a test run writes them outside the checkout's committed files unless asked to."""

from pathlib import Path

import pytest

from tests.browser import helpers


class FakePage:
    def __init__(self) -> None:
        self.paths: list[Path] = []

    def screenshot(self, *, path: str, full_page: bool) -> None:
        self.paths.append(Path(path))


@pytest.fixture
def page() -> FakePage:
    """A stand-in for Playwright's page: only where it is told to write matters here."""
    return FakePage()


def test_a_plain_run_leaves_the_committed_screenshots_alone(page, monkeypatch):
    monkeypatch.delenv("MILLRACE_SCREENSHOTS", raising=False)
    path = helpers.save_screenshot(page, "dashboard")
    assert page.paths == [path]
    assert path.parent == helpers.ROOT / "var" / "screenshots"
    assert helpers.ROOT / "docs" not in path.parents


def test_millrace_screenshots_1_refreshes_the_readme_ones(page, monkeypatch):
    monkeypatch.setenv("MILLRACE_SCREENSHOTS", "1")
    assert helpers.save_screenshot(page, "dashboard") == helpers.ROOT / "docs" / "screenshots" / "dashboard.png"
