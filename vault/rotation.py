"""What `manage.py rotate_credentials_key` re-encrypts: every kind of row holding a value
encrypted with the credentials key.

The vault's secrets are one kind; an app that seals values of its own with the key (the
executions' SECRET inputs) registers its kind when it loads (`AppConfig.ready`), so the vault
re-encrypts them without depending on the app.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Model, QuerySet

from vault.crypto import decrypt, encrypt, secret_aad
from vault.models import Secret


@dataclass(frozen=True)
class SealedKind:
    """Rows of one model whose `fields` hold a value encrypted with the credentials key."""

    label: str  # what the command's report counts: "secret(s)"
    rows: Callable[[], QuerySet]  # the rows that hold such a value
    key_of: Callable[[Model], str]  # the id of the key a row's value is encrypted with
    reseal: Callable[[Model], None]  # decrypt, encrypt with the first key, in place (DecryptionError)
    fields: tuple[str, ...]  # what a re-encryption writes


def _reseal_secret(secret: Secret) -> None:
    aad = secret_aad(secret)
    plaintext = decrypt(secret.ciphertext, secret.nonce, secret.key_id, aad=aad)
    secret.ciphertext, secret.nonce, secret.key_id = encrypt(plaintext, aad=aad)


_KINDS: list[SealedKind] = [
    SealedKind(
        label="secret(s)",
        rows=Secret.objects.all,
        key_of=lambda secret: secret.key_id,
        reseal=_reseal_secret,
        fields=("ciphertext", "nonce", "key_id"),
    )
]


def register(kind: SealedKind) -> None:
    """Add a kind of sealed rows (once: an app's `ready` may run twice in tests)."""
    if all(known.label != kind.label for known in _KINDS):
        _KINDS.append(kind)


def sealed_kinds() -> list[SealedKind]:
    return list(_KINDS)
