"""The flow pages of the console: editor errors, graph, revisions with diff and restore, Run."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from executions.models import Execution
from flows.admin.flow_pages import side_by_side
from flows.models import Flow, FlowRevision
from flows.services import flow_create, flow_update
from tests.admin.conftest import Tenant
from tests.admin.helpers import add_url, change_url
from tests.factories import AccountFactory, FlowFactory, MembershipFactory

pytestmark = pytest.mark.django_db

TYPED = """name: typed
inputs:
  - id: who
    type: STRING
    defaults: world
  - id: times
    type: INT
    required: true
  - id: ratio
    type: FLOAT
  - id: loud
    type: BOOLEAN
    defaults: false
  - id: payload
    type: JSON
tasks:
  - name: hello
    type: util.log
    properties:
      message: "{{ inputs.who }}"
"""


def url(name: str, flow: Flow, *args: object) -> str:
    return reverse(f"admin:flows_flow_{name}", args=[flow.pk, *args])


def form_data(flow: Flow, **changes: str) -> dict[str, str]:
    data = {
        "name": flow.name,
        "description": flow.description,
        "tags": "[]",
        "source": flow.source,
        "revisions-TOTAL_FORMS": "0",
        "revisions-INITIAL_FORMS": "0",
    }
    return {**data, **changes}


@pytest.fixture
def executor_a(tenant_a: Tenant):
    return AccountFactory(username="executor-a", role=Role.EXECUTOR, default_namespace=tenant_a.namespace)


@pytest.fixture
def typed_flow(tenant_a: Tenant, editor_a) -> Flow:
    return flow_create(actor=editor_a, namespace=tenant_a.namespace, source=TYPED)


@pytest.fixture
def three_revisions(tenant_a: Tenant, editor_a) -> Flow:
    flow = tenant_a.flow
    for n in (2, 3):
        flow = flow_update(actor=editor_a, flow=flow, source=flow.source.replace("Hello", f"Hello {n}"))
    return flow


# --- editor --------------------------------------------------------------------------------


def test_problems_carry_their_lines_to_the_editor(client, editor_a, tenant_a) -> None:
    client.force_login(editor_a)
    source = "name: broken\ntasks:\n  - name: a\n    type: no.such.plugin\n  - name: a\n    type: util.log\n"

    response = client.post(change_url(tenant_a.flow), form_data(tenant_a.flow, source=source))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-problem-lines="4,5"' in page
    assert "millrace/editor.js" in page


def test_a_namespace_the_yaml_contradicts_is_a_form_error(client, editor_a, tenant_a) -> None:
    client.force_login(editor_a)
    source = tenant_a.flow.source.replace("tasks:", "namespace: space-b\ntasks:")

    response = client.post(change_url(tenant_a.flow), form_data(tenant_a.flow, source=source))

    assert response.status_code == 200
    assert any("space-b" in error for error in response.context["adminform"].form.errors["source"])
    tenant_a.flow.refresh_from_db()
    assert tenant_a.flow.revision == 1


def test_a_taken_name_is_a_form_error_on_the_name(client, editor_a, tenant_a) -> None:
    client.force_login(editor_a)
    other = FlowFactory(namespace=tenant_a.namespace, name="taken", source=tenant_a.flow.source)

    response = client.post(change_url(tenant_a.flow), form_data(tenant_a.flow, name=other.name))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"]


def test_browser_line_ends_are_saved_as_the_yaml_s_own(client, editor_a, tenant_a) -> None:
    client.force_login(editor_a)
    crlf = tenant_a.flow.source.replace("\n", "\r\n")

    response = client.post(change_url(tenant_a.flow), form_data(tenant_a.flow, source=crlf))

    assert response.status_code == 302
    tenant_a.flow.refresh_from_db()
    assert tenant_a.flow.revision == 1  # the same YAML: no new revision
    assert "\r" not in tenant_a.flow.source


def test_the_trial_save_leaves_nothing_behind(client, editor_a, tenant_a) -> None:
    client.force_login(editor_a)
    source = "name: added\ntasks:\n  - name: a\n    type: util.log\n    properties:\n      message: hi\n"
    data = {"namespace": str(tenant_a.namespace.pk), "name": "added", "description": "", "tags": "[]"}

    response = client.post(add_url(Flow), {**data, "source": source, **form_data(tenant_a.flow, name="added")})

    assert response.status_code == 302
    flow = Flow.objects.get(name="added")
    assert list(flow.revisions.values_list("number", flat=True)) == [1]


def test_the_change_page_shows_the_graph_and_actions_by_role(client, viewer_a, executor_a, tenant_a) -> None:
    client.force_login(viewer_a)
    page = client.get(change_url(tenant_a.flow)).content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="mr-flow-graph"' in page
    assert 'data-step="hello"' in page
    assert url("run", tenant_a.flow) not in page  # a viewer may not run it
    assert url("revisions", tenant_a.flow) in page

    client.force_login(executor_a)
    assert url("run", tenant_a.flow) in client.get(change_url(tenant_a.flow)).content.decode()


# --- revisions ------------------------------------------------------------------------------


def test_revisions_are_listed_newest_first(client, viewer_a, three_revisions) -> None:
    client.force_login(viewer_a)
    response = client.get(url("revisions", three_revisions))
    assert [r.number for r in response.context["revisions"]] == [3, 2, 1]
    assert "Restore revision" not in response.content.decode()  # viewers may not restore


def test_compare_pairs_the_changed_lines(client, viewer_a, three_revisions) -> None:
    client.force_login(viewer_a)
    response = client.get(url("compare", three_revisions) + "?a=1&b=3")
    changed = [row for row in response.context["rows"] if row.kind != "equal"]
    assert [(row.kind, row.old_text.strip(), row.new_text.strip()) for row in changed] == [
        ("changed", "message: Hello", "message: Hello 3 2")
    ]


def test_compare_of_an_unknown_revision_goes_back_to_the_list(client, viewer_a, three_revisions) -> None:
    client.force_login(viewer_a)
    response = client.get(url("compare", three_revisions) + "?a=9&b=x")
    assert response.status_code == 302
    assert response["Location"] == url("revisions", three_revisions)


def test_an_editor_restores_a_revision_as_a_new_one(client, editor_a, three_revisions) -> None:
    client.force_login(editor_a)
    first = FlowRevision.objects.get(flow=three_revisions, number=1)

    response = client.post(url("restore", three_revisions, 1))

    assert response.status_code == 302
    assert response["Location"] == change_url(three_revisions)
    three_revisions.refresh_from_db()
    assert (three_revisions.revision, three_revisions.source) == (4, first.source)
    assert FlowRevision.objects.get(flow=three_revisions, number=4).created_by == editor_a


def test_restore_needs_the_editor_role_and_a_post(client, viewer_a, editor_a, three_revisions) -> None:
    client.force_login(viewer_a)
    assert client.post(url("restore", three_revisions, 1)).status_code == 403
    client.force_login(editor_a)
    assert client.get(url("restore", three_revisions, 1)).status_code == 405
    three_revisions.refresh_from_db()
    assert three_revisions.revision == 3


def test_restoring_a_missing_revision_says_so(client, editor_a, three_revisions) -> None:
    client.force_login(editor_a)
    response = client.post(url("restore", three_revisions, 42), follow=True)
    assert "Revision 42 of flow" in response.content.decode()


def test_flow_pages_of_another_namespace_are_missing(client, ns_admin, tenant_b) -> None:
    client.force_login(ns_admin)
    for name, args in (("revisions", ()), ("compare", ()), ("run", ()), ("restore", (1,))):
        response = (
            client.post(url(name, tenant_b.flow, *args)) if name == "restore" else client.get(url(name, tenant_b.flow))
        )
        assert response.status_code == 302, name
        assert response["Location"] == reverse("admin:index")
    assert tenant_b.flow.revisions.count() == 1


def test_the_revisions_page_costs_the_same_for_few_and_many(client, editor_a, tenant_a) -> None:
    client.force_login(editor_a)
    flow = tenant_a.flow

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("revisions", flow)).status_code == 200
        return len(queries)

    for n in range(2, 4):
        flow = flow_update(actor=editor_a, flow=flow, source=flow.source + f"# {n}\n")
    few = count()
    for n in range(4, 20):
        flow = flow_update(
            actor=AccountFactory(role=Role.EDITOR, default_namespace=tenant_a.namespace),
            flow=flow,
            source=flow.source + f"# {n}\n",
        )
    assert count() == few


# --- run -------------------------------------------------------------------------------------


def test_the_run_form_follows_the_declared_inputs(client, executor_a, typed_flow) -> None:
    client.force_login(executor_a)
    form = client.get(url("run", typed_flow)).context["form"]
    fields = form.fields
    assert fields["input_who"].initial == "world" and not fields["input_who"].required
    assert fields["input_times"].required
    assert type(fields["input_times"]).__name__ == "IntegerField"
    assert type(fields["input_ratio"]).__name__ == "FloatField"
    assert type(fields["input_loud"]).__name__ == "BooleanField"
    assert type(fields["input_payload"]).__name__ == "JsonField"


def test_running_starts_an_execution_with_typed_inputs(client, executor_a, typed_flow, settings) -> None:
    settings.MILLRACE_ENGINE_EAGER = True
    client.force_login(executor_a)

    response = client.post(
        url("run", typed_flow),
        {
            "input_who": "",
            "input_times": "3",
            "input_ratio": "0.5",
            "input_payload": '{"a": [1]}',
            "_extra": '{"x": 1}',
        },
    )

    execution = Execution.objects.get(flow=typed_flow)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:executions_execution_change", args=[execution.pk])
    assert execution.inputs == {"who": "world", "times": 3, "ratio": 0.5, "loud": False, "payload": {"a": [1]}, "x": 1}
    assert execution.created_by == executor_a
    assert execution.origin == "console"


def test_bad_inputs_come_back_on_their_fields(client, executor_a, typed_flow) -> None:
    client.force_login(executor_a)

    response = client.post(url("run", typed_flow), {"input_times": "many", "input_payload": "{nope", "_extra": "[1]"})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"input_times", "input_payload", "_extra"}
    assert not Execution.objects.filter(flow=typed_flow).exists()


def test_running_needs_the_executor_role(client, viewer_a, typed_flow) -> None:
    client.force_login(viewer_a)
    assert client.get(url("run", typed_flow)).status_code == 403
    assert client.post(url("run", typed_flow), {"input_times": "1"}).status_code == 403
    assert not Execution.objects.filter(flow=typed_flow).exists()


def test_a_membership_role_counts_for_running(client, typed_flow, tenant_a) -> None:
    member = AccountFactory(username="member-executor")
    MembershipFactory(account=member, namespace=tenant_a.namespace, role=Role.EXECUTOR)
    client.force_login(member)
    assert client.get(url("run", typed_flow)).status_code == 200


# --- diff -------------------------------------------------------------------------------------


def test_side_by_side_pairs_changes_and_leaves_gaps_for_additions() -> None:
    rows = side_by_side("a\nb\nc\n", "a\nB\nc\nd\n")
    assert [(r.kind, r.old_number, r.old_text, r.new_number, r.new_text) for r in rows] == [
        ("equal", 1, "a", 1, "a"),
        ("changed", 2, "b", 2, "B"),
        ("equal", 3, "c", 3, "c"),
        ("added", None, "", 4, "d"),
    ]
    assert [r.kind for r in side_by_side("x\ny\n", "y\n")] == ["removed", "equal"]


def test_the_flow_list_with_filters_and_search_costs_the_same_for_few_and_many(client, ns_admin, tenant_a) -> None:
    client.force_login(ns_admin)
    since = "2000-01-01+00%3A00%3A00%2B00%3A00"
    query = f"?namespace={tenant_a.namespace.pk}&updated_at__gte={since}&format__exact=tasks&q=flow"

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("admin:flows_flow_changelist") + query)
        assert response.status_code == 200
        return len(queries), response.context["cl"].result_count

    few, shown = count()
    for n in range(15):
        FlowFactory(namespace=tenant_a.namespace, name=f"flow-{n}", source=tenant_a.flow.source)
    many, shown_later = count()
    assert (many, shown_later) == (few, shown + 15)


RICH = """name: rich
inputs:
  - {id: env, type: SELECT, values: [dev, prod], required: true}
  - {id: regions, type: MULTISELECT, values: [eu, us]}
  - {id: at, type: DATETIME}
  - {id: day, type: DATE}
  - {id: wait, type: DURATION}
  - {id: ids, type: ARRAY, itemType: INT}
  - {id: site, type: URI}
  - {id: mail, type: EMAIL}
  - {id: token, type: SECRET}
