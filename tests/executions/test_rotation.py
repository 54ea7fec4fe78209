"""`rotate_credentials_key` re-seals the executions' SECRET inputs too: once it ran, the old key
can go and a retry or replay still reads them."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from executions.engine.inputs import inputs_unseal
from executions.models import Execution
from executions.services import execution_create
from tests.factories import AccountFactory, FlowFactory, SecretFactory
from vault import crypto

pytestmark = pytest.mark.django_db

TOKEN = "sealed-t0ken-9f2e"
SOURCE = """name: sealed
inputs:
  - {id: token, type: SECRET}
tasks:
  - name: show
    type: util.echo
    properties: {value: "{{ inputs.token }}"}
"""


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_credentials_key", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def keys(settings) -> tuple[str, str]:
    old, new = crypto.generate_key(), crypto.generate_key()
    settings.MILLRACE_CREDENTIALS_KEY = old
    return old, new


@pytest.fixture
def sealed(keys, namespace) -> Execution:
    account = AccountFactory(default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, source=SOURCE, created_by=account)
    return execution_create(flow=flow, inputs={"token": TOKEN}, created_by=account)


def test_sealed_inputs_are_sealed_again_and_the_old_key_can_go(settings, keys, sealed, namespace):
    old, new = keys
    plain = execution_create(flow=sealed.flow, inputs={}, created_by=sealed.created_by)  # nothing sealed
    secret = SecretFactory(name="DB", value="db-pass", namespace=namespace)
    before = Execution.objects.get(pk=sealed.pk)
    settings.MILLRACE_CREDENTIALS_KEY = f"{new},{old}"

    report = rotate()

    assert "re-encrypted 1 secret(s)" in report
    assert "re-encrypted 1 execution(s) with sealed SECRET inputs; 0 already" in report
    settings.MILLRACE_CREDENTIALS_KEY = new
    after = Execution.objects.get(pk=sealed.pk)
    assert after.sealed_inputs["keyId"] == crypto.current_key_id() != before.sealed_inputs["keyId"]
    assert inputs_unseal(after.pk, after.sealed_inputs) == {"token": TOKEN}
    assert TOKEN not in str(after.sealed_inputs)
    assert after.updated_at == before.updated_at and after.inputs == before.inputs
    assert Execution.objects.get(pk=plain.pk).sealed_inputs == {}
    secret.refresh_from_db()
    assert secret.key_id == crypto.current_key_id()
    assert "re-encrypted 0 execution(s) with sealed SECRET inputs; 1 already" in rotate()


def test_a_dry_run_writes_nothing(settings, keys, sealed):
    old, new = keys
    settings.MILLRACE_CREDENTIALS_KEY = f"{new},{old}"
    assert "would re-encrypt 1 execution(s) with sealed SECRET inputs" in rotate("--dry-run")
    assert Execution.objects.get(pk=sealed.pk).sealed_inputs == sealed.sealed_inputs


def test_inputs_that_cannot_be_unsealed_abort_the_whole_rotation(settings, keys, sealed, namespace):
    old, new = keys
    secret = SecretFactory(name="DB", value="db-pass", namespace=namespace)
    Execution.objects.filter(pk=sealed.pk).update(sealed_inputs={**sealed.sealed_inputs, "keyId": "gone"})
    settings.MILLRACE_CREDENTIALS_KEY = f"{new},{old}"
    with pytest.raises(CommandError, match="1 execution\\(s\\) with sealed SECRET inputs could not be decrypted"):
        rotate()
    secret.refresh_from_db()
    assert secret.key_id != crypto.current_key_id()  # the secrets' part was rolled back too
