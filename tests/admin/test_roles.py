"""What each role may do to the rows it can see: viewers read, editors write, the engine owns status."""

import pytest

from accounts.models import AuditEntry
from accounts.roles import Role
from executions.models import Execution, ExecutionEvent, TaskRun
from flows.models import Flow, FlowRevision, Trigger
from tests.admin.helpers import admin_url, change_url, changelist_url
from tests.factories import AccountFactory, MembershipFactory, SecretFactory
from vault.models import KeyValue, Secret

pytestmark = pytest.mark.django_db


def flow_form(flow: Flow, **changes: str) -> dict[str, str]:
    data = {
        "namespace": str(flow.namespace_id),
        "name": flow.name,
        "description": flow.description,
        "version": flow.version,
        "tags": "[]",
        "initial-tags": "[]",
        "format": flow.format,
        "source": flow.source,
        "revisions-TOTAL_FORMS": "0",
        "revisions-INITIAL_FORMS": "0",
    }
    return {**data, **changes}


def test_viewer_sees_a_read_only_form_and_cannot_post(client, viewer_a, tenant_a):
    client.force_login(viewer_a)

    page = client.get(change_url(tenant_a.flow))
    post = client.post(change_url(tenant_a.flow), flow_form(tenant_a.flow, description="changed"))

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert post.status_code == 403
    tenant_a.flow.refresh_from_db()
    assert tenant_a.flow.description == "does a things"


def test_viewer_cannot_add(client, viewer_a):
    client.force_login(viewer_a)

    assert client.get(admin_url("flows_flow_add")).status_code == 403
    assert client.get(admin_url("vault_keyvalue_add")).status_code == 403


def test_editor_changes_a_flow_and_a_new_source_is_a_new_revision(client, editor_a, tenant_a):
    client.force_login(editor_a)
    source = tenant_a.flow.source + "# edited\n"

    response = client.post(change_url(tenant_a.flow), flow_form(tenant_a.flow, source=source))

    assert response.status_code == 302
    tenant_a.flow.refresh_from_db()
    assert tenant_a.flow.source == source
    assert tenant_a.flow.revision == 2
    assert tenant_a.flow.updated_by == editor_a
    assert FlowRevision.objects.get(flow=tenant_a.flow, number=2).source == source
    entry = AuditEntry.objects.get(action="flow.update")  # written by flow_update, as for the API
    assert entry.summary == {"revision": 2}
    assert entry.actor == editor_a and entry.namespace == "space-a"


def test_saving_an_unchanged_source_keeps_the_revision(client, editor_a, tenant_a):
    client.force_login(editor_a)

    response = client.post(change_url(tenant_a.flow), flow_form(tenant_a.flow, description="new words"))

    assert response.status_code == 302
    tenant_a.flow.refresh_from_db()
    assert tenant_a.flow.description == "new words"
    assert tenant_a.flow.revision == 1
    assert FlowRevision.objects.filter(flow=tenant_a.flow).count() == 1


def test_editor_is_offered_only_namespaces_it_may_edit(client, editor_a, tenant_a, tenant_b):
    MembershipFactory(account=editor_a, namespace=tenant_b.namespace, role=Role.VIEWER)
    client.force_login(editor_a)

    form = client.get(admin_url("flows_flow_add")).content.decode()
    refused = client.post(admin_url("flows_flow_add"), flow_form(tenant_b.flow, name="sneaky"))

    assert f'value="{tenant_a.namespace.pk}"' in form
    assert f'value="{tenant_b.namespace.pk}"' not in form
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    assert not Flow.objects.filter(name="sneaky").exists()


def test_trigger_flow_choices_are_limited_to_editable_namespaces(client, editor_a, tenant_a, tenant_b):
    client.force_login(editor_a)

    form = client.get(admin_url("flows_trigger_add")).content.decode()

    assert "flow-in-a" in form
    assert "flow-in-b" not in form


def test_editor_adds_a_webhook_trigger_with_a_generated_key(client, editor_a, tenant_a):
    client.force_login(editor_a)
    data = {"flow": str(tenant_a.flow.pk), "name": "new-hook", "type": "webhook", "timezone": "UTC"}
    data |= {"statuses": "[]", "inputs": "{}", "enabled": "on", "cron": ""}

    response = client.post(admin_url("flows_trigger_add"), data)

    assert response.status_code == 302
    assert len(Trigger.objects.get(name="new-hook").key) >= 24


def test_webhook_key_is_shown_to_executors_only(client, viewer_a, tenant_a):
    executor = AccountFactory(role=Role.EXECUTOR, default_namespace=tenant_a.namespace)
    client.force_login(viewer_a)
    hidden = client.get(change_url(tenant_a.trigger)).content.decode()
    client.force_login(executor)
    shown = client.get(change_url(tenant_a.trigger)).content.decode()

    assert "hook-key-a" not in hidden
    assert "hook-key-a" in shown


