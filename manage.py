#!/usr/bin/env python
"""Django's command-line utility for Millrace."""

import os
import sys

from django.conf import settings
from django.core.management import execute_from_command_line

from config.startup import stop_on_setting_error


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    with stop_on_setting_error():
        _ = settings.INSTALLED_APPS  # loads the settings: a missing one stops here, in one line
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
