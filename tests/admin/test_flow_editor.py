"""The flow editor's server side: the validate view, the embedded catalog, the starters on
the add page, and the flows list and page with their last runs."""

from datetime import timedelta

import pytest
from django.urls import reverse

from executions.models import Execution, ExecutionStatus
from flows.admin.editor import editor_catalog
from flows.models import Flow
from flows.starters import all_starters, starter_get
from tests.admin.conftest import Tenant
from tests.admin.helpers import add_url, change_url, changelist_url
from tests.factories import ExecutionFactory, FlowFactory

pytestmark = pytest.mark.django_db
VALIDATE = reverse("admin:flows_flow_validate")
SECRET_USE = 'name: s\ntasks:\n  - name: a\n    type: util.log\n    properties: {message: "${NOPE}"}\n'


def test_validate_answers_the_problems_with_their_lines(client, viewer_a) -> None:
    client.force_login(viewer_a)
    broken = "name: x\ntasks:\n  - name: a\n    type: util.nope\n"
    body = client.post(VALIDATE, {"source": broken}).json()
    assert body["valid"] is False
    assert [(error["line"], error["path"]) for error in body["errors"]] == [(4, "tasks[0].type")]
    fine = client.post(VALIDATE, {"source": starter_get("tasks/hello").source}).json()
    assert fine == {"valid": True, "errors": []}


def test_validate_checks_secrets_only_in_a_readable_namespace(client, viewer_a, tenant_a: Tenant, tenant_b) -> None:
    client.force_login(viewer_a)
    own = client.post(VALIDATE, {"source": SECRET_USE, "namespace": str(tenant_a.namespace.pk)}).json()
    assert own["valid"] is False and "NOPE" in own["errors"][0]["message"]
    for other in (str(tenant_b.namespace.pk), "not-an-id", ""):  # as if none was given
        assert client.post(VALIDATE, {"source": SECRET_USE, "namespace": other}).json()["valid"] is True


def test_validate_refuses_bad_requests(client, viewer_a) -> None:
    assert client.post(VALIDATE, {"source": "x"}).status_code == 302  # to the login page
    client.force_login(viewer_a)
    missing = client.post(VALIDATE, {})
    assert missing.status_code == 400 and "source" in missing.json()["detail"]
    assert client.get(VALIDATE).status_code == 405


def test_the_catalog_has_plugins_their_properties_and_kestra_names() -> None:
    catalog = editor_catalog()
    http = catalog["plugins"]["http.request"]
    assert http["properties"][0]["name"] == "url" and http["properties"][0]["required"] is True
    assert "http.request" in http["example"] and http["doc"].startswith("<")
    assert "<code>then</code>" in catalog["plugins"]["flow.if"]["summary"]
    assert catalog["kestra"]["io.kestra.plugin.core.http.Request"]["plugin"] == "http.request"
    assert "uri" in catalog["kestra"]["io.kestra.plugin.core.http.Request"]["properties"]
    assert catalog["kestra"]["io.kestra.plugin.notifications.slack.SlackIncomingWebhook"]["plugin"] == "notify.slack"


def test_the_add_page_offers_the_starters_and_fills_the_chosen_one(client, editor_a) -> None:
    client.force_login(editor_a)
    page = client.get(add_url(Flow)).content.decode()
    for starter in all_starters():
        assert f'data-starter="{starter.key}"' in page
    assert 'id="mr-editor-catalog"' in page
    starter = starter_get("nodes/approval")
    response = client.get(add_url(Flow) + "?starter=nodes/approval")
    form = response.context["adminform"].form
    assert form.initial["source"] == starter.source and form.initial["name"] == "release"
    assert 'action="/admin/flows/flow/add/"' in response.content.decode()  # saving drops the choice
    unknown = client.get(add_url(Flow) + "?starter=nope")
    assert "source" not in unknown.context["adminform"].form.initial


def test_a_flows_page_shows_its_last_runs_and_links_to_them(client, viewer_a, tenant_a: Tenant) -> None:
    flow = tenant_a.flow
    runs = [ExecutionFactory(flow=flow, status=ExecutionStatus.FAILED) for _ in range(12)]
    client.force_login(viewer_a)
    response = client.get(change_url(flow))
    recent = response.context["recent_runs"]
    assert len(recent) == 10 and recent[0].pk == runs[-1].pk
    page = response.content.decode()
    executions = f"{changelist_url(Execution)}?flow__id__exact={flow.pk}"
    assert page.count(f'href="{executions}"') == 2  # the object tools and the last runs
    assert f'href="{change_url(runs[-1])}"' in page
    listed = client.get(executions).context["cl"].result_list
    assert {execution.flow_id for execution in listed} == {flow.pk}


def test_the_flows_list_shows_each_last_run_in_one_query(
    client, ns_admin, tenant_a: Tenant, django_assert_max_num_queries
) -> None:
    client.force_login(ns_admin)
    url = changelist_url(Flow)
    client.get(url)  # warm the session and the permission caches
    with django_assert_max_num_queries(99) as few:
        client.get(url)
    for index in range(15):
        flow = FlowFactory(namespace=tenant_a.namespace, name=f"many-{index}")
        old, new = ExecutionFactory(flow=flow), ExecutionFactory(flow=flow, status=ExecutionStatus.SUCCESS)
        Execution.objects.filter(pk=old.pk).update(created_at=new.created_at - timedelta(hours=1))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    flows = {flow.name: flow for flow in response.context["cl"].result_list}
    assert flows["many-3"].last_run_status == ExecutionStatus.SUCCESS
    page = response.content.decode()
    assert page.count('class="mr-badge mr-status-success"') >= 15
    assert 'id="mr-editor-catalog"' not in page
