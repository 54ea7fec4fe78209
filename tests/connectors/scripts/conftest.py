"""Fixtures for script tests: limits set per test, and telling whether processes still live."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def limits(settings: Any) -> Callable[..., None]:
    """Lower some of MILLRACE_SCRIPT_LIMITS for one test: `limits(processes=8)`."""

    def lower(**values: int) -> None:
        settings.MILLRACE_SCRIPT_LIMITS = {**settings.MILLRACE_SCRIPT_LIMITS, **values}

    return lower


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")
