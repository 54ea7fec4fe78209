"""Purge ended executions by hand, as the sweeper does past `MILLRACE_RETENTION_DAYS`.

    python manage.py purge_executions --older-than 7d [--namespace X] [--status SUCCESS] [--dry-run]

Only ended executions go (their task runs, events and approvals with them); running, waiting,
paused and queued ones are never touched, and audit entries are kept. Deletes go 500
executions at a time, each in its own short transaction. Prints the counts.
"""

import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Namespace
from executions.engine.retention import purge_executions
from executions.models import TERMINAL_EXECUTION_STATUSES

ENDS = ", ".join(sorted(TERMINAL_EXECUTION_STATUSES))
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
AGE = re.compile(r"^(\d+)([mhdw])$")


def parse_age(text: str) -> timedelta:
    """`7d`, `12h`, `30m`, `2w` as a timedelta."""
    match = AGE.match(text.strip())
    if not match:
        raise CommandError(f"--older-than takes a number and a unit (m, h, d, w), such as 7d; not {text!r}.")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = "Delete ended executions older than an age, with their task runs and events (audit entries stay)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", required=True, help="Age such as 7d, 12h, 30m or 2w.")
        parser.add_argument("--namespace", help="Only this namespace.")
        parser.add_argument("--status", action="append", help=f"Only this end status (repeatable): {ENDS}.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would go; delete nothing.")

    def handle(
        self, *args, older_than: str, namespace: str | None, status: list[str] | None, dry_run: bool, **options
    ) -> None:
        age = parse_age(older_than)
        statuses = tuple(s.upper() for s in status or ())
        refused = [s for s in statuses if s not in TERMINAL_EXECUTION_STATUSES]
        if refused:
            raise CommandError(
                f"--status takes an end status ({ENDS}), not {', '.join(refused)}; running executions are never purged."
            )
        scope = None
        if namespace:
            scope = Namespace.objects.filter(name=namespace).first()
            if scope is None:
                raise CommandError(f"No namespace named {namespace!r}.")
        counts = purge_executions(
            cutoff=timezone.now() - age, namespace=scope, statuses=statuses or None, dry_run=dry_run
        )
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {counts.executions} executions, {counts.task_runs} task runs, {counts.events} events."
        )
