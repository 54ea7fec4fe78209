"""The execution console's second pass: bulk Cancel/Retry/Replay on the list (role checks, a
message per outcome, a bounded query count), "Run again with the same inputs", previous/next
run of a flow, the flow graph with each step's state, and the log filters' markup."""

import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from executions.admin.graph import step_states
from executions.models import Execution, ExecutionStatus, TaskStatus
from executions.services import execution_rerun, execution_start
from files.selectors import execution_file_open
from tests.admin.helpers import change_url, changelist_url
from tests.factories import AccountFactory, ExecutionFactory, FlowFactory, NamespaceFactory, TaskRunFactory
from vault.masking import MASK

E = ExecutionStatus
GATE = """
name: gated
tasks:
  - name: ask
    type: flow.pause
  - name: after
    type: util.echo
    properties: {value: done}
"""
FAILING = """
name: failing
tasks:
  - name: hello
    type: util.log
    properties: {message: "hello"}
  - name: parse
    type: data.json.parse
    properties: {text: "not json"}
"""
INPUTS = """
name: with-inputs
inputs:
  - {id: who, type: STRING}
  - {id: token, type: SECRET}
  - {id: doc, type: FILE, required: false}
tasks:
  - name: greet
    type: util.echo
    properties: {value: "hello {{ inputs.who }}"}
"""


@pytest.fixture
def space(settings, transactional_db):
    settings.MILLRACE_ENGINE_EAGER = True
    return NamespaceFactory(name="space-console")


@pytest.fixture
def executor(space):
    return AccountFactory(username="runner", role=Role.EXECUTOR, default_namespace=space)


@pytest.fixture
def viewer(space):
    return AccountFactory(username="watcher", role=Role.VIEWER, default_namespace=space)


def start(source: str, space, actor, **kwargs) -> Execution:
    flow = FlowFactory(namespace=space, source=source)
    execution = execution_start(actor=actor, flow=flow, **kwargs)
    execution.refresh_from_db()
    return execution


def bulk(client, name: str, *executions: Execution):
    data = {"action": name, "_selected_action": [str(e.pk) for e in executions], "index": "0"}
    return client.post(changelist_url(Execution), data)


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- bulk actions ------------------------------------------------------------------------------


def test_a_viewer_is_offered_no_bulk_action_and_cancels_nothing(client, space, executor, viewer):
    waiting = start(GATE, space, executor)
    client.force_login(viewer)

    page = client.get(changelist_url(Execution)).content.decode()
    response = bulk(client, "cancel_selected", waiting)

    assert "cancel_selected" not in page
    assert response.status_code == 200  # no such action for a viewer: the list again, nothing done
    waiting.refresh_from_db()
    assert waiting.status == E.WAITING


def test_a_viewer_of_one_namespace_cannot_cancel_there_as_executor_of_another(client, space, executor):
    other = NamespaceFactory(name="space-other")
    mixed = AccountFactory(username="mixed", role=Role.EXECUTOR, default_namespace=other)
    mixed.memberships.create(namespace=space, role=Role.VIEWER)
    waiting = start(GATE, space, executor)
    client.force_login(mixed)

    response = bulk(client, "cancel_selected", waiting)

    assert response.status_code == 302
    assert any(text.startswith("1 could not be cancelled") and "role" in text for text in texts(response))
    waiting.refresh_from_db()
    assert waiting.status == E.WAITING


def test_bulk_cancel_reports_each_outcome(client, space, executor):
    first, second = start(GATE, space, executor), start(GATE, space, executor)
    ended = start(FAILING, space, executor)
    client.force_login(executor)

    response = bulk(client, "cancel_selected", first, second, ended)

    assert response.status_code == 302
    messages = texts(response)
    assert "2 cancelled." in messages
    assert any(text.startswith(f"1 could not be cancelled ({str(ended.pk)[:8]}):") for text in messages)
    assert {e.status for e in Execution.objects.filter(pk__in=[first.pk, second.pk])} == {E.CANCELLED}
    ended.refresh_from_db()
    assert ended.status == E.FAILED


def test_bulk_retry_and_replay_go_through_the_services(client, space, executor):
    failed = start(FAILING, space, executor)
    waiting = start(GATE, space, executor)
    client.force_login(executor)

    replayed = bulk(client, "replay_selected", failed, waiting)
    replay = Execution.objects.get(original=failed)
    retried = bulk(client, "retry_selected", failed)

    assert "1 replayed as new executions." in texts(replayed)
    assert any(text.startswith("1 could not be replayed") for text in texts(replayed))
    assert replay.origin == "replay" and replay.inputs == failed.inputs
    assert "1 retrying." in texts(retried)
    failed.refresh_from_db()
    assert failed.attempt == 2


def test_the_list_shows_ids_badges_duration_labels_in_bounded_queries(
    client, space, executor, django_assert_max_num_queries
):
    flow = FlowFactory(namespace=space)

    def add(count: int) -> None:
        for number in range(count):
            ExecutionFactory(flow=flow, status=E.SUCCESS if number % 2 else E.FAILED, labels={"team": "ops"})

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(changelist_url(Execution)).status_code == 200
        return len(captured)

    client.force_login(executor)
    add(2)
    queries()  # the first request's caches (content types, sessions)
    few = queries()
    add(10)
    with django_assert_max_num_queries(25):
        page = client.get(changelist_url(Execution)).content.decode()

    assert queries() == few  # not one more query per row
    assert page.count('<span class="status-badge status-failed">FAILED</span>') == 6
    assert page.count('<span class="status-badge status-success">SUCCESS</span>') == 6
    assert "field-short_id" in page and "field-duration" in page and "team: ops" in page
    assert "executions/console.css" in page


