"""Kestra script tasks' `beforeCommands` (run first, in the same shell and working directory) and a
script's `timeout` property exported as Kestra's task-level `timeout`."""

import textwrap

import pytest
import yaml

from accounts.roles import Role
from executions.models import TaskRun, TaskStatus
from executions.services import execution_start
from flows.definitions import compile_definition, validate_definition
from flows.definitions.convert import ConversionError, convert
from flows.definitions.kestra_scripts import KESTRA_PY, SCRIPT_FILE, SHIM_FILE
from tests.factories import AccountFactory, FlowFactory

pytestmark = pytest.mark.registry
SCRIPTS = "io.kestra.plugin.scripts."


def kestra(tasks: str) -> str:
    body = textwrap.indent(textwrap.dedent(tasks), "  ")
    return f"id: demo\nnamespace: company.team\ntasks:\n{body}"


def only_step(tasks: str):
    (step,) = compile_definition(kestra(tasks)).main.steps
    return step


def test_a_python_script_with_before_commands_runs_in_the_shell_after_them():
    step = only_step(f"""\
        - id: py
          type: {SCRIPTS}python.Script
          beforeCommands: [pip install requests, . .venv/bin/activate]
          script: print(1)
          inputFiles: {{data.txt: x}}
        """)
    assert step.type == "script.shell"
    assert step.inputs["commands"] == ["pip install requests", ". .venv/bin/activate", f"python {SCRIPT_FILE}"]
    assert step.inputs["inputFiles"] == {SHIM_FILE: KESTRA_PY, "data.txt": "x", SCRIPT_FILE: "print(1)"}


def test_a_given_interpreter_runs_the_script_after_the_before_commands():
    step = only_step(f"""\
        - id: py
          type: {SCRIPTS}python.Script
          beforeCommands: [echo hi]
          interpreter: [/opt/my venv/bin/python, -u]
          script: print(1)
        """)
    assert step.inputs["commands"] == ["echo hi", f"'/opt/my venv/bin/python' -u {SCRIPT_FILE}"]
    assert "interpreter" not in step.inputs


def test_a_shell_script_with_before_commands_runs_them_first():
    step = only_step(f"""\
        - id: sh
          type: {SCRIPTS}shell.Script
          beforeCommands: [cd /tmp, export A=1]
          script: echo $A
        """)
    assert step.type == "script.shell" and step.inputs == {"script": "cd /tmp\nexport A=1\necho $A"}


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (f"{{id: p, type: {SCRIPTS}python.Script, beforeCommands: echo, script: x}}", "must be a list of commands"),
        (
            f"{{id: p, type: {SCRIPTS}python.Script, beforeCommands: [a], script: x,"
            f" inputFiles: {{{SCRIPT_FILE}: y}}}}",
            f"inputFiles may not hold '{SCRIPT_FILE}'",
        ),
        (f"{{id: s, type: {SCRIPTS}shell.Script, beforeCommands: [1, 2], script: x}}", "must be a list of commands"),
    ],
    ids=["python-text", "python-file-clash", "shell-numbers"],
)
def test_bad_before_commands_are_refused_clearly(task, message):
    found = [p.message for p in validate_definition(kestra(f"- {task}\n"))]
    assert any(message in text for text in found), found


@pytest.fixture
def run(settings, transactional_db, namespace):
    settings.MILLRACE_ENGINE_EAGER = True
    account = AccountFactory(role=Role.ADMIN, default_namespace=namespace)

    def start(source: str) -> TaskRun:
        flow = FlowFactory(namespace=namespace, source=source, created_by=account)
        execution = execution_start(actor=account, flow=flow)
        return TaskRun.objects.get(execution=execution)

    return start


@pytest.mark.django_db(transaction=True)
def test_before_commands_share_the_python_scripts_shell_and_working_directory(run):
    step = run(
        kestra(f"""\
        - id: py
          type: {SCRIPTS}python.Script
          beforeCommands: ["echo 41 > n.txt", "export GREETING=hello"]
          script: |
            import os
            from kestra import Kestra
            Kestra.outputs({{"n": int(open("n.txt").read()) + 1, "greeting": os.environ["GREETING"]}})
        """)
    )
    assert step.status == TaskStatus.SUCCESS, step.error
    assert step.outputs["vars"] == {"n": 42, "greeting": "hello"}


@pytest.mark.django_db(transaction=True)
def test_a_failing_before_command_stops_the_task_before_its_script(run):
    step = run(
        kestra(f"""\
        - id: py
          type: {SCRIPTS}python.Script
          beforeCommands: ["false"]
          script: print("ran")
        """)
    )
    assert step.status == TaskStatus.FAILED
    assert step.outputs["exitCode"] == 1 and "ran" not in step.outputs["stdout"]


def tasks_flow(properties: str, task_timeout: str = "") -> str:
    extra = f"\n    timeout: {task_timeout}" if task_timeout else ""
    return f"name: t\ntasks:\n  - name: s\n    type: script.shell{extra}\n    properties: {properties}\n"


def exported_task(source: str) -> dict:
    return yaml.safe_load(convert(compile_definition(source), "kestra", namespace="n"))["tasks"][0]


@pytest.mark.parametrize(
    ("properties", "task_timeout", "expected"),
    [
        ("{commands: [sleep 1], timeout: 30}", "", "PT30S"),
        ("{commands: [sleep 1], timeout: PT5M}", "", "PT300S"),
        ("{commands: [sleep 1], timeout: 90}", "PT60S", "PT60S"),
        ("{commands: [sleep 1], timeout: 60}", "PT60S", "PT60S"),
    ],
    ids=["seconds", "duration", "task-shorter", "equal"],
)
def test_a_scripts_timeout_property_becomes_the_kestra_task_timeout(properties, task_timeout, expected):
    task = exported_task(tasks_flow(properties, task_timeout))
    assert task["timeout"] == expected
    (step,) = compile_definition(yaml.safe_dump({"id": "t", "namespace": "n", "tasks": [task]})).main.steps
    assert step.timeout == float(expected[2:-1]) and "timeout" not in step.inputs


@pytest.mark.parametrize(
    ("properties", "task_timeout", "reason"),
    [
        ("{commands: [x], timeout: 10}", "PT60S", "its timeout property (PT10S) is shorter than its task timeout"),
        ("{commands: [x], timeout: '{{ inputs.t }}'}", "", "Kestra's task timeout must be a literal duration"),
    ],
    ids=["property-shorter", "expression"],
)
def test_a_timeout_kestra_cannot_hold_is_named(properties, task_timeout, reason):
    with pytest.raises(ConversionError) as caught:
        convert(compile_definition(tasks_flow(properties, task_timeout)), "kestra", namespace="n")
    assert any(reason in item for item in caught.value.reasons), caught.value.reasons