tasks:
  - name: hello
    type: util.log
    properties:
      message: "{{ inputs.env }}"
"""


def test_the_run_form_gives_each_type_its_widget(client, executor_a, tenant_a, editor_a) -> None:
    flow = flow_create(actor=editor_a, namespace=tenant_a.namespace, source=RICH)
    client.force_login(executor_a)
    page = client.get(url("run", flow)).content.decode()
    assert '<select name="input_env"' in page and '<option value="prod">' in page
    assert '<select name="input_regions"' in page and "multiple" in page
    assert 'type="datetime-local" name="input_at"' in page
    assert 'type="date" name="input_day"' in page
    assert 'name="input_wait"' in page and 'pattern="' in page
    assert 'type="url" name="input_site"' in page and 'type="email" name="input_mail"' in page
    assert 'type="password" name="input_token"' in page


def test_the_run_form_starts_a_run_with_rich_inputs_and_masks_the_secret(
    client, executor_a, tenant_a, editor_a
) -> None:
    flow = flow_create(actor=editor_a, namespace=tenant_a.namespace, source=RICH)
    client.force_login(executor_a)
    response = client.post(
        url("run", flow),
        {
            "input_env": "prod",
            "input_regions": ["us"],
            "input_at": "2026-01-31T09:30",
            "input_ids": "[1, 2]",
            "input_token": "hunter22",
            "input_day": "",
            "input_wait": "",
            "input_site": "",
            "input_mail": "",
        },
    )
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    execution = Execution.objects.get(flow=flow)
    assert execution.inputs == {
        "env": "prod",
        "regions": ["us"],
        "at": "2026-01-31T09:30:00+00:00",
        "ids": [1, 2],
        "token": "******",
    }
    bad = client.post(url("run", flow), {"input_env": "prod", "input_wait": "soon", "input_mail": "x"})
    assert bad.status_code == 200 and {"input_wait", "input_mail"} <= set(bad.context["form"].errors)
