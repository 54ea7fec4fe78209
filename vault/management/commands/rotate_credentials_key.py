"""Re-encrypt every Secret with the current (first) MILLRACE_CREDENTIALS_KEY.

Rotation: put the new key first in MILLRACE_CREDENTIALS_KEY and keep the old one after
it, run this command, then remove the old key. It runs in one transaction: if any
secret cannot be decrypted nothing is changed, and the old key must stay configured.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from vault import crypto
from vault.models import Secret


class Command(BaseCommand):
    help = "Re-encrypt every secret with the first key of MILLRACE_CREDENTIALS_KEY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Decrypt and count what would change, without writing."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        try:
            current = crypto.current_key_id()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        changed: list[Secret] = []
        current_count = 0
        failures: list[str] = []
        with transaction.atomic():
            for secret in Secret.objects.select_for_update().order_by("pk").iterator(chunk_size=500):
                if secret.key_id == current:
                    current_count += 1
                    continue
                aad = crypto.secret_aad(secret)
                try:
                    plaintext = crypto.decrypt(secret.ciphertext, secret.nonce, secret.key_id, aad=aad)
                except crypto.DecryptionError as exc:
                    failures.append(f"{secret.pk} ({secret.name}): {exc}")
                    continue
                secret.ciphertext, secret.nonce, secret.key_id = crypto.encrypt(plaintext, aad=aad)
                changed.append(secret)
            if failures:
                raise CommandError(
                    f"{len(failures)} secret(s) could not be decrypted; nothing was changed:\n" + "\n".join(failures)
                )
            if not dry_run:
                # bulk_update leaves updated_at alone: the values did not change.
                Secret.objects.bulk_update(changed, ["ciphertext", "nonce", "key_id"], batch_size=500)
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {len(changed)} secret(s); {current_count} already used key {current}.")
        )
