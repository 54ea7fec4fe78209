"""`/metrics` after real runs: the engine's and the agents' families, parsed as Prometheus does.

Counters live in this process (no PROMETHEUS_MULTIPROC_DIR here; the multiprocess mode has its
own test with real subprocesses), so each test compares the scrape after its runs with the
scrape before them.
"""

import shutil
import subprocess

import pytest
from django.db import transaction
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from accounts.roles import Role
from agents import runtime
from executions.engine.transitions import transition
from executions.metrics import plugin_label
from executions.models import Execution
from executions.services import execution_start
from tests.factories import AccountFactory, AgentFactory, ExecutionFactory, FlowFactory

Samples = dict[tuple[str, frozenset], float]

ECHO_THEN_FAIL = """
name: echo-then-fail
tasks:
  - name: first
    type: util.echo
    properties: {value: one}
  - name: stop
    type: flow.fail
    properties: {message: stopped on purpose}
"""
TWO_ECHOES = """
name: two-echoes
tasks:
  - name: first
    type: util.echo
    properties: {value: one}
  - name: second
    type: util.echo
    properties: {value: two}
"""
FAMILIES = {
    "millrace_executions_total": "counter",
    "millrace_task_runs_total": "counter",
    "millrace_execution_duration_seconds": "histogram",
    "millrace_task_run_duration_seconds": "histogram",
    "millrace_queue_depth": "gauge",
    "millrace_workers": "gauge",
    "millrace_agent_runs_total": "counter",
    "millrace_http_requests_total": "counter",
    "process_cpu_seconds_total": "counter",
    "python_info": "gauge",
}


def scrape() -> tuple[str, Samples, dict[str, set[str]]]:
    response = APIClient().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    samples: Samples = {}
    types: dict[str, set[str]] = {}  # by sample name: the parser folds `_total` away from counters
    for family in text_string_to_metric_families(text):
        name = f"{family.name}_total" if family.type == "counter" else family.name
        types.setdefault(name, set()).add(family.type)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def runner(settings, transactional_db, namespace):
    settings.MILLRACE_ENGINE_EAGER = True
    return AccountFactory(role=Role.ADMIN, default_namespace=namespace)


def run(runner, namespace, source: str, name: str) -> Execution:
    flow = FlowFactory(namespace=namespace, source=source, name=name, created_by=runner)
    execution = execution_start(actor=runner, flow=flow)
    execution.refresh_from_db()
    return execution


def test_runs_and_agents_show_in_every_family(runner, namespace):
    _, before, _ = scrape()
    ok = run(runner, namespace, TWO_ECHOES, "two-echoes")
    failed = run(runner, namespace, ECHO_THEN_FAIL, "echo-then-fail")
    echo_agent = AgentFactory(namespace=namespace, type="util.echo", options={"value": {"tick": 1}})
    broken_agent = AgentFactory(namespace=namespace, type="Agents::NoSuchAgent")
    runtime.run_agent(str(echo_agent.pk))
    runtime.run_agent(str(broken_agent.pk))

    text, after, types = scrape()

    assert (ok.status, failed.status) == ("SUCCESS", "FAILED")
    for name, kind in FAMILIES.items():
        assert types.get(name) == {kind}, f"{name} missing or not a {kind}"

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("millrace_executions_total", status="SUCCESS", origin="api") == 1
    assert grew("millrace_executions_total", status="FAILED", origin="api") == 1
    assert grew("millrace_task_runs_total", plugin="util.echo", status="SUCCESS") == 3
    assert grew("millrace_task_runs_total", plugin="flow.fail", status="FAILED") == 1
    assert grew("millrace_execution_duration_seconds_count") == 2
    assert grew("millrace_execution_duration_seconds_bucket", le="+Inf") == 2
    assert grew("millrace_execution_duration_seconds_sum") > 0
    assert grew("millrace_task_run_duration_seconds_count", plugin="util.echo") == 3
    assert grew("millrace_task_run_duration_seconds_bucket", plugin="flow.fail", le="+Inf") == 1
    assert grew("millrace_agent_runs_total", type="util.echo", status="success") == 1
    assert grew("millrace_agent_runs_total", type="other", status="failed") == 1
    assert value(after, "millrace_queue_depth") == 0
    assert value(after, "millrace_workers") == 0
    assert value(after, "millrace_executions", status="SUCCESS") == 1
    # no namespace, flow or agent name anywhere by default
    for private in (namespace.name, "two-echoes", "echo-then-fail", echo_agent.name):
        assert private not in text


def test_an_unregistered_plugin_is_counted_as_other():
    assert plugin_label("util.echo") == "util.echo"
    assert plugin_label("no.such.plugin") == "other"
    assert plugin_label("") == "other"


def test_detailed_metrics_add_namespace_and_flow(runner, namespace, settings):
    settings.MILLRACE_METRICS_DETAILED = True
    _, before, _ = scrape()
    run(runner, namespace, TWO_ECHOES, "two-echoes")

    _, after, _ = scrape()

    labels = {"status": "SUCCESS", "origin": "api", "namespace": namespace.name, "flow": "two-echoes"}
    grown = value(after, "millrace_executions_total", **labels) - value(before, "millrace_executions_total", **labels)
    assert grown == 1
    assert value(after, "millrace_task_runs_total", plugin="util.echo", status="SUCCESS") == 0
    task_labels = {"plugin": "util.echo", "status": "SUCCESS", "namespace": namespace.name, "flow": "two-echoes"}
    assert value(after, "millrace_task_runs_total", **task_labels) >= 2


def test_a_rolled_back_end_is_not_counted(runner, namespace):
    execution = ExecutionFactory(flow=FlowFactory(namespace=namespace, source=TWO_ECHOES), status="RUNNING")
    _, before, _ = scrape()
    with pytest.raises(RuntimeError), transaction.atomic():
        transition(execution, "FAILED", message="failed")
        raise RuntimeError("roll back")

    _, after, _ = scrape()

    key = ("millrace_executions_total", frozenset({"status": "FAILED", "origin": "api"}.items()))
    assert after.get(key, 0) == before.get(key, 0)


def test_the_exposition_passes_promtool_when_it_is_installed(runner, namespace, tmp_path):
    run(runner, namespace, TWO_ECHOES, "two-echoes")
    text, _, _ = scrape()
    promtool = shutil.which("promtool")
    if promtool is None:  # the parser above already checked the text; promtool adds its lint
        assert text.endswith("\n")
        return
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.django_db
def test_an_unknown_http_method_is_counted_as_other():
    APIClient().generic("BREW", "/healthz")
    _, samples, _ = scrape()
    assert value(samples, "millrace_http_requests_total", dialect="workflowdev", method="other", status="405") >= 1
    assert not [key for key in samples if ("method", "BREW") in key[1]]
