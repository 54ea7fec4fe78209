"""The execution page's "Replay from here" starts a replay through the service."""

import pytest
from django.test import override_settings

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus
from executions.services import execution_start
from tests.admin.helpers import admin_url, change_url
from tests.factories import AccountFactory, FlowFactory

CHAIN = """name: chain
tasks:
  - name: a
    type: util.echo
    properties: {value: "{{ execution.id }}"}
  - name: b
    type: util.echo
    properties: {value: b}
"""
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_engine")]


@pytest.fixture
def eager_engine():
    with override_settings(MILLRACE_ENGINE_EAGER=True):
        yield


@pytest.fixture
def ended(tenant_a):
    flow = FlowFactory(namespace=tenant_a.namespace, source=CHAIN, name="chain-in-a")
    admin = AccountFactory(role=Role.ADMIN, default_namespace=tenant_a.namespace)
    execution = execution_start(actor=admin, flow=flow)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCESS
    return execution


def replay_url(execution: Execution, step: str) -> str:
    return admin_url("executions_execution_replay", execution.pk, execution.task_runs.get(name=step).pk)


def test_an_executor_replays_from_a_step_and_lands_on_the_new_execution(client, tenant_a, ended):
    client.force_login(AccountFactory(role=Role.EXECUTOR, default_namespace=tenant_a.namespace))

    page = client.get(change_url(ended)).content.decode()
    response = client.post(replay_url(ended, "b"))

    replayed = Execution.objects.get(original=ended)
    assert "Replay from here" in page and replay_url(ended, "b") in page
    assert response.status_code == 302 and response.url == change_url(replayed)
    assert replayed.status == ExecutionStatus.SUCCESS
    assert replayed.task_runs.get(name="a").outputs == str(ended.pk)
    assert "replay of" in client.get(change_url(replayed)).content.decode()


def test_viewers_see_no_replay_and_cannot_post_one(client, viewer_a, ended):
    client.force_login(viewer_a)

    page = client.get(change_url(ended)).content.decode()
    response = client.post(replay_url(ended, "b"))

    assert "Replay from here" not in page
    assert response.status_code == 302
    assert not Execution.objects.filter(original=ended).exists()


def test_a_get_is_refused(client, tenant_a, ended):
    client.force_login(AccountFactory(role=Role.EXECUTOR, default_namespace=tenant_a.namespace))

    assert client.get(replay_url(ended, "b")).status_code == 405
