"""A missing or invalid setting stops the start with one line naming it, never a traceback.

The settings raise `SettingError`; the entry points (manage.py, config/asgi.py) load the
settings inside `stop_on_setting_error()`, which prints the message to stderr and exits 2.
"""

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
