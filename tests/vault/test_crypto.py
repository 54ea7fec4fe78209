"""AES-256-GCM at rest: keys, rotation, binding to owner and name, refusal without a key."""

import base64
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured

from vault import crypto
from vault.models import Secret

RAW_KEY = b"\xfb\xff\xbe" * 10 + b"\x01\x02"  # encodes with '+' and '/' (standard) or '-' and '_' (URL-safe)


@pytest.fixture
def key(settings) -> str:
    settings.MILLRACE_CREDENTIALS_KEY = crypto.generate_key()
    return settings.MILLRACE_CREDENTIALS_KEY


def test_round_trip(key):
    ciphertext, nonce, key_id = crypto.encrypt("p@ssw0rd ✓", aad="namespace:1:DB")
    assert b"p@ssw0rd" not in ciphertext
    assert len(nonce) == crypto.NONCE_BYTES
    assert key_id == crypto.current_key_id()
    assert crypto.decrypt(ciphertext, nonce, key_id, aad="namespace:1:DB") == "p@ssw0rd ✓"


def test_nonces_differ_between_encryptions(key):
    first, second = crypto.encrypt("same", aad="a"), crypto.encrypt("same", aad="a")
    assert first[1] != second[1]
    assert first[0] != second[0]


def test_decrypt_accepts_memoryview_from_the_database(key):
    ciphertext, nonce, key_id = crypto.encrypt("v", aad="a")
    assert crypto.decrypt(memoryview(ciphertext), memoryview(nonce), key_id, aad="a") == "v"


def test_wrong_aad_fails(key):
    ciphertext, nonce, key_id = crypto.encrypt("value", aad="namespace:1:DB")
    with pytest.raises(crypto.DecryptionError, match="does not authenticate"):
        crypto.decrypt(ciphertext, nonce, key_id, aad="namespace:2:DB")


@pytest.mark.parametrize("part", ["ciphertext", "nonce"])
def test_tampered_data_fails(key, part):
    ciphertext, nonce, key_id = crypto.encrypt("value", aad="a")
    flipped = {"ciphertext": ciphertext, "nonce": nonce}
    flipped[part] = bytes([flipped[part][0] ^ 1]) + flipped[part][1:]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(flipped["ciphertext"], flipped["nonce"], key_id, aad="a")


def test_generate_key_is_random_32_bytes():
    first, second = crypto.generate_key(), crypto.generate_key()
    assert first != second
    assert len(base64.urlsafe_b64decode(first)) == crypto.KEY_BYTES


def test_hex_standard_and_urlsafe_base64_are_the_same_key(settings):
    encodings = [
        RAW_KEY.hex(),
        base64.b64encode(RAW_KEY).decode(),
        base64.urlsafe_b64encode(RAW_KEY).decode().rstrip("="),
    ]
    assert "+" in encodings[1] and "-" in encodings[2]
    settings.MILLRACE_CREDENTIALS_KEY = encodings[0]
    ciphertext, nonce, key_id = crypto.encrypt("v", aad="a")
    for encoding in encodings[1:]:
        settings.MILLRACE_CREDENTIALS_KEY = encoding
        assert crypto.current_key_id() == key_id == crypto.fingerprint(RAW_KEY)
        assert crypto.decrypt(ciphertext, nonce, key_id, aad="a") == "v"


@pytest.mark.parametrize("bad", ["not-a-key", base64.b64encode(b"short").decode(), "ab" * 31])
def test_invalid_key_is_refused_without_echoing_it(settings, bad):
    settings.MILLRACE_CREDENTIALS_KEY = f"{crypto.generate_key()},{bad}"
    with pytest.raises(ImproperlyConfigured, match="entry 2") as raised:
        crypto.encrypt("v", aad="a")
    assert bad not in str(raised.value)


def test_rotation_first_key_encrypts_all_keys_decrypt(settings):
    old, new = crypto.generate_key(), crypto.generate_key()
    settings.MILLRACE_CREDENTIALS_KEY = old
    ciphertext, nonce, old_id = crypto.encrypt("v", aad="a")
    settings.MILLRACE_CREDENTIALS_KEY = f"{new}, {old}"
    assert crypto.decrypt(ciphertext, nonce, old_id, aad="a") == "v"
    assert crypto.encrypt("v", aad="a")[2] == crypto.current_key_id() != old_id
    settings.MILLRACE_CREDENTIALS_KEY = new
    with pytest.raises(crypto.DecryptionError, match="not in MILLRACE_CREDENTIALS_KEY"):
        crypto.decrypt(ciphertext, nonce, old_id, aad="a")


def test_empty_key_id_tries_every_key(settings):
    old, new = crypto.generate_key(), crypto.generate_key()
    settings.MILLRACE_CREDENTIALS_KEY = old
    ciphertext, nonce, _ = crypto.encrypt("v", aad="a")
    settings.MILLRACE_CREDENTIALS_KEY = f"{new},{old}"
    assert crypto.decrypt(ciphertext, nonce, "", aad="a") == "v"


def test_production_without_key_raises_when_first_needed(settings):
    settings.MILLRACE_CREDENTIALS_KEY = ""
    settings.MILLRACE_LOCAL_KEYS = False
    with pytest.raises(ImproperlyConfigured, match="MILLRACE_CREDENTIALS_KEY must be set"):
        crypto.encrypt("v", aad="a")
    with pytest.raises(ImproperlyConfigured):
        crypto.decrypt(b"x" * 20, b"n" * 12, "", aad="a")


def test_embedded_without_key_derives_a_development_key_from_secret_key(settings):
    settings.MILLRACE_CREDENTIALS_KEY = ""
    settings.MILLRACE_LOCAL_KEYS = True
    settings.SECRET_KEY = "dev-secret-key-one"
    ciphertext, nonce, key_id = crypto.encrypt("v", aad="a")
    assert crypto.decrypt(ciphertext, nonce, key_id, aad="a") == "v"
    settings.SECRET_KEY = "dev-secret-key-two"
    assert crypto.current_key_id() != key_id
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(ciphertext, nonce, key_id, aad="a")


def test_secret_aad_binds_owner_kind_owner_and_name():
    namespace_id, account_id = uuid.uuid4(), uuid.uuid4()
    assert crypto.secret_aad(Secret(namespace_id=namespace_id, name="DB")) == f"namespace:{namespace_id}:DB"
    assert crypto.secret_aad(Secret(account_id=account_id, name="DB")) == f"account:{account_id}:DB"
    assert crypto.secret_aad(Secret(namespace_id=str(namespace_id), name="DB")) == f"namespace:{namespace_id}:DB"
    with pytest.raises(ValueError, match="owner"):
        crypto.secret_aad(Secret(name="DB"))
