"""A namespace admin sees and reaches only its namespaces' rows; a global admin sees every row."""

import pytest

from accounts.models import Account, ApiToken, Membership, Namespace
from executions.models import Approval, Execution, ExecutionEvent, Message, TaskRun
from flows.models import Agent, Flow, FlowRevision, Trigger
from tests.admin.helpers import add_url, change_url, changelist_url
from vault.models import KeyValue, Secret

pytestmark = pytest.mark.django_db

# model, the tenant attribute holding its row, and the text that row shows on the changelist
LISTED = [
    (Namespace, "namespace", "space-{}"),
    (Flow, "flow", "flow-in-{}"),
    (FlowRevision, "revision", "flow-in-{}"),
    (Trigger, "trigger", "trigger-in-{}"),
    (Agent, "agent", "agent-in-{}"),
    (Message, "message", "agent-in-{}"),
    (Execution, "execution", "flow-in-{}"),
    (TaskRun, "task_run", "task-in-{}"),
    (ExecutionEvent, "event", "event-in-{}"),
    (Approval, "approval", "task-in-{}"),
    (Secret, "secret", "secret-in-{}"),
    (KeyValue, "kv", "kv-in-{}"),
    (Membership, "membership", "member-of-{}"),
]
IDS = [model.__name__ for model, _, _ in LISTED]


@pytest.mark.parametrize(("model", "attribute", "marker"), LISTED, ids=IDS)
def test_namespace_admin_lists_only_its_namespace(client, ns_admin, tenant_b, model, attribute, marker):
    client.force_login(ns_admin)

    response = client.get(changelist_url(model))

    assert response.status_code == 200
    assert marker.format("a") in response.content.decode()
    assert marker.format("b") not in response.content.decode()


@pytest.mark.parametrize(("model", "attribute", "marker"), LISTED, ids=IDS)
def test_global_admin_lists_every_namespace(client, global_admin, tenant_a, tenant_b, model, attribute, marker):
    client.force_login(global_admin)

    content = client.get(changelist_url(model)).content.decode()

    assert marker.format("a") in content
    assert marker.format("b") in content


@pytest.mark.parametrize(("model", "attribute", "marker"), LISTED, ids=IDS)
def test_namespace_admin_opens_rows_of_its_namespace(client, ns_admin, tenant_a, model, attribute, marker):
    client.force_login(ns_admin)

    response = client.get(change_url(getattr(tenant_a, attribute)))

    assert response.status_code == 200
    assert marker.format("a") in response.content.decode()


ADDABLE = [Namespace, Membership, Flow, Trigger, Agent, Message, KeyValue, Account, ApiToken]


@pytest.mark.parametrize("model", ADDABLE, ids=[model.__name__ for model in ADDABLE])
def test_add_pages_render_for_a_global_admin(client, global_admin, tenant_a, model):
    client.force_login(global_admin)

    response = client.get(add_url(model))

    assert response.status_code == 200
    assert 'name="_save"' in response.content.decode()


@pytest.mark.parametrize(("model", "attribute", "marker"), LISTED, ids=IDS)
def test_namespace_admin_cannot_open_or_change_the_other_namespace(
    client, ns_admin, tenant_a, tenant_b, model, attribute, marker
):
    client.force_login(ns_admin)
    obj = getattr(tenant_b, attribute)
    obj.refresh_from_db()  # as stored (a message bumps its agent's counter after the agent was built)
    before = {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}

    page = client.get(change_url(obj))
    post = client.post(change_url(obj), {"name": "hijacked", "description": "hijacked", "key": "hijacked"})

    assert page.status_code == 302
    assert post.status_code in (302, 403)  # 403 where nobody may change that model at all
    obj.refresh_from_db()
    assert {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields} == before
    followed = client.get(page["Location"]).content.decode()
    assert "Perhaps it was deleted?" in followed
    assert marker.format("b") not in followed


def test_namespace_admin_cannot_delete_the_other_namespace_by_url(client, ns_admin, tenant_b):
    client.force_login(ns_admin)

    response = client.post(change_url(tenant_b.flow).replace("/change/", "/delete/"), {"post": "yes"})

    assert response.status_code == 302
    assert Flow.objects.filter(pk=tenant_b.flow.pk).exists()


def test_search_only_searches_inside_the_namespaces(client, ns_admin, global_admin, tenant_b):
    client.force_login(global_admin)
    global_hit = client.get(changelist_url(Flow), {"q": "flow-in-b"}).content.decode()
    client.force_login(ns_admin)
    scoped_miss = client.get(changelist_url(Flow), {"q": "flow-in-b"}).content.decode()
    scoped_hit = client.get(changelist_url(Flow), {"q": "does a"}).content.decode()

    assert "flow-in-b" in global_hit.split('id="result_list"')[1]
    assert 'id="result_list"' not in scoped_miss
    assert "0 flows" in scoped_miss
    assert "flow-in-a" in scoped_hit.split('id="result_list"')[1]


def test_namespace_filter_offers_only_visible_namespaces(client, ns_admin, tenant_a, tenant_b):
    client.force_login(ns_admin)

    content = client.get(changelist_url(Execution)).content.decode()

    assert f"?namespace={tenant_a.namespace.pk}" in content
    assert str(tenant_b.namespace.pk) not in content
    assert "space-b" not in content


def test_namespace_filter_with_a_foreign_namespace_shows_nothing(client, ns_admin, tenant_a, tenant_b):
    client.force_login(ns_admin)

    own = client.get(changelist_url(Agent), {"namespace": str(tenant_a.namespace.pk)}).content.decode()
    foreign = client.get(changelist_url(Agent), {"namespace": str(tenant_b.namespace.pk)}).content.decode()

    assert "agent-in-a" in own
    assert "agent-in-a" not in foreign
    assert "agent-in-b" not in foreign


def test_status_filter_counts_only_scoped_rows(client, ns_admin, tenant_a, tenant_b):
    Execution.objects.filter(pk=tenant_b.execution.pk).update(status=Execution.Status.FAILED)
    client.force_login(ns_admin)

    content = client.get(changelist_url(Execution), {"status__exact": "FAILED"}).content.decode()

    assert "0 executions" in content
    assert "flow-in-b" not in content
