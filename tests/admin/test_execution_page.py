"""The execution page: timeline, masked inputs, logs, the live fragment, and run control through
the services (offered to executors and up, refused to others and outside the namespace)."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.roles import Role
from executions.admin import executions as execution_pages
from executions.models import Approval, Execution, ExecutionEvent, ExecutionStatus, TaskRun
from executions.services import execution_start
from tests.admin.helpers import change_url
from tests.factories import (
    AccountFactory,
    ApprovalFactory,
    ExecutionEventFactory,
    ExecutionFactory,
    ExecutionLabelFactory,
    FlowFactory,
    NamespaceFactory,
    TaskRunFactory,
)
from vault.masking import MASK
from vault.services import secret_set

E = ExecutionStatus

SECRET_FLOW = """
name: with-secret
tasks:
  - name: call
    type: util.echo
    properties: {value: "token ${API_TOKEN} for {{ inputs.who }}"}
  - name: shout
    type: util.log
    properties: {message: "Hello {{ inputs.who }}"}
"""
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
  - name: parse
    type: data.json.parse
    properties: {text: "not json"}
"""
SECRET_VALUE = "s3cret-value-that-must-not-show"


@pytest.fixture
def eager(settings, transactional_db):
    settings.MILLRACE_ENGINE_EAGER = True


@pytest.fixture
def space(transactional_db):
    return NamespaceFactory(name="space-exec")


@pytest.fixture
def executor(space):
    return AccountFactory(username="runner", role=Role.EXECUTOR, default_namespace=space)


@pytest.fixture
def viewer(space):
    return AccountFactory(username="watcher", role=Role.VIEWER, default_namespace=space)


def start(flow_source: str, space, actor, inputs=None) -> Execution:
    flow = FlowFactory(namespace=space, source=flow_source)
    execution = execution_start(actor=actor, flow=flow, inputs=inputs)
    execution.refresh_from_db()
    return execution


def control_url(execution: Execution, name: str) -> str:
    return reverse("admin:executions_execution_control", args=[execution.pk, name])


def decide_url(execution: Execution, approval: Approval, decision: str) -> str:
    return reverse("admin:executions_execution_decide", args=[execution.pk, approval.pk, decision])


def live_url(execution: Execution) -> str:
    return reverse("admin:executions_execution_live", args=[execution.pk])


def test_the_page_shows_the_timeline_masked_inputs_outputs_and_logs(client, eager, space, executor):
    admin = AccountFactory(role=Role.ADMIN, default_namespace=space)
    secret_set(actor=admin, name="API_TOKEN", value=SECRET_VALUE, namespace=space)
    execution = start(SECRET_FLOW, space, executor, {"who": "Ada"})
    assert execution.status == E.SUCCESS, execution.error
    client.force_login(executor)

    page = client.get(change_url(execution)).content.decode()

    assert SECRET_VALUE not in page
    timeline = page[page.index('class="execution-timeline"') : page.index("</table>", page.index("execution-timeline"))]
    assert timeline.index(">call<") < timeline.index(">shout<")
    assert timeline.count('class="task-row status-success"') == 2
    assert len(re.findall(r'class="bar status-success" style="margin-left: [\d.]+%; width: [\d.]+%"', timeline)) == 2
    assert MASK in timeline  # the stored, masked inputs and outputs
    assert "Hello Ada" in page  # the log line in the logs table
    assert re.search(r'id="execution-status" class="status-badge status-success"[^>]*>SUCCESS<', page)
    assert "execution-controls" not in page  # nothing to control on a finished run but retry... of a failure


def test_the_live_fragment_is_the_same_region_without_the_page(client, eager, space, executor):
    execution = start(SECRET_FLOW.replace("${API_TOKEN}", "plain"), space, executor, {"who": "Bo"})
    client.force_login(executor)

    fragment = client.get(live_url(execution))

    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<html" not in body
    assert 'data-terminal="true"' in body
    assert "execution-timeline" in body and "Hello Bo" in body
    newest = ExecutionEvent.objects.filter(execution=execution).order_by("-id").first()
    assert f'data-cursor="{newest.id}"' in body


