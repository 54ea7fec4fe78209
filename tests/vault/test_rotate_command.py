"""manage.py rotate_credentials_key: re-encrypt every secret with the first key."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.factories import AccountFactory, NamespaceFactory, SecretFactory
from vault import crypto
from vault.models import Secret

pytestmark = pytest.mark.django_db


def make_secret(name: str, value: str, **owner) -> Secret:
    return SecretFactory(name=name, value=value, **owner)


def read(secret: Secret) -> str:
    secret.refresh_from_db()
    return crypto.decrypt(secret.ciphertext, secret.nonce, secret.key_id, aad=crypto.secret_aad(secret))


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_credentials_key", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def old_secrets(settings):
    old, new = crypto.generate_key(), crypto.generate_key()
    settings.MILLRACE_CREDENTIALS_KEY = old
    namespace = NamespaceFactory(name="production")
    account = AccountFactory(username="ada")
    secrets = [
        make_secret("DB_PASSWORD", "db-pass", namespace=namespace),
        make_secret("API_KEY", "api-key", account=account),
    ]
    settings.MILLRACE_CREDENTIALS_KEY = f"{new},{old}"
    return secrets, new


def test_rotation_re_encrypts_and_the_old_key_is_no_longer_needed(settings, old_secrets):
    secrets, new = old_secrets
    before = {s.pk: (bytes(s.ciphertext), s.updated_at) for s in secrets}

    assert "re-encrypted 2 secret(s); 0 already" in rotate()

    current = crypto.current_key_id()
    settings.MILLRACE_CREDENTIALS_KEY = new
    assert [read(s) for s in secrets] == ["db-pass", "api-key"]
    for secret in secrets:
        assert secret.key_id == current
        assert bytes(secret.ciphertext) != before[secret.pk][0]
        assert secret.updated_at == before[secret.pk][1]
    assert "re-encrypted 0 secret(s); 2 already" in rotate()


def test_dry_run_changes_nothing(old_secrets):
    secrets, _ = old_secrets
    key_ids = {s.pk: s.key_id for s in secrets}
    assert "would re-encrypt 2 secret(s)" in rotate("--dry-run")
    for secret in secrets:
        secret.refresh_from_db()
        assert secret.key_id == key_ids[secret.pk]


def test_an_undecryptable_secret_aborts_the_whole_rotation(old_secrets):
    secrets, _ = old_secrets
    broken = secrets[0]
    broken.name = "RENAMED"  # the aad no longer matches the ciphertext
    broken.save()
    with pytest.raises(CommandError, match="1 secret\\(s\\) could not be decrypted") as raised:
        rotate()
    assert "db-pass" not in str(raised.value)
    other = Secret.objects.get(pk=secrets[1].pk)
    assert other.key_id != crypto.current_key_id()  # nothing was written


def test_without_a_key_in_production_the_command_fails_cleanly(settings):
    settings.MILLRACE_CREDENTIALS_KEY = ""
    settings.MILLRACE_LOCAL_KEYS = False
    with pytest.raises(CommandError, match="MILLRACE_CREDENTIALS_KEY must be set"):
        rotate()
