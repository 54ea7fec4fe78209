"""A missing or invalid setting stops the start with one line naming it, never a traceback.

The settings raise `SettingError`; the entry points (manage.py, config/asgi.py) load the
settings inside `stop_on_setting_error()`, which prints the message to stderr and exits 2.
"""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured

EXIT_CODE = 2


class SettingError(ImproperlyConfigured):
    """A required setting is missing or invalid; the message names it and says how to fix it."""


@contextmanager
def stop_on_setting_error() -> Iterator[None]:
    try:
        yield
    except SettingError as exc:
        print(f"Millrace cannot start: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CODE) from None


def env_bool(name: str, default: bool) -> bool:
    value = (os.environ.get(name) or "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingError(f"{name} must be true or false (1/0, yes/no, on/off), not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingError(f"{name} must be a whole number, not {value!r}.") from None


def env_float(name: str, default: float) -> float:
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise SettingError(f"{name} must be a number, not {value!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]