def test_controls_are_offered_to_executors_only(client, eager, space, executor, viewer):
    execution = start(GATE, space, executor)
    assert execution.status == E.WAITING
    client.force_login(viewer)
    as_viewer = client.get(change_url(execution)).content.decode()
    client.force_login(executor)
    as_executor = client.get(change_url(execution)).content.decode()

    assert "control-pause" not in as_viewer and "approve-button" not in as_viewer
    assert "control-pause" in as_executor and "control-cancel" in as_executor
    assert "control-resume" not in as_executor and "control-retry" not in as_executor
    assert "approve-button" in as_executor and "reject-button" in as_executor


def test_a_viewer_posting_a_control_is_refused_by_the_service(client, eager, space, executor, viewer):
    execution = start(GATE, space, executor)
    client.force_login(viewer)

    response = client.post(control_url(execution, "cancel"), follow=True)

    assert response.status_code == 200
    assert "needs the role" in response.content.decode()
    execution.refresh_from_db()
    assert execution.status == E.WAITING
    assert not AuditEntry.objects.filter(action="execution.cancel").exists()


def test_cancel_from_the_page_goes_through_the_service(client, eager, space, executor):
    execution = start(GATE, space, executor)
    client.force_login(executor)

    response = client.post(control_url(execution, "cancel"))

    assert response.status_code == 302 and response["Location"] == change_url(execution)
    execution.refresh_from_db()
    assert execution.status == E.CANCELLED
    assert execution.error == "Cancelled by runner"
    assert AuditEntry.objects.filter(action="execution.cancel", resource_id=str(execution.pk)).count() == 1
    assert TaskRun.objects.get(execution=execution, name="ask").status == TaskRun.Status.CANCELLED


def test_pause_then_resume_then_approve_to_success(client, eager, space, executor):
    execution = start(GATE, space, executor)
    client.force_login(executor)

    client.post(control_url(execution, "pause"))
    execution.refresh_from_db()
    paused_page = client.get(change_url(execution)).content.decode()
    client.post(control_url(execution, "resume"))
    execution.refresh_from_db()
    resumed = execution.status
    approval = Approval.objects.get(execution=execution)
    client.post(decide_url(execution, approval, "approve"), {"comment": "looks fine"})

    assert "control-resume" in paused_page and "control-pause" not in paused_page
    assert resumed in (E.RUNNING, E.WAITING)
    execution.refresh_from_db()
    approval.refresh_from_db()
    assert execution.status == E.SUCCESS, execution.error
    assert (approval.status, approval.comment, approval.decided_by) == ("approved", "looks fine", executor)
    assert TaskRun.objects.get(execution=execution, name="after").outputs == "done"


def test_reject_fails_the_gate_with_who_and_why(client, eager, space, executor):
    execution = start(GATE, space, executor)
    approval = Approval.objects.get(execution=execution)
    client.force_login(executor)

    client.post(decide_url(execution, approval, "reject"), {"comment": "not today"})

    execution.refresh_from_db()
    assert execution.status == E.FAILED
    assert "Rejected by runner: not today" in execution.error
    page = client.get(change_url(execution)).content.decode()
    assert "approve-button" not in page
    assert "control-retry" in page


def test_retry_reruns_a_failed_execution(client, eager, space, executor):
    execution = start(FAILING, space, executor)
    assert execution.status == E.FAILED
    client.force_login(executor)

    client.post(control_url(execution, "retry"))

    execution.refresh_from_db()
    assert execution.attempt == 2
    assert execution.status == E.FAILED  # the same bad input fails again, as a second attempt
    assert TaskRun.objects.get(execution=execution, name="parse").attempt == 2


def test_an_action_in_the_wrong_status_is_a_message_not_an_error(client, eager, space, executor):
    execution = start(FAILING, space, executor)
    client.force_login(executor)

    response = client.post(control_url(execution, "resume"), follow=True)

    assert response.status_code == 200
    assert "Only a paused execution can be resumed" in response.content.decode()


def test_controls_need_post_and_a_known_name(client, eager, space, executor):
    execution = start(GATE, space, executor)
    client.force_login(executor)

    assert client.get(control_url(execution, "cancel")).status_code == 405
    assert client.post(control_url(execution, "explode")).status_code == 404
    approval = Approval.objects.get(execution=execution)
    assert client.post(decide_url(execution, approval, "maybe")).status_code == 404
    execution.refresh_from_db()
    assert execution.status == E.WAITING


