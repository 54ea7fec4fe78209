"""Every public plugin documents itself: Markdown documentation naming each input, an example
task that is a valid flow step, and a real output schema. Examples of the plugins that need
no outside service also run through the engine."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from accounts.roles import Role
from connectors.registry import Plugin, all_plugins, get_plugin
from executions.models import ExecutionStatus
from executions.services import execution_start
from flows.definitions.validate import validate_definition
from tests.factories import AccountFactory, FlowFactory

PUBLIC = all_plugins()
#: Plugins whose example runs here as it is: no server, no person, no wait.
SELF_CONTAINED = [
    "data.csv",
    "data.json",
    "data.json.parse",
    "data.json.stringify",
    "data.set",
    "data.template",
    "data.transform",
    "execution.labels",
    "file.concat",
    "file.delete",
    "file.purge",
    "file.size",
    "file.split",
    "file.write",
    "flow.forEach",
    "flow.parallel",
    "flow.sequential",
    "kv.delete",
    "kv.get",
    "kv.set",
    "util.echo",
    "util.hash",
    "util.log",
]


def example_tasks(plugin: type[Plugin]) -> list[dict[str, Any]]:
    """The example's tasks: it is one task (a mapping) or a list of them, ready for `tasks:`."""
    loaded = yaml.safe_load(plugin.example)
    tasks = loaded if isinstance(loaded, list) else [loaded]
    assert tasks and all(isinstance(task, dict) for task in tasks), plugin.example
    return tasks


def example_flow(plugin: type[Plugin]) -> str:
    return yaml.safe_dump({"name": f"example-{plugin.id.replace('.', '-').lower()}", "tasks": example_tasks(plugin)})


def step_types(tasks: list[dict[str, Any]]) -> set[str]:
    """The type of every task, nested ones (then, else, cases, tasks) included."""
    found: set[str] = set()
    stack: list[Any] = list(tasks)
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("type"), str):
                found.add(item["type"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@pytest.mark.parametrize("plugin", PUBLIC, ids=lambda plugin: plugin.id)
def test_documentation_explains_every_input(plugin: type[Plugin]) -> None:
    text = plugin.documentation.strip()
    assert len(text) >= 80, f"{plugin.id} needs documentation"
    assert "<script" not in text.lower()
    names = plugin.input_schema.get("properties", {})
    missing = [name for name in names if not re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text)]
    assert missing == [], f"{plugin.id}'s documentation does not name {missing}"


@pytest.mark.parametrize("plugin", PUBLIC, ids=lambda plugin: plugin.id)
def test_example_is_a_valid_task_of_the_plugin(plugin: type[Plugin]) -> None:
    assert plugin.example.strip(), f"{plugin.id} needs an example"
    tasks = example_tasks(plugin)
    assert step_types(tasks) & {plugin.id, *plugin.aliases}, f"{plugin.id}'s example does not use it"
    problems = validate_definition(example_flow(plugin))
    assert problems == [], [problem.message for problem in problems]


@pytest.mark.parametrize("plugin", PUBLIC, ids=lambda plugin: plugin.id)
def test_output_schema_is_a_real_schema(plugin: type[Plugin]) -> None:
    schema = plugin.output_schema
    assert schema and (schema.get("properties") or schema.get("description")), plugin.id
    Draft202012Validator.check_schema(schema)


def test_a_bad_example_is_caught() -> None:
    """The checks above can fail: a task with a wrong property type is a problem."""

    class Broken(Plugin):
        id = "util.log"
        aliases = ()
        example = "- name: x\n  type: util.log\n  properties: {message: hi, level: loud}\n"

    problems = validate_definition(example_flow(Broken))
    assert problems and "level" in problems[0].message + problems[0].path


@pytest.fixture
def run_example(settings, transactional_db, namespace):
    settings.MILLRACE_ENGINE_EAGER = True
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)

    def run(plugin: type[Plugin]):
        flow = FlowFactory(namespace=namespace, source=example_flow(plugin), created_by=account)
        execution = execution_start(actor=account, flow=flow, inputs=None)
        execution.refresh_from_db()
        return execution

    return run


@pytest.mark.parametrize("plugin_id", SELF_CONTAINED)
def test_the_example_runs(run_example, plugin_id: str) -> None:
    plugin = get_plugin(plugin_id)
    execution = run_example(plugin)
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    runs = {run.plugin_type: run for run in execution.task_runs.all()}
    assert plugin_id in runs
    Draft202012Validator(plugin.output_schema).validate(runs[plugin_id].outputs)