def test_execution_status_cannot_be_changed_even_by_an_editor(client, editor_a, tenant_a):
    client.force_login(editor_a)

    page = client.get(change_url(tenant_a.execution))
    post = client.post(change_url(tenant_a.execution), {"status": "SUCCESS"})

    assert page.status_code == 200
    assert "Queued" in page.content.decode()
    assert 'name="status"' not in page.content.decode()
    assert post.status_code == 403
    tenant_a.execution.refresh_from_db()
    assert tenant_a.execution.status == Execution.Status.QUEUED
    assert client.get(admin_url("executions_execution_add")).status_code == 403


def test_engine_records_are_read_only_for_everyone(client, superuser, tenant_a):
    client.force_login(superuser)

    for obj in (tenant_a.task_run, tenant_a.event, tenant_a.approval, tenant_a.revision):
        assert client.post(change_url(obj), {}).status_code == 403
        delete = change_url(obj).replace("/change/", "/delete/")
        assert client.post(delete, {"post": "yes"}).status_code == 403
    assert TaskRun.objects.filter(pk=tenant_a.task_run.pk).exists()


def test_an_execution_that_has_not_ended_cannot_be_deleted(client, editor_a, tenant_a):
    client.force_login(editor_a)

    response = client.post(change_url(tenant_a.execution).replace("/change/", "/delete/"), {"post": "yes"})

    assert response.status_code == 403
    assert Execution.objects.filter(pk=tenant_a.execution.pk).exists()


def test_editor_deletes_an_ended_execution_with_its_engine_records(client, editor_a, tenant_a):
    Execution.objects.filter(pk=tenant_a.execution.pk).update(status=Execution.Status.SUCCESS)
    client.force_login(editor_a)
    delete = change_url(tenant_a.execution).replace("/change/", "/delete/")

    confirm = client.get(delete)
    response = client.post(delete, {"post": "yes"})

    assert confirm.status_code == 200
    assert response.status_code == 302
    assert not Execution.objects.filter(pk=tenant_a.execution.pk).exists()
    assert not ExecutionEvent.objects.filter(pk=tenant_a.event.pk).exists()


def test_editor_deletes_a_flow_with_its_revisions(client, editor_a, tenant_a):
    client.force_login(editor_a)

    response = client.post(change_url(tenant_a.flow).replace("/change/", "/delete/"), {"post": "yes"})

    assert response.status_code == 302
    assert not Flow.objects.filter(pk=tenant_a.flow.pk).exists()
    assert not FlowRevision.objects.filter(pk=tenant_a.revision.pk).exists()
    assert AuditEntry.objects.filter(action="flow.delete", resource_id=str(tenant_a.flow.pk)).count() == 1


def test_deleting_a_flow_cancels_its_running_executions(client, editor_a, tenant_a):
    assert tenant_a.execution.flow_id == tenant_a.flow.pk and not tenant_a.execution.is_terminal
    client.force_login(editor_a)

    client.post(change_url(tenant_a.flow).replace("/change/", "/delete/"), {"post": "yes"})

    execution = Execution.objects.get(pk=tenant_a.execution.pk)
    assert execution.status == "CANCELLED"
    assert AuditEntry.objects.filter(action="flow.delete", summary__cancelled=1).exists()


def test_viewer_cannot_bulk_delete(client, viewer_a, tenant_a):
    client.force_login(viewer_a)

    client.post(
        changelist_url(KeyValue), {"action": "delete_selected", "_selected_action": [tenant_a.kv.pk], "post": "yes"}
    )

    assert KeyValue.objects.filter(pk=tenant_a.kv.pk).exists()


def test_secret_never_shows_its_value(client, superuser, tenant_a):
    client.force_login(superuser)

    page = client.get(change_url(tenant_a.secret)).content.decode()

    assert "secret-in-a" in page
    assert "CIPHERTEXT" not in page
    assert "NONCE" not in page
    assert "Ciphertext" not in page
    assert "Nonce" not in page
    assert '<input type="password" name="value"' in page  # write-only: set here, never shown


def test_account_secret_is_visible_to_its_owner_only(client, viewer_a, editor_a, tenant_a):
    SecretFactory(account=viewer_a, name="my-own-secret", ciphertext=b"x", nonce=b"123456789012")

    client.force_login(viewer_a)
    own = client.get(changelist_url(Secret)).content.decode()
    client.force_login(editor_a)
    other = client.get(changelist_url(Secret)).content.decode()

    assert "my-own-secret" in own
    assert "my-own-secret" not in other
    assert "secret-in-a" in other


def test_a_flow_with_yaml_problems_is_refused_with_every_line(client, editor_a, tenant_a):
    client.force_login(editor_a)
    source = "name: broken\ntasks:\n  - name: a\n    type: no.such.plugin\n  - name: a\n    type: util.log\n"

    response = client.post(change_url(tenant_a.flow), flow_form(tenant_a.flow, source=source))

    assert response.status_code == 200  # the form comes back with its errors
    errors = response.context["adminform"].form.errors["source"]
    assert any("line 4" in error and "no.such.plugin" in error for error in errors)
    assert any("line 5" in error for error in errors)
    tenant_a.flow.refresh_from_db()
    assert tenant_a.flow.revision == 1 and "no.such.plugin" not in tenant_a.flow.source
