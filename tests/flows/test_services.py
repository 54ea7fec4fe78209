"""Flow services: create, update (revisions), restore, delete, with validation, roles and trigger sync."""

from unittest import mock

import pytest
from django.db.models import QuerySet

from accounts.models import AuditEntry
from accounts.roles import Role
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from executions.models import Execution, ExecutionStatus, TaskStatus
from executions.services import flow_delete
from flows.models import Flow, FlowRevision, Trigger
from flows.services import flow_create, flow_restore, flow_update, flow_validate
from tests.factories import ExecutionFactory, FlowRevisionFactory, SecretFactory, TaskRunFactory
from vault.crypto import generate_key
from vault.models import Secret

pytestmark = pytest.mark.django_db
E, T = ExecutionStatus, TaskStatus

SIMPLE = "name: {name}\ntasks:\n  - name: hello\n    type: util.echo\n    properties: {{value: {value}}}\n"

WITH_TRIGGERS = """
name: triggered
description: from yaml
tags: [ops]
tasks:
  - name: hello
    type: util.echo
    properties: {value: hi}
triggers:
  - name: hook
    type: webhook
  - name: nightly
    type: schedule
    cron: "0 3 * * *"
    timezone: Europe/Paris
"""

NODES = """
metadata:
  name: graph
  version: "1.2.0"
nodes:
  start:
    type: util.echo
    params: {value: 1}
"""


@pytest.fixture
def editor(make_account):
    return make_account(Role.EDITOR)


def simple(name: str = "simple", value: str = "one") -> str:
    return SIMPLE.format(name=name, value=value)


def make_secret(name: str, **owner) -> Secret:
    return SecretFactory(name=name, value="value", **owner)


# --- create -----------------------------------------------------------------------------------


def test_create_takes_the_name_from_the_yaml_and_writes_revision_one(editor, namespace):
    source = simple("from-yaml")
    flow = flow_create(actor=editor, namespace=namespace, source=source)
    flow.refresh_from_db()
    assert (flow.name, flow.namespace, flow.format, flow.revision, flow.source) == (
        "from-yaml",
        namespace,
        Flow.Format.TASKS,
        1,
        source,
    )
    assert (flow.created_by, flow.updated_by) == (editor, editor)
    [revision] = FlowRevision.objects.filter(flow=flow)
    assert (revision.number, revision.source, revision.created_by) == (1, source, editor)
    [audit] = AuditEntry.objects.filter(action="flow.create")
    assert (audit.actor, audit.resource_type, audit.resource_id, audit.namespace) == (
        editor,
        "flow",
        str(flow.pk),
        namespace.name,
    )


def test_create_takes_the_name_argument_over_the_yaml_and_detects_the_format(editor, namespace):
    named = flow_create(actor=editor, namespace=namespace, source=simple("in-yaml"), name="given")
    assert named.name == "given"
    graph = flow_create(actor=editor, namespace=namespace, source=NODES)
    assert (graph.name, graph.format, graph.version) == ("graph", Flow.Format.NODES, "1.2.0")


def test_create_syncs_the_triggers_declared_in_the_yaml(editor, namespace):
    flow = flow_create(actor=editor, namespace=namespace, source=WITH_TRIGGERS)
    assert (flow.description, flow.tags) == ("from yaml", ["ops"])
    triggers = {trigger.name: trigger for trigger in Trigger.objects.filter(flow=flow)}
    assert set(triggers) == {"hook", "nightly"}
    hook, nightly = triggers["hook"], triggers["nightly"]
    assert hook.type == Trigger.Type.WEBHOOK and hook.from_definition and hook.enabled
    assert hook.key and len(hook.key) >= 20  # generated, unguessable
    assert (nightly.type, nightly.cron, nightly.timezone, nightly.key) == (
        Trigger.Type.SCHEDULE,
        "0 3 * * *",
        "Europe/Paris",
        None,
    )
    other = flow_create(actor=editor, namespace=namespace, source=WITH_TRIGGERS.replace("triggered", "twin"))
    assert Trigger.objects.get(flow=other, name="hook").key != hook.key


