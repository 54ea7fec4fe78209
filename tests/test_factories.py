"""Every model of the project's apps has a factory, and each factory builds a valid row."""

from pathlib import Path

import factory
import pytest
from django.apps import apps
from django.conf import settings
from django.db.models import Model

from tests import factories
from vault.crypto import decrypt, secret_aad


def project_models() -> list[type[Model]]:
    """The models of the apps that live in this repository (not Django's or a library's)."""
    root = Path(settings.BASE_DIR).resolve()
    return [
        model
        for config in apps.get_app_configs()
        if Path(config.path).resolve().parent == root
        for model in config.get_models()
    ]


def factory_classes() -> list[type[factory.django.DjangoModelFactory]]:
    return [
        value
        for value in vars(factories).values()
        if isinstance(value, type)
        and issubclass(value, factory.django.DjangoModelFactory)
        and value._meta.model is not None
    ]


def test_the_project_apps_are_found():
    labels = {model._meta.app_label for model in project_models()}
    assert {"accounts", "flows", "executions", "vault"} <= labels


def test_every_model_of_the_project_has_a_factory():
    covered = {cls._meta.model for cls in factory_classes()}
    missing = sorted(model._meta.label for model in project_models() if model not in covered)
    assert missing == [], f"add a factory to tests/factories.py for: {', '.join(missing)}"


@pytest.mark.django_db
@pytest.mark.parametrize("factory_class", factory_classes(), ids=lambda cls: cls.__name__)
def test_each_factory_saves_a_valid_row(factory_class):
    first, second = factory_class(), factory_class()
    for row in (first, second):
        row.full_clean(validate_unique=True, validate_constraints=True)
    assert first.pk != second.pk


@pytest.mark.django_db
def test_a_secret_factory_seals_its_value_for_its_owner():
    owned_by_namespace = factories.SecretFactory(value="s3cret")
    owned_by_account = factories.SecretFactory(account=factories.AccountFactory(), value="mine")
    assert owned_by_account.namespace is None
    for secret, value in ((owned_by_namespace, "s3cret"), (owned_by_account, "mine")):
        secret.refresh_from_db()
        assert decrypt(bytes(secret.ciphertext), bytes(secret.nonce), secret.key_id, aad=secret_aad(secret)) == value


@pytest.mark.django_db
def test_an_approval_belongs_to_the_execution_of_its_step():
    execution = factories.ExecutionFactory()
    approval = factories.ApprovalFactory(task_run__execution=execution)
    assert approval.execution == approval.task_run.execution == execution
