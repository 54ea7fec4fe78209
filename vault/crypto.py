"""AES-256-GCM encryption of secrets and credentials at rest.

Keys come from `settings.MILLRACE_CREDENTIALS_KEY`: one or more comma-separated keys,
each 32 bytes written as base64 (standard or URL-safe) or as 64 hex characters. The
first key encrypts; every key decrypts, so rotating means putting the new key first,
running `manage.py rotate_credentials_key`, then removing the old key. Each ciphertext
records the `key_id` (a fingerprint of its key) so decryption picks the right key.

Ciphertexts are bound to their owner and name through AES-GCM associated data: a
ciphertext copied into another row (another namespace, account or name) fails to
authenticate instead of disclosing its value there.
"""

import base64
import binascii
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from vault.models import Secret

KEY_BYTES = 32
NONCE_BYTES = 12
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")


class DecryptionError(Exception):
    """A ciphertext could not be decrypted: unknown key, wrong binding or tampered data."""


@dataclass(frozen=True)
class _Key:
    key_id: str
    aead: AESGCM


def generate_key() -> str:
    """Return a new random key, URL-safe base64, for `MILLRACE_CREDENTIALS_KEY`."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def fingerprint(key: bytes) -> str:
    """The `key_id` stored with each ciphertext: a hash prefix that does not reveal the key."""
    return hashlib.sha256(key).hexdigest()[:16]


def _decode_key(text: str, position: int) -> bytes:
    # Errors name the position, never the text: the text is the key.
    if _HEX_KEY.fullmatch(text):
        return bytes.fromhex(text)
    standard = text.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ImproperlyConfigured(
            f"MILLRACE_CREDENTIALS_KEY entry {position} is not a 32-byte key in base64 or 64 hex characters; "
            "generate one with `manage.py shell -c 'from vault.crypto import generate_key; print(generate_key())'`."
        )
    return raw


def _development_key(secret_key: str) -> bytes:
    """Derive a key from SECRET_KEY, for the embedded default and development only.

    Risk: whoever knows SECRET_KEY can decrypt every secret, and changing SECRET_KEY
    makes every stored secret unreadable. Production (DATABASE_URL set, DEBUG off) refuses
    to start encrypting without MILLRACE_CREDENTIALS_KEY for exactly that reason.
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=b"millrace", info=b"credentials key (development)")
    return hkdf.derive(secret_key.encode("utf-8"))


@lru_cache(maxsize=8)
def _keyring(configured: str, secret_key: str, local_keys: bool) -> tuple[_Key, ...]:
    entries = [entry.strip() for entry in configured.split(",") if entry.strip()]
    if entries:
        raw_keys = [_decode_key(entry, position) for position, entry in enumerate(entries, start=1)]
    elif local_keys:
        raw_keys = [_development_key(secret_key)]
    else:
        raise ImproperlyConfigured(
            "MILLRACE_CREDENTIALS_KEY must be set when DATABASE_URL is set (production); "
            "it encrypts secrets and credentials."
        )
    return tuple(_Key(fingerprint(raw), AESGCM(raw)) for raw in raw_keys)


def _keys() -> tuple[_Key, ...]:
    return _keyring(settings.MILLRACE_CREDENTIALS_KEY or "", settings.SECRET_KEY, bool(settings.MILLRACE_LOCAL_KEYS))


def current_key_id() -> str:
    """The `key_id` new ciphertexts get (the first configured key)."""
    return _keys()[0].key_id


def encrypt(plaintext: str, *, aad: str) -> tuple[bytes, bytes, str]:
    """Encrypt with the current key; return `(ciphertext, nonce, key_id)` to store together."""
    key = _keys()[0]
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = key.aead.encrypt(nonce, plaintext.encode("utf-8"), aad.encode("utf-8"))
    return ciphertext, nonce, key.key_id


def decrypt(ciphertext: bytes, nonce: bytes, key_id: str, *, aad: str) -> str:
    """Decrypt a stored value; `aad` must equal the one it was encrypted with.

    A row without `key_id` is tried against every configured key.
    """
    keys = [key for key in _keys() if key.key_id == key_id] if key_id else list(_keys())
    if not keys:
        raise DecryptionError(f"the value was encrypted with key {key_id!r}, which is not in MILLRACE_CREDENTIALS_KEY")
    for key in keys:
        try:
            plaintext = key.aead.decrypt(bytes(nonce), bytes(ciphertext), aad.encode("utf-8"))
        except (InvalidTag, ValueError):  # ValueError: a malformed nonce
            continue
        return plaintext.decode("utf-8")
    raise DecryptionError("the value does not authenticate: wrong key, a different owner or name, or tampered data")


def secret_aad(secret: "Secret") -> str:
    """Associated data binding a Secret's ciphertext to its owner and name.

    Renaming a secret or moving it to another owner therefore needs a re-encryption.
    """
    if secret.namespace_id is not None:
        kind, owner_id = "namespace", secret.namespace_id
    elif secret.account_id is not None:
        kind, owner_id = "account", secret.account_id
    else:
        raise ValueError("a secret needs an account or a namespace as owner")
    return f"{kind}:{uuid.UUID(str(owner_id))}:{secret.name}"