def test_a_flow_trigger_in_the_yaml_binds_the_watched_flow_of_the_same_namespace(editor, namespace):
    watched = flow_create(actor=editor, namespace=namespace, source=simple("watched"))
    source = (
        simple("watcher") + "triggers:\n  - name: after\n    type: flow\n    flow: watched\n    statuses: [FAILED]\n"
    )
    flow = flow_create(actor=editor, namespace=namespace, source=source)
    trigger = Trigger.objects.get(flow=flow)
    assert (trigger.type, trigger.source_flow, trigger.statuses) == (Trigger.Type.FLOW, watched, ["FAILED"])


def test_a_flow_trigger_watching_another_namespace_is_refused(editor, namespace, other_namespace, admin_account):
    flow_create(actor=admin_account, namespace=other_namespace, source=simple("watched"))
    flow_create(actor=editor, namespace=namespace, source=simple("watched"))  # same name, own namespace
    source = (
        simple("watcher") + "triggers:\n  - name: after\n    type: flow\n    namespace: elsewhere\n    flow: watched\n"
    )
    with pytest.raises(ValidationFailed) as refused:
        flow_create(actor=editor, namespace=namespace, source=source)
    assert refused.value.details[0]["path"] == "triggers[0].namespace"
    assert not Flow.objects.filter(name="watcher").exists()


def test_validation_errors_list_every_problem_with_path_and_line(editor, namespace):
    source = """name: broken
tasks:
  - name: a
    type: no.such.plugin
  - name: b
    type: util.echo
    retry: {maxAttempts: 0}
  - name: c
    type: http.request
    properties:
      url: "${NOPE}"
"""
    with pytest.raises(ValidationFailed) as refused:
        flow_create(actor=editor, namespace=namespace, source=source)
    assert refused.value.details == [
        {"path": "tasks[0].type", "line": 4, "message": "unknown plugin type 'no.such.plugin'"},
        {
            "path": "tasks[1].retry.maxAttempts",
            "line": 7,
            "message": "maxAttempts must be a whole number of at least 1",
        },
        {"path": "tasks[2].properties.url", "line": 11, "message": "unknown secret 'NOPE'"},
    ]
    assert not Flow.objects.exists() and not FlowRevision.objects.exists()
    assert [problem.path for problem in flow_validate(source=source, namespace=namespace)] == [
        "tasks[0].type",
        "tasks[1].retry.maxAttempts",
        "tasks[2].properties.url",
    ]


@pytest.mark.parametrize(
    "source",
    ["", "   ", "tasks: [", "name: x\n", "tasks:\n  - name: a\n    type: util.echo\n"],  # last: no name anywhere
)
def test_unusable_sources_are_refused(editor, namespace, source):
    with pytest.raises(ValidationFailed) as refused:
        flow_create(actor=editor, namespace=namespace, source=source)
    assert refused.value.details and all("path" in problem for problem in refused.value.details)
    assert not Flow.objects.exists()


def test_a_namespace_in_the_yaml_must_match(editor, namespace):
    with pytest.raises(ValidationFailed) as refused:
        flow_create(actor=editor, namespace=namespace, source="namespace: elsewhere\n" + simple())
    assert refused.value.details[0]["path"] == "namespace"


def test_a_duplicate_name_is_a_conflict(editor, namespace, other_namespace, admin_account):
    flow_create(actor=editor, namespace=namespace, source=simple("twice"))
    with pytest.raises(Conflict):
        flow_create(actor=editor, namespace=namespace, source=simple("twice", "two"))
    assert Flow.objects.filter(name="twice").count() == 1
    flow_create(actor=admin_account, namespace=other_namespace, source=simple("twice"))  # per namespace


def test_a_concurrent_create_of_the_same_name_is_a_conflict(editor, namespace):
    flow_create(actor=editor, namespace=namespace, source=simple("raced"))
    with mock.patch.object(QuerySet, "exists", return_value=False), pytest.raises(Conflict):  # the check raced
        flow_create(actor=editor, namespace=namespace, source=simple("raced", "two"))
    assert Flow.objects.filter(name="raced").count() == 1 and FlowRevision.objects.count() == 1