# --- run again ----------------------------------------------------------------------------------


def test_run_again_starts_the_flow_with_the_same_inputs_secrets_and_files(client, space, executor):
    upload = SimpleUploadedFile("report.csv", b"a,b\n1,2\n")
    original = start(INPUTS, space, executor, inputs={"who": "Ada", "token": "t0ken"}, files={"doc": upload})
    client.force_login(executor)

    response = client.post(reverse("admin:executions_execution_rerun", args=[original.pk]))

    again = Execution.objects.exclude(pk=original.pk).get(flow=original.flow)
    assert response.status_code == 302 and response["Location"] == change_url(again)
    assert again.status == E.SUCCESS, again.error
    assert again.inputs["who"] == "Ada" and again.inputs["token"] == MASK
    assert again.sealed_inputs and again.sealed_inputs != original.sealed_inputs  # sealed anew
    assert again.inputs["doc"] != original.inputs["doc"] and str(again.pk) in again.inputs["doc"]
    name, opened = execution_file_open(namespace_name=space.name, execution_id=str(again.pk), uri=again.inputs["doc"])
    with opened:
        assert (name, opened.read()) == ("report.csv", b"a,b\n1,2\n")
    assert again.origin == "console"


def test_run_again_is_refused_to_a_viewer_and_offered_to_executors(client, space, executor, viewer):
    original = start(FAILING, space, executor)
    client.force_login(viewer)
    as_viewer = client.get(change_url(original)).content.decode()

    response = client.post(reverse("admin:executions_execution_rerun", args=[original.pk]), follow=True)

    assert "rerun-button" not in as_viewer
    assert "needs the role" in response.content.decode()
    assert Execution.objects.count() == 1
    client.force_login(executor)
    assert "rerun-button" in client.get(change_url(original)).content.decode()


def test_run_again_with_inputs_the_flow_no_longer_takes_goes_to_the_run_form(client, space, executor):
    original = start(INPUTS, space, executor, inputs={"who": "Ada", "token": "t"})
    flow = original.flow
    flow.source = INPUTS.replace("{id: who, type: STRING}", "{id: who, type: INT}")
    flow.save()
    client.force_login(executor)

    response = client.post(reverse("admin:executions_execution_rerun", args=[original.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:flows_flow_run", args=[flow.pk])
    assert Execution.objects.count() == 1


def test_the_service_refuses_a_deleted_flow(space, executor):
    orphan = ExecutionFactory(flow=None, flow_name="gone", namespace=space, source=GATE)
    with pytest.raises(Exception, match="deleted"):
        execution_rerun(actor=executor, execution=orphan)


# --- previous and next, graph, log filters ---------------------------------------------------------


def test_previous_and_next_are_runs_of_the_same_flow_the_caller_may_see(client, space, executor):
    flow = FlowFactory(namespace=space)
    older, middle, newer = (ExecutionFactory(flow=flow, status=E.SUCCESS) for _ in range(3))
    ExecutionFactory(namespace=space, status=E.SUCCESS)  # another flow's run, in between
    client.force_login(executor)

    page = client.get(change_url(middle)).content.decode()
    first = client.get(change_url(older)).content.decode()

    assert re.search(rf'class="execution-previous" href="{change_url(older)}"', page)
    assert re.search(rf'class="execution-next" href="{change_url(newer)}"', page)
    assert 'class="execution-previous mr-muted"' in first  # nothing before the first run


def test_the_graph_marks_each_step_with_its_state_and_not_started_ones(client, space, executor):
    waiting = start(GATE, space, executor)
    client.force_login(executor)

    page = client.get(reverse("admin:executions_execution_live", args=[waiting.pk])).content.decode()

    assert step_states(waiting) == {"ask": TaskStatus.WAITING}
    assert 'data-step="ask" data-state="waiting"' in page
    assert 'data-step="after" data-state="not-started"' in page


def test_a_step_run_many_times_shows_what_is_still_going_on_first(space):
    execution = ExecutionFactory(namespace=space)
    for status in (TaskStatus.SUCCESS, TaskStatus.RUNNING, TaskStatus.FAILED):
        TaskRunFactory(execution=execution, step_id="each", status=status)
    TaskRunFactory(execution=execution, step_id="done", status=TaskStatus.SUCCESS)
    TaskRunFactory(execution=execution, step_id="bad", status=TaskStatus.FAILED)
    TaskRunFactory(execution=execution, step_id="bad", status=TaskStatus.SUCCESS)

    assert step_states(execution) == {"each": "RUNNING", "done": "SUCCESS", "bad": "FAILED"}


def test_lifecycle_events_are_hidden_by_default_and_steps_offered_to_filter(client, space, executor):
    failed = start(FAILING, space, executor)
    client.force_login(executor)

    page = client.get(change_url(failed)).content.decode()

    logs = page[page.index('id="log-filters"') :]
    assert re.search(r'<tr class="log-row level-info" [^>]*data-step="hello">', logs)  # the log line, shown
    assert re.search(r'<tr class="log-row level-\w+ lifecycle" [^>]*hidden>', logs)  # state changes, hidden
    assert '<option value="hello">hello</option>' in logs and 'id="log-lifecycle"' in logs