def test_another_namespace_is_not_found_for_every_execution_url(client, ns_admin, tenant_a, tenant_b):
    foreign = tenant_b.execution
    client.force_login(ns_admin)

    assert client.get(live_url(foreign)).status_code == 404
    assert client.post(control_url(foreign, "cancel")).status_code == 404
    assert client.post(decide_url(foreign, tenant_b.approval, "approve")).status_code == 404
    # an approval of another execution cannot be decided through an execution one may see
    assert client.post(decide_url(tenant_a.execution, tenant_b.approval, "approve")).status_code == 404
    foreign.refresh_from_db()
    tenant_b.approval.refresh_from_db()
    assert foreign.status == E.QUEUED and tenant_b.approval.status == "pending"


def test_the_page_costs_the_same_queries_for_many_task_runs(client, ns_admin, tenant_a, django_assert_max_num_queries):
    def add_runs(execution: Execution, count: int) -> None:
        start = execution.task_runs.count()
        for number in range(start + 1, start + count + 1):
            run = TaskRunFactory(
                execution=execution, step_id=f"s{number}", name=f"s{number}", plugin_type="util.log", sequence=number
            )
            ExecutionEventFactory(execution=execution, task_run=run, type="log", message=f"line {number}")
            ApprovalFactory(task_run=run, execution=execution)

    execution = ExecutionFactory(flow=tenant_a.flow)
    client.force_login(ns_admin)
    add_runs(execution, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(change_url(execution)).status_code == 200

    add_runs(execution, 20)
    with django_assert_max_num_queries(len(few)):
        page = client.get(change_url(execution)).content.decode()
    assert "line 23" in page


def test_the_events_link_lists_this_executions_events_only(client, ns_admin, tenant_a):
    other = ExecutionFactory(flow=tenant_a.flow)
    ExecutionEventFactory(execution=other, type="log", message="event-of-the-other-run")
    client.force_login(ns_admin)

    url = reverse("admin:executions_executionevent_changelist") + f"?execution={tenant_a.execution.pk}"
    listing = client.get(url).content.decode()

    assert "event-in-a" in listing
    assert "event-of-the-other-run" not in listing


def test_the_execution_list_filters_by_date_and_searches_by_id(client, ns_admin, tenant_a, tenant_b):
    client.force_login(ns_admin)
    changelist = reverse("admin:executions_execution_changelist")

    since = (timezone.now() - timedelta(days=1)).isoformat()
    today = client.get(changelist, {"created_at__gte": since}).content.decode()
    by_id = client.get(changelist, {"q": str(tenant_a.execution.pk)}).content.decode()
    foreign_id = client.get(changelist, {"q": str(tenant_b.execution.pk)}).content.decode()
    words = client.get(changelist, {"q": "flow-in"}).content.decode()

    assert "flow-in-a" in today and "flow-in-b" not in today
    assert "1 execution" in by_id and "flow-in-a" in by_id
    assert "0 executions" in foreign_id
    assert "flow-in-a" in words and "flow-in-b" not in words


def test_a_long_timeline_is_cut_short_with_a_link_to_every_task_run(client, ns_admin, tenant_a, monkeypatch):
    monkeypatch.setattr(execution_pages, "TIMELINE_LIMIT", 4)
    execution = tenant_a.execution
    for n in range(6):
        TaskRunFactory(execution=execution, step_id="item", name=f"item-{n}", plugin_type="util.log", sequence=n + 2)
    client.force_login(ns_admin)

    page = client.get(change_url(execution)).content.decode()
    runs = client.get(reverse("admin:executions_taskrun_changelist") + f"?execution={execution.pk}").content.decode()

    assert page.count('class="task-row') == 4
    assert "The first 4 of 7 task runs." in page
    assert "item-5" in runs and "task-in-b" not in runs


def test_the_execution_list_filters_by_label_and_offers_only_visible_labels(client, ns_admin, tenant_a, tenant_b):
    labelled = ExecutionFactory(flow=tenant_a.flow, labels={"env": "prod"})
    ExecutionLabelFactory(execution=labelled, key="env", value="prod")
    ExecutionLabelFactory(execution=tenant_b.execution, key="secret-team", value="b")
    client.force_login(ns_admin)
    changelist = reverse("admin:executions_execution_changelist")

    everything = client.get(changelist).content.decode()
    prod = client.get(changelist, {"label": "env:prod"}).content.decode()
    malformed = client.get(changelist, {"label": "nocolon"}).content.decode()

    assert "?label=env%3Aprod" in everything and "secret-team" not in everything
    assert "1 execution" in prod and "env: prod" in prod
    assert "0 executions" in malformed