def test_missing_secrets_are_refused_at_save_and_known_ones_accepted(editor, namespace, settings):
    settings.MILLRACE_CREDENTIALS_KEY = generate_key()
    source = simple("secretive", "'${API_KEY} {{ secret(\"MINE\") }}'")
    with pytest.raises(ValidationFailed) as refused:
        flow_create(actor=editor, namespace=namespace, source=source)
    assert [problem["message"] for problem in refused.value.details] == [
        "unknown secret 'API_KEY'",
        "unknown secret 'MINE'",
    ]
    make_secret("API_KEY", namespace=namespace)
    make_secret("MINE", account=editor)
    assert flow_create(actor=editor, namespace=namespace, source=source).name == "secretive"


def test_creating_needs_the_editor_role(make_account, namespace, other_namespace):
    for role in (Role.VIEWER, Role.EXECUTOR):
        with pytest.raises(Forbidden):
            flow_create(actor=make_account(role), namespace=namespace, source=simple())
    with pytest.raises(NotFound):
        flow_create(actor=make_account(Role.EDITOR, namespace=other_namespace), namespace=namespace, source=simple())
    assert not Flow.objects.exists()


# --- update and restore -------------------------------------------------------------------------


def test_update_writes_a_revision_only_when_the_source_changes(editor, namespace):
    flow = flow_create(actor=editor, namespace=namespace, source=simple())
    flow = flow_update(actor=editor, flow=flow, source=simple(), description="same source")
    assert (flow.revision, flow.description) == (1, "same source")
    assert FlowRevision.objects.filter(flow=flow).count() == 1

    changed = simple(value="two")
    flow = flow_update(actor=editor, flow=flow, source=changed)
    flow.refresh_from_db()
    assert (flow.revision, flow.source) == (2, changed)
    assert list(FlowRevision.objects.filter(flow=flow).values_list("number", "source")) == [
        (2, changed),
        (1, simple()),
    ]
    with pytest.raises(ValidationFailed):
        flow_update(actor=editor, flow=flow, source="tasks: nope")
    flow.refresh_from_db()
    assert flow.revision == 2 and FlowRevision.objects.filter(flow=flow).count() == 2


def test_update_resyncs_triggers_and_keeps_webhook_keys(editor, namespace):
    flow = flow_create(actor=editor, namespace=namespace, source=WITH_TRIGGERS)
    key = Trigger.objects.get(flow=flow, name="hook").key
    without_schedule = WITH_TRIGGERS.split("  - name: nightly")[0]
    flow_update(actor=editor, flow=flow, source=without_schedule)
    assert list(Trigger.objects.filter(flow=flow).values_list("name", "key")) == [("hook", key)]
    as_schedule = without_schedule.replace("type: webhook", 'type: schedule\n    cron: "*/5 * * * *"')
    flow_update(actor=editor, flow=flow, source=as_schedule)
    hook = Trigger.objects.get(flow=flow, name="hook")
    assert (hook.type, hook.cron, hook.key) == (Trigger.Type.SCHEDULE, "*/5 * * * *", None)


def test_renaming_refuses_a_name_in_use(editor, namespace):
    flow_create(actor=editor, namespace=namespace, source=simple("taken"))
    flow = flow_create(actor=editor, namespace=namespace, source=simple("mine"))
    with pytest.raises(Conflict):
        flow_update(actor=editor, flow=flow, name=" taken ")
    assert flow_update(actor=editor, flow=flow, name=" renamed ").name == "renamed"


def test_restore_writes_a_new_revision_with_the_old_source(editor, namespace):
    flow = flow_create(actor=editor, namespace=namespace, source=simple())
    flow = flow_update(actor=editor, flow=flow, source=simple(value="two"))
    restored = flow_restore(actor=editor, flow=flow, revision=1)
    restored.refresh_from_db()
    assert (restored.revision, restored.source) == (3, simple())
    assert FlowRevision.objects.get(flow=flow, number=3).source == simple()
    assert FlowRevision.objects.get(flow=flow, number=2).source == simple(value="two")
    with pytest.raises(NotFound):
        flow_restore(actor=editor, flow=flow, revision=9)


