"""Stored files go with what owns them: an execution deleted (in the console, one or in bulk), a
namespace deleted, executions purged by retention; a deletion that rolls back keeps them."""

import logging
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.services import namespace_delete
from core import storage
from executions.engine import retention
from executions.models import Execution, ExecutionStatus
from files.services import execution_file_put, namespace_file_put
from tests.factories import ExecutionFactory, FlowFactory, NamespaceFactory


def with_file(namespace, status=ExecutionStatus.SUCCESS, **fields) -> Execution:
    execution = ExecutionFactory(flow=FlowFactory(namespace=namespace), status=status, **fields)
    execution_file_put(
        namespace_name=namespace.name, execution_id=str(execution.pk), path="outputs/a.txt", content=b"a"
    )
    return execution


def execution_dirs(namespace_name: str) -> set[str]:
    return {entry.name for entry in storage.listing(f"{namespace_name}/executions")}


@pytest.fixture
def namespace_file(namespace, admin_account):
    namespace_file_put(account=admin_account, namespace=namespace, path="lib/x.py", content=b"x")
    return "production/_files/lib/x.py"


def test_a_deleted_execution_takes_its_files_and_only_its_own(
    namespace, namespace_file, django_capture_on_commit_callbacks
):
    gone, kept = with_file(namespace), with_file(namespace)
    with django_capture_on_commit_callbacks(execute=True):
        gone.delete()
    assert execution_dirs("production") == {str(kept.pk)}
    assert storage.exists(namespace_file)


def test_a_rolled_back_deletion_keeps_the_files(namespace, django_capture_on_commit_callbacks):
    execution = with_file(namespace)
    execution_id = str(execution.pk)  # the instance forgets it on delete, rolled back or not
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        execution.delete()
        raise RuntimeError("changed my mind")
    assert callbacks == []
    assert execution_dirs("production") == {execution_id}


def test_a_deleted_namespace_takes_all_its_files(
    namespace, other_namespace, admin_account, namespace_file, django_capture_on_commit_callbacks
):
    with_file(namespace)
    theirs = with_file(other_namespace)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        namespace_delete(actor=admin_account, namespace=namespace)
    assert len(callbacks) == 1  # the namespace's purge; its executions leave their files to it
    assert set(storage.walk("production")) == set()
    assert set(storage.walk("elsewhere")) == {f"elsewhere/executions/{theirs.pk}/outputs/a.txt"}


def test_a_namespace_of_the_same_name_starts_without_the_old_files(
    namespace, admin_account, namespace_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        namespace_delete(actor=admin_account, namespace=namespace)
    NamespaceFactory(name="production")
    assert not storage.exists(namespace_file)


def test_retention_purges_the_files_of_purged_executions_only(
    namespace, other_namespace, monkeypatch, django_capture_on_commit_callbacks
):
    old = timezone.now() - timedelta(days=60)
    purged = [with_file(namespace) for _ in range(3)] + [with_file(other_namespace)]
    without_files = ExecutionFactory(flow=FlowFactory(namespace=namespace), status=ExecutionStatus.FAILED)
    running = with_file(namespace, status=ExecutionStatus.RUNNING)
    recent = with_file(namespace)
    Execution.objects.filter(pk__in=[e.pk for e in [*purged, without_files, running]]).update(
        created_at=old, finished_at=old
    )
    listed: list[str] = []
    real = storage.listing
    monkeypatch.setattr(storage, "listing", lambda prefix: listed.append(prefix) or real(prefix))
    monkeypatch.setattr(retention, "CHUNK", 2)
    with django_capture_on_commit_callbacks(execute=True):
        counts = retention.purge_executions(cutoff=timezone.now() - timedelta(days=30), namespace=namespace)
    assert counts.executions == 4 and counts.chunks == 2
    assert listed.count("production/executions") == 2  # one listing per chunk, not one per execution
    assert execution_dirs("production") == {str(running.pk), str(recent.pk)}
    assert execution_dirs("elsewhere") == {str(purged[-1].pk)}
    with django_capture_on_commit_callbacks(execute=True):
        retention.purge_executions(cutoff=timezone.now() - timedelta(days=30))
    assert execution_dirs("elsewhere") == set()


def test_a_dry_run_deletes_no_files(namespace, django_capture_on_commit_callbacks):
    execution = with_file(namespace)
    Execution.objects.filter(pk=execution.pk).update(created_at=timezone.now() - timedelta(days=60))
    with django_capture_on_commit_callbacks(execute=True):
        assert retention.purge_executions(cutoff=timezone.now(), dry_run=True).executions == 1
    assert execution_dirs("production") == {str(execution.pk)}


@pytest.mark.django_db(transaction=True)
def test_a_storage_failure_after_the_deletion_is_logged_and_the_deletion_stands(monkeypatch, caplog):
    namespace = NamespaceFactory(name="production")
    execution = with_file(namespace)

    def broken(prefix: str) -> int:
        raise OSError("the bucket is away")

    monkeypatch.setattr(storage, "delete_prefix", broken)
    with caplog.at_level(logging.ERROR):
        execution.delete()
    assert not Execution.objects.filter(pk=execution.pk).exists()
    assert "the bucket is away" in caplog.text


def test_executions_deleted_in_the_console_take_their_files(
    client, namespace, make_account, django_capture_on_commit_callbacks
):
    """The console's delete page and its bulk "delete selected" action (one deletion each)."""
    one, two, three = with_file(namespace), with_file(namespace), with_file(namespace)
    client.force_login(make_account(Role.EDITOR))
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("admin:executions_execution_delete", args=[one.pk]), {"post": "yes"})
    assert page.status_code == 302
    bulk = {"action": "delete_selected", "_selected_action": [str(two.pk)], "index": "0", "post": "yes"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:executions_execution_changelist"), bulk)
    assert not Execution.objects.filter(pk__in=[one.pk, two.pk]).exists()
    assert execution_dirs("production") == {str(three.pk)}
