"""Queue messages that never reach a worker (Redis restarted empty, a killed worker had
prefetched them, the broker refused the enqueue): the sweeper queues the work again, and a
refused enqueue does not fail the request whose transaction already committed.

`tests/system/test_chaos.py` shows the same with real processes, SIGKILL and a Redis restart.
"""

from uuid import uuid4

import pytest
from django.db import transaction
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts.roles import Role
from executions.engine.sweeper import sweep
from executions.engine.transitions import task_runs_create, transition
from executions.models import Execution, ExecutionStatus, TaskRun, TaskStatus
from executions.services import execution_create
from tests.executions.engine.support import TWO_STEPS, later, names_and_statuses, run_named
from tests.factories import AccountFactory, FlowFactory

pytestmark = pytest.mark.usefixtures("eager")
E, T = ExecutionStatus, TaskStatus


@pytest.fixture
def queued_execution(namespace, runner_account):
    """A QUEUED execution whose start message was lost: nothing was dispatched."""
    flow = FlowFactory(namespace=namespace, source=TWO_STEPS, created_by=runner_account)
    return execution_create(flow=flow, created_by=runner_account)


def test_an_execution_whose_start_was_lost_is_started_once_the_delay_passed(queued_execution, settings):
    settings.MILLRACE_REDISPATCH_SECONDS = 60
    assert sweep(now=later(30))["redispatched"] == 0  # may still be in the queue
    queued_execution.refresh_from_db()
    assert queued_execution.status == E.QUEUED

    assert sweep(now=later(61))["redispatched"] == 1
    queued_execution.refresh_from_db()
    assert queued_execution.status == E.SUCCESS, queued_execution.error
    assert run_named(queued_execution, "second").outputs == "one-two"
    assert sweep(now=later(600))["redispatched"] == 0


def test_a_queued_step_whose_message_was_lost_runs_once(queued_execution):
    run = TaskRun(
        id=uuid4(),
        execution=queued_execution,
        step_id="first",
        name="first",
        plugin_type="util.echo",
        sequence=1,
        status=T.QUEUED,
    )
    with transaction.atomic():
        transition(queued_execution, E.RUNNING)
        task_runs_create([run])  # as the walk leaves it, its message never sent
    assert sweep(now=later(61))["redispatched"] == 1
    run.refresh_from_db()
    assert (run.status, run.attempt) == (T.SUCCESS, 1)
    queued_execution.refresh_from_db()
    assert queued_execution.status == E.SUCCESS, queued_execution.error
    assert names_and_statuses(queued_execution) == [("first", T.SUCCESS), ("second", T.SUCCESS)]


def test_an_execution_left_without_its_advance_message_goes_on(queued_execution):
    """A step ended outside a worker (an approval, a timeout) and the advance message was lost."""
    run = TaskRun(
        id=uuid4(),
        execution=queued_execution,
        step_id="first",
        name="first",
        plugin_type="util.echo",
        sequence=1,
        status=T.QUEUED,
    )
    with transaction.atomic():
        transition(queued_execution, E.RUNNING)
        task_runs_create([run])
        transition(run, T.RUNNING, attempt=1)
        transition(run, T.SUCCESS, outputs="one")
    assert names_and_statuses(queued_execution) == [("first", T.SUCCESS)]
    assert sweep(now=later(61))["redispatched"] == 1
    queued_execution.refresh_from_db()
    assert queued_execution.status == E.SUCCESS, queued_execution.error
    assert run_named(queued_execution, "second").outputs == "one-two"


def test_paused_executions_are_not_dispatched_again(queued_execution, runner_account):
    from executions.services import execution_pause

    with transaction.atomic():
        transition(queued_execution, E.RUNNING)
    execution_pause(actor=runner_account, execution=Execution.objects.get(pk=queued_execution.pk))
    assert sweep(now=later(600))["redispatched"] == 0


def test_a_refused_enqueue_still_answers_the_start_and_the_sweeper_runs_it(
    settings, namespace, client_for, monkeypatch
):
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(namespace=namespace, source=TWO_STEPS, created_by=account)

    def broker_down(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    settings.MILLRACE_ENGINE_EAGER = False
    monkeypatch.setattr("django_q.tasks.async_task", broker_down)
    response = client_for(account).post(f"/api/v1/flows/{flow.pk}/run", {"input": {}}, format="json")
    assert response.status_code == 201, response.content
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    assert execution.status == E.QUEUED  # committed, its message lost

    settings.MILLRACE_ENGINE_EAGER = True
    assert sweep(now=later(61))["redispatched"] == 1
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS, execution.error


def test_a_step_sees_its_own_name_and_attempt(run_flow):
    execution = run_flow("""
name: attempts
tasks:
  - name: parse
    type: data.json.parse
    retry: {maxAttempts: 3, delay: 1, backoff: 1}
    properties: {text: "{{ '{\\"attempt\\": 2}' if task.attempt == 2 else 'not json' }}"}
  - name: after
    type: util.echo
    properties: {value: "{{ task.name }}-{{ task.attempt }}"}
""")
    assert run_named(execution, "parse").status == T.RETRYING
    sweep(now=later(2))
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS, execution.error
    assert run_named(execution, "parse").outputs == {"value": {"attempt": 2}}
    assert run_named(execution, "after").outputs == "after-1"
