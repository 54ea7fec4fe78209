"""List pages cost the same number of queries for 5 rows as for 25: no query per row."""

import uuid
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, ApiToken, Membership, Namespace
from accounts.services import api_token_create
from executions.models import Approval, Execution, ExecutionEvent, Message, TaskRun
from flows.models import Agent, Flow, FlowRevision, Trigger
from tests.admin.helpers import changelist_url
from tests.factories import (
    AccountFactory,
    AgentFactory,
    ApprovalFactory,
    ExecutionEventFactory,
    ExecutionFactory,
    FlowFactory,
    FlowRevisionFactory,
    KeyValueFactory,
    MembershipFactory,
    MessageFactory,
    SecretFactory,
    TaskRunFactory,
    TriggerFactory,
)
from vault.models import KeyValue, Secret

pytestmark = pytest.mark.django_db

MAX_QUERIES = 20


def add_flows(namespace: Namespace, count: int) -> None:
    FlowFactory.create_batch(count, namespace=namespace)


def add_executions(namespace: Namespace, count: int) -> None:
    for execution in ExecutionFactory.create_batch(count, flow=FlowFactory(namespace=namespace)):
        task_run = TaskRunFactory(execution=execution, step_id="s", name="step", plugin_type="util.log", sequence=1)
        ExecutionEventFactory(execution=execution, task_run=task_run, type="log", message="hi")
        ApprovalFactory(task_run=task_run, execution=execution)


def add_accounts(namespace: Namespace, count: int) -> None:
    AccountFactory.create_batch(count, default_namespace=namespace)
    MembershipFactory.create_batch(count, namespace=namespace)


def add_agents(namespace: Namespace, count: int) -> None:
    for agent in AgentFactory.create_batch(count, namespace=namespace):
        MessageFactory(agent=agent, payload={})


def add_flow_records(namespace: Namespace, count: int) -> None:
    for flow in FlowFactory.create_batch(count, namespace=namespace):
        FlowRevisionFactory(flow=flow, number=1, source=flow.source)
        TriggerFactory(flow=flow, type="schedule", cron="* * * * *")


def add_vault(namespace: Namespace, count: int) -> None:
    for _ in range(count):
        name = uuid.uuid4().hex
        SecretFactory(namespace=namespace, name=name, ciphertext=b"x", nonce=b"123456789012")
        KeyValueFactory(namespace=namespace, key=name, value=name)


def add_tokens(namespace: Namespace, count: int) -> None:
    for account in AccountFactory.create_batch(count, default_namespace=namespace):
        api_token_create(actor=account, account=account, name="t")


CASES = [
    (Flow, add_flows),
    (Execution, add_executions),
    (TaskRun, add_executions),
    (ExecutionEvent, add_executions),
    (Approval, add_executions),
    (Account, add_accounts),
    (Membership, add_accounts),
    (Agent, add_agents),
    (Message, add_agents),
    (FlowRevision, add_flow_records),
    (Trigger, add_flow_records),
    (Secret, add_vault),
    (KeyValue, add_vault),
    (ApiToken, add_tokens),
]


@pytest.mark.parametrize(("model", "add_rows"), CASES, ids=[model.__name__ for model, _ in CASES])
def test_changelist_queries_do_not_grow_with_rows(
    client, ns_admin, tenant_a, django_assert_max_num_queries, model: type, add_rows: Callable
):
    client.force_login(ns_admin)
    add_rows(tenant_a.namespace, 5)
    with CaptureQueriesContext(connection) as few:
        assert client.get(changelist_url(model)).status_code == 200

    add_rows(tenant_a.namespace, 20)
    with django_assert_max_num_queries(min(len(few), MAX_QUERIES)):
        response = client.get(changelist_url(model))

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 25


def test_global_admin_execution_list_is_flat_too(client, global_admin, tenant_a, django_assert_max_num_queries):
    client.force_login(global_admin)
    add_executions(tenant_a.namespace, 5)
    with CaptureQueriesContext(connection) as few:
        client.get(changelist_url(Execution))

    add_executions(tenant_a.namespace, 20)
    with django_assert_max_num_queries(len(few)):
        response = client.get(changelist_url(Execution))

    assert response.context["cl"].result_count >= 25
