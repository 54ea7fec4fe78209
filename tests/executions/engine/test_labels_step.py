"""`execution.labels` (Kestra's Labels task): labels merged into the running execution by the engine."""

import pytest

from executions.models import Execution, ExecutionLabel, ExecutionStatus, TaskStatus
from executions.selectors import executions_labelled
from executions.services import execution_replay
from tests.factories import SecretFactory

E, T = ExecutionStatus, TaskStatus
KESTRA = """\
id: tagged
namespace: {namespace}
labels:
  team: data
  stage: new
inputs:
  - id: customer
    type: STRING
    defaults: acme
tasks:
  - id: count
    type: io.kestra.plugin.core.debug.Return
    format: "12"
  - id: tag
    type: io.kestra.plugin.core.execution.Labels
    labels:
      customer: "{{{{ inputs.customer }}}}"
      stage: loaded
  - id: tag_list
    type: io.kestra.plugin.core.execution.Labels
    labels:
      - key: rows
        value: "{{{{ outputs.count.value }}}}"
      - {{key: checked, value: true}}
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: done
"""


def labels_step(labels: str, *, allow_failure: bool = False) -> str:
    extra = "\n    allowFailure: true" if allow_failure else ""
    return f"""\
name: labelled
labels: {{team: data}}
tasks:
  - name: tag
    type: execution.labels
    labels: {labels}{extra}
  - name: after
    type: util.log
    properties: {{message: done}}
"""


def runs(execution: Execution) -> dict[str, object]:
    return {run.name: run for run in execution.task_runs.all()}


def test_a_kestra_labels_task_merges_labels_into_the_running_execution(run_flow, namespace):
    execution = run_flow(KESTRA.format(namespace=namespace.name), {"customer": "globex"})
    assert execution.status == E.SUCCESS, execution.error
    expected = {"team": "data", "stage": "loaded", "customer": "globex", "rows": "12", "checked": "true"}
    assert execution.labels == expected
    assert dict(ExecutionLabel.objects.filter(execution=execution).values_list("key", "value")) == expected
    assert list(executions_labelled(Execution.objects.all(), labels=[("customer", "globex"), ("rows", "12")])) == [
        execution
    ]
    tag = runs(execution)["tag"]
    assert (tag.plugin_type, tag.status) == ("execution.labels", T.SUCCESS)
    assert tag.outputs == {"labels": {"customer": "globex", "stage": "loaded"}}
    assert runs(execution)["tag_list"].outputs == {"labels": {"rows": "12", "checked": "true"}}
    assert runs(execution)["after"].status == T.SUCCESS


def test_the_native_type_takes_labels_inline_or_as_properties_and_runs_in_a_graph(run_flow):
    execution = run_flow(labels_step("{run: nightly}"))
    assert execution.status == E.SUCCESS, execution.error
    assert execution.labels == {"team": "data", "run": "nightly"}
    as_json = run_flow(labels_step("\"{{ {'run': 'json', 'n': 2} | tojson }}\""))
    assert as_json.status == E.SUCCESS, as_json.error
    assert as_json.labels == {"team": "data", "run": "json", "n": "2"}
    graph = """\
metadata: {name: graph-labels}
nodes:
  tag: {type: execution.labels, params: {labels: {kind: graph}}, next: end}
  end: {type: util.log, params: {message: done}}
"""
    execution = run_flow(graph)
    assert execution.status == E.SUCCESS, execution.error
    assert execution.labels == {"kind": "graph"}


@pytest.mark.parametrize(
    ("labels", "error"),
    [
        ('"{{ execution.flow }}"', "labels must be a map of key: value or a list of {key, value}, not str"),
        ("{long: \"{{ 'v' * 101 }}\"}", "invalid label 'long': a label value may have at most 100 characters"),
        ("{deep: \"{{ {'a': 1} }}\"}", "invalid label 'deep': a label value must be a string"),
        ("\"{{ [{'key': 'a'}] }}\"", "labels given as a list must hold {key, value} mappings only"),
    ],
    ids=["not-a-map", "too-long", "not-a-text", "half-pairs"],
)
def test_bad_labels_fail_the_step_with_the_reason_and_change_nothing(run_flow, labels, error):
    execution = run_flow(labels_step(labels))
    assert execution.status == E.FAILED
    tag = runs(execution)["tag"]
    assert tag.status == T.FAILED and tag.error == f"Step 'tag': {error}"
    assert "after" not in runs(execution)
    assert execution.labels == {"team": "data"}
    assert list(ExecutionLabel.objects.filter(execution=execution).values_list("key", flat=True)) == ["team"]


def test_more_labels_than_an_execution_may_carry_fail_the_step(run_flow):
    flow_labels = ", ".join(f"f{i}: v" for i in range(30))
    step_labels = ", ".join(f"s{i}: v" for i in range(21))
    execution = run_flow(labels_step("{" + step_labels + "}").replace("{team: data}", "{" + flow_labels + "}"))
    assert execution.status == E.FAILED
    assert (
        runs(execution)["tag"].error == "Step 'tag': an execution may carry at most 50 labels; this one would have 51"
    )
    assert len(execution.labels) == ExecutionLabel.objects.filter(execution=execution).count() == 30


def test_allow_failure_goes_on_with_the_labels_unchanged(run_flow):
    execution = run_flow(labels_step('"{{ 42 }}"', allow_failure=True))
    assert execution.status == E.WARNING
    assert runs(execution)["after"].status == T.SUCCESS
    assert execution.labels == {"team": "data"}


def test_a_label_cannot_read_a_secret(run_flow, namespace):
    SecretFactory(namespace=namespace, name="TOKEN", value="s3cr3t-value")
    execution = run_flow(labels_step("{token: \"{{ secret('TOKEN') }}\"}"))
    assert execution.status == E.FAILED
    assert "s3cr3t-value" not in runs(execution)["tag"].error
    assert execution.labels == {"team": "data"}


def test_a_replay_keeps_the_labels_its_kept_steps_set(run_flow, runner_account):
    original = run_flow(labels_step('{run: "{{ execution.id }}"}'))
    after = runs(original)["after"]
    replayed = execution_replay(actor=runner_account, execution=original, task_run_id=after.pk)
    replayed.refresh_from_db()
    assert replayed.status == E.SUCCESS, replayed.error
    assert replayed.labels == {"team": "data", "run": str(original.pk)}  # as the kept step set it
    assert set(ExecutionLabel.objects.filter(execution=replayed).values_list("key", flat=True)) == {"team", "run"}
    from_start = execution_replay(actor=runner_account, execution=original, task_run_id=runs(original)["tag"].pk)
    from_start.refresh_from_db()
    assert from_start.labels == {"team": "data", "run": str(from_start.pk)}  # the step ran again