def test_update_and_restore_need_the_editor_role(editor, make_account, namespace, other_namespace):
    flow = flow_create(actor=editor, namespace=namespace, source=simple())
    viewer, outsider = make_account(Role.VIEWER), make_account(Role.EDITOR, namespace=other_namespace)
    with pytest.raises(Forbidden):
        flow_update(actor=viewer, flow=flow, source=simple(value="two"))
    with pytest.raises(Forbidden):
        flow_restore(actor=viewer, flow=flow, revision=9)  # the role is checked before the revision
    with pytest.raises(NotFound):
        flow_update(actor=outsider, flow=flow, description="x")
    flow.refresh_from_db()
    assert (flow.revision, flow.description) == (1, "")


# --- delete ------------------------------------------------------------------------------------


def test_delete_refuses_live_executions_unless_forced(editor, make_account, namespace):
    flow = flow_create(actor=editor, namespace=namespace, source=simple())
    live = ExecutionFactory(flow=flow, status=E.WAITING)
    waiting = TaskRunFactory(
        execution=live, step_id="hello", name="hello", plugin_type="util.echo", sequence=1, status=T.WAITING
    )
    done = ExecutionFactory(flow=flow, status=E.SUCCESS)
    with pytest.raises(Forbidden):
        flow_delete(actor=make_account(Role.EXECUTOR), flow=flow, force=True)
    with pytest.raises(Conflict):
        flow_delete(actor=editor, flow=flow)
    assert Flow.objects.filter(pk=flow.pk).exists()
    assert Execution.objects.get(pk=live.pk).status == E.WAITING

    flow_id = flow.pk
    flow_delete(actor=editor, flow=flow, force=True)
    assert not Flow.objects.filter(pk=flow_id).exists()
    live.refresh_from_db()
    done.refresh_from_db()
    waiting.refresh_from_db()
    assert (live.status, live.flow_id, waiting.status) == (E.CANCELLED, None, T.CANCELLED)
    assert done.status == E.SUCCESS  # history stays
    assert AuditEntry.objects.filter(action="flow.delete", resource_id=str(flow_id)).exists()


def test_delete_without_live_executions_needs_no_force(editor, namespace):
    flow = flow_create(actor=editor, namespace=namespace, source=WITH_TRIGGERS)
    ExecutionFactory(flow=flow, status=E.FAILED)
    flow_delete(actor=editor, flow=flow)
    assert not Flow.objects.exists() and not Trigger.objects.exists()


def test_an_editor_cannot_reach_the_flow_creators_personal_secrets(db):
    """`${NAME}` is checked against the saver's secrets, and runs use the revision author's."""
    from accounts.roles import Role
    from core.errors import ValidationFailed
    from executions.engine.context import VaultResolver
    from executions.models import Execution
    from flows.services import flow_create, flow_update
    from tests.factories import AccountFactory, MembershipFactory
    from vault.services import secret_set

    owner = AccountFactory(role=Role.ADMIN)
    secret_set(actor=owner, name="PERSONAL", value="owner-only-secret", account=owner)
    flow = flow_create(
        actor=owner,
        namespace=owner.default_namespace,
        source="name: mine\ntasks:\n  - name: a\n    type: util.log\n    properties:\n      message: ok\n",
    )
    editor = AccountFactory(role=Role.VIEWER)
    MembershipFactory(account=editor, namespace=owner.default_namespace, role=Role.EDITOR)
    stealing = "name: mine\ntasks:\n  - name: a\n    type: util.log\n    properties:\n      message: ${PERSONAL}\n"
    with pytest.raises(ValidationFailed) as refused:
        flow_update(actor=editor, flow=flow, source=stealing)
    assert "PERSONAL" in str(refused.value.details)

    Flow.objects.filter(pk=flow.pk).update(source=stealing, revision=2)  # even written behind the services' back
    FlowRevisionFactory(flow=flow, number=2, source=stealing, created_by=editor)
    execution = Execution(flow=flow, flow_revision=2, namespace=flow.namespace, created_by=editor)
    with pytest.raises(LookupError):
        VaultResolver(execution).secret("PERSONAL")
