"""Re-encrypt every value encrypted with an older MILLRACE_CREDENTIALS_KEY with the current
(first) one: the vault's secrets and the executions' sealed SECRET inputs (`vault.rotation`).

Rotation: put the new key first in MILLRACE_CREDENTIALS_KEY and keep the old one after
it, run this command, then remove the old key. It runs in one transaction: if any
value cannot be decrypted nothing is changed, and the old key must stay configured.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from vault import crypto
from vault.rotation import SealedKind, sealed_kinds


class Command(BaseCommand):
    help = "Re-encrypt every secret and sealed input with the first key of MILLRACE_CREDENTIALS_KEY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Decrypt and count what would change, without writing."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        try:
            current = crypto.current_key_id()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        with transaction.atomic():
            for kind in sealed_kinds():
                changed, already = self._rotate(kind, current, dry_run)
                self.stdout.write(
                    self.style.SUCCESS(f"{verb} {changed} {kind.label}; {already} already used key {current}.")
                )

    def _rotate(self, kind: SealedKind, current: str, dry_run: bool) -> tuple[int, int]:
        """Re-encrypt one kind's rows (counted, not written, on a dry run); raises, and so
        rolls every kind back, when any cannot be decrypted."""
        changed, already, failures = [], 0, []
        for row in kind.rows().select_for_update().order_by("pk").iterator(chunk_size=500):
            if kind.key_of(row) == current:
                already += 1
                continue
            try:
                kind.reseal(row)
            except crypto.DecryptionError as exc:
                failures.append(f"{row.pk} ({row}): {exc}")
                continue
            changed.append(row)
        if failures:
            raise CommandError(
                f"{len(failures)} {kind.label} could not be decrypted; nothing was changed:\n" + "\n".join(failures)
            )
        if changed and not dry_run:
            # bulk_update leaves updated_at alone: the values did not change.
            kind.rows().model.objects.bulk_update(changed, list(kind.fields), batch_size=500)
        return len(changed), already
