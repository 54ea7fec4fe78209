"""The console pages of executions, agents, people and the vault cost the same number of queries
for a few rows as for many (the changelists of every model are in `test_queries`)."""

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEntry, Namespace
from accounts.services import audit_record
from executions.models import Execution
from flows.models import Agent, Flow
from tests.admin.helpers import change_url, changelist_url
from tests.factories import AgentFactory, AgentLinkFactory, ExecutionFactory, FlowFactory, MessageFactory

pytestmark = pytest.mark.django_db


def flat(client, url: str, add_rows: Callable[[int], None], assert_max) -> str:
    """Fetch `url` after a few rows and after many more; the second may not cost more queries."""
    add_rows(3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_rows(20)
    with assert_max(len(few)):
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_audit_log(client, ns_admin, tenant_a, django_assert_max_num_queries):
    def add(count: int) -> None:
        for number in range(count):
            audit_record(actor=ns_admin, action="flow.update", resource_type="flow", resource_id=str(number),
                         namespace="space-a")  # fmt: skip

    client.force_login(ns_admin)
    page = flat(client, changelist_url(AuditEntry), add, django_assert_max_num_queries)
    assert page.count("flow.update") >= 23


def test_filtered_and_searched_executions(client, ns_admin, tenant_a, django_assert_max_num_queries):
    def add(count: int) -> None:
        ExecutionFactory.create_batch(count, flow=tenant_a.flow, status=Execution.Status.FAILED, error="boom")

    client.force_login(ns_admin)
    url = changelist_url(Execution) + f"?status__exact=FAILED&namespace={tenant_a.namespace.pk}&q=boom"
    assert "23 executions" in flat(client, url, add, django_assert_max_num_queries)


def test_an_agents_page_with_its_messages_and_links(client, ns_admin, tenant_a, django_assert_max_num_queries):
    agent = tenant_a.agent

    def add(count: int) -> None:
        for _ in range(count):
            MessageFactory(agent=agent, payload={"n": 1})
            AgentLinkFactory(source=AgentFactory(namespace=tenant_a.namespace), receiver=agent)
            AgentLinkFactory(source=agent, receiver=AgentFactory(namespace=tenant_a.namespace))
            agent.flows.add(FlowFactory(namespace=tenant_a.namespace))

    client.force_login(ns_admin)
    flat(client, change_url(agent), add, django_assert_max_num_queries)


def add_workflows(namespace: Namespace) -> Callable[[int], None]:
    def add(count: int) -> None:
        for _ in range(count):
            flow = FlowFactory(namespace=namespace)
            first, second = AgentFactory.create_batch(2, namespace=namespace)
            first.flows.add(flow)
            second.flows.add(flow)
            AgentLinkFactory(source=first, receiver=second)

    return add


def test_the_workflows_page(client, ns_admin, tenant_a, django_assert_max_num_queries):
    client.force_login(ns_admin)
    page = flat(client, reverse("admin:flows_agent_workflows"), add_workflows(tenant_a.namespace),
                django_assert_max_num_queries)  # fmt: skip
    assert page.count("/graph/") >= 23


def test_a_workflow_graph(client, ns_admin, tenant_a, django_assert_max_num_queries):
    flow = FlowFactory(namespace=tenant_a.namespace, name="big")

    def add(count: int) -> None:
        previous = None
        for agent in AgentFactory.create_batch(count, namespace=tenant_a.namespace):
            agent.flows.add(flow)
            MessageFactory(agent=agent, payload={})
            if previous is not None:
                AgentLinkFactory(source=previous, receiver=agent)
            previous = agent

    client.force_login(ns_admin)
    page = flat(client, reverse("admin:flows_agent_graph", args=[flow.pk]), add, django_assert_max_num_queries)
    assert page.count('class="ag-node') == 23
    assert Agent.objects.filter(flows=flow).count() == 23 and Flow.objects.filter(pk=flow.pk).exists()
