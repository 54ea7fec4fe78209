"""Helpers of the browser tests: screenshots for the README, engine calls and reads beside Playwright."""

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from django.db import connections

ROOT = Path(__file__).resolve().parents[2]
#: The README's screenshots, committed: rewritten only when asked (`make screenshots`).
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
#: Where a plain test run puts them (ignored by git), so `make test` leaves the checkout as it was.
LOCAL_SCREENSHOTS = ROOT / "var" / "screenshots"
T = TypeVar("T")

current_server: Any = None
"""The running `ConsoleServer` (set by its fixture): work given to `outside_playwright` goes to its database thread."""


def outside_playwright(work: Callable[[], T]) -> T:
    """Run `work` away from Playwright's event loop and return its result.

    Engine code rings the in-memory channel layer, which refuses to run beside a running
    loop. While a console server runs, `work` runs on the server's database thread, so it
    never uses the shared in-memory connection at the same time as the server; otherwise
    in a thread of its own.
    """
    if current_server is not None:
        return current_server.call(work)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:
            result["error"] = exc
        finally:
            connections.close_all()  # this thread's own connection (a shared in-memory one stays open)

    thread = threading.Thread(target=run, name="outside-playwright")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def wait_for_status(execution: Any, wanted: str, timeout: float = 30) -> list[str]:
    """The statuses an execution went through while polled, until `wanted` or the deadline."""
    model = type(execution)
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = outside_playwright(lambda: model.objects.values_list("status", flat=True).get(pk=execution.pk))
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == wanted:
            break
        time.sleep(0.1)
    return seen


def click_through(page: Any, selector: str) -> None:
    """Click a link or submit button and wait for the page it leads to (a form sent back with errors too)."""
    with page.expect_navigation():
        page.click(selector)


def screenshots_folder() -> Path:
    """`docs/screenshots/` under `MILLRACE_SCREENSHOTS=1`, else `var/screenshots/`."""
    return README_SCREENSHOTS if os.environ.get("MILLRACE_SCREENSHOTS") == "1" else LOCAL_SCREENSHOTS


def save_screenshot(page: Any, name: str) -> Path:
    """Save the whole page as `<name>.png` in `screenshots_folder()` (the README shows them)."""
    folder = screenshots_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def set_source(page: Any, text: str, selector: str = "#id_source") -> None:
    """Replace the YAML in the flow editor (CodeMirror over the textarea `selector`) at once."""
    page.wait_for_function("s => document.querySelector(s).mrEditor", arg=selector)
    page.evaluate(
        """([selector, text]) => {
            const view = document.querySelector(selector).mrEditor;
            view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: text}});
        }""",
        [selector, text],
    )


def put_cursor(page: Any, after: str, selector: str = "#id_source") -> None:
    """Focus the flow editor with the cursor just after the first `after` in its text."""
    page.evaluate(
        """([selector, after]) => {
            const view = document.querySelector(selector).mrEditor;
            const at = view.state.doc.toString().indexOf(after) + after.length;
            view.focus();
            view.dispatch({selection: {anchor: at}, scrollIntoView: true});
        }""",
        [selector, after],
    )
