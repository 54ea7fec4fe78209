"""Execution labels: the flow's plus those given at start, stored on the row and as index rows."""

import pytest

from core.errors import BadRequest
from executions.engine.labels import label_pairs, labels_check
from executions.models import Execution, ExecutionLabel
from executions.selectors import executions_labelled, labels_in_use
from executions.services import execution_start
from tests.factories import ExecutionFactory, ExecutionLabelFactory, FlowFactory

LABELLED = """name: labelled
labels:
  team: data
  env: prod
tasks:
  - name: hello
    type: util.log
    properties: {message: hi}
"""
PLAIN = "name: plain\ntasks:\n  - name: hello\n    type: util.log\n    properties: {message: hi}\n"


def test_an_execution_carries_the_flow_labels_and_the_given_ones(runner_account, namespace):
    flow = FlowFactory(namespace=namespace, source=LABELLED)
    execution = execution_start(actor=runner_account, flow=flow, labels={"env": "staging", "run": "42"})
    stored = Execution.objects.get(pk=execution.pk)
    assert stored.labels == {"team": "data", "env": "staging", "run": "42"}  # a given label wins
    rows = set(ExecutionLabel.objects.filter(execution=stored).values_list("key", "value"))
    assert rows == {("team", "data"), ("env", "staging"), ("run", "42")}


def test_an_execution_without_labels_writes_no_label_rows(runner_account, namespace):
    execution = execution_start(actor=runner_account, flow=FlowFactory(namespace=namespace, source=PLAIN))
    assert Execution.objects.get(pk=execution.pk).labels == {}
    assert not ExecutionLabel.objects.exists()


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({"k" * 101: "v"}, "a label key may have at most 100 characters"),
        ({"k": "v" * 101}, "a label value may have at most 100 characters"),
        ({"k": 3}, "a label value must be a string"),
        ({"": "v"}, "a label key must be a non-empty string"),
        (["k"], "not an object"),
    ],
)
def test_bad_labels_at_start_are_refused_and_write_nothing(runner_account, namespace, given, reason):
    flow = FlowFactory(namespace=namespace, source=PLAIN)
    with pytest.raises(BadRequest) as refused:
        execution_start(actor=runner_account, flow=flow, labels=given)
    assert refused.value.details[0]["reason"] == reason
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_label_pairs_split_on_the_first_colon_and_refuse_the_malformed():
    assert label_pairs(["env:prod", "url:http://x"]) == [("env", "prod"), ("url", "http://x")]
    assert label_pairs(["empty:"]) == [("empty", "")]
    for bad in ("noColon", ":value", "k" * 101 + ":v"):
        with pytest.raises(BadRequest):
            label_pairs([bad])
    assert labels_check(None) == {}


@pytest.mark.django_db
def test_the_label_filter_requires_every_label():
    both, only_env, other = ExecutionFactory(), ExecutionFactory(), ExecutionFactory()
    for execution, pairs in ((both, {"env": "prod", "team": "a"}), (only_env, {"env": "prod"}), (other, {"x": "y"})):
        for key, value in pairs.items():
            ExecutionLabelFactory(execution=execution, key=key, value=value)
    everything = Execution.objects.all()
    assert set(executions_labelled(everything, labels=[("env", "prod")])) == {both, only_env}
    assert list(executions_labelled(everything, labels=[("env", "prod"), ("team", "a")])) == [both]
    assert not executions_labelled(everything, labels=[("env", "dev")]).exists()
    assert labels_in_use(everything) == [("env", "prod"), ("team", "a"), ("x", "y")]
