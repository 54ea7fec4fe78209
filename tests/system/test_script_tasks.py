"""Script tasks through the engine: files and vars between steps, secrets masked wherever they are
stored, timeouts and cancels that kill the script's processes, and scripts turned off.

Most tests run the engine in this process (eager dispatch) on whichever database the run uses;
the last one starts a real worker process on PostgreSQL + Redis and cancels through the service.
"""

import json
import re
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import Account
from accounts.roles import Role
from connectors.scripts.namespace import HELPERS
from connectors.scripts.watchdog import session_pids
from core import storage
from core.errors import ValidationFailed
from core.filerefs import namespace_file_key
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun, TaskStatus
from executions.services import execution_cancel, execution_start
from flows.models import Flow
from flows.services import flow_create
from tests.connectors.scripts.conftest import PRINT_SESSION
from tests.factories import AccountFactory, FlowFactory, SecretFactory
from tests.system.conftest import wait_until
from vault.crypto import generate_key
from vault.masking import MASK

E, T = ExecutionStatus, TaskStatus
TOKEN = "tok-5cr1pt-9f8e7d6c5b4a"


@pytest.fixture
def account(transactional_db, namespace, settings) -> Account:
    settings.MILLRACE_CREDENTIALS_KEY = generate_key()
    return AccountFactory(role=Role.ADMIN, default_namespace=namespace)


@pytest.fixture
def eager(settings) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


def start(account: Account, namespace, source: str) -> Execution:
    flow = FlowFactory(namespace=namespace, source=source, created_by=account)
    execution = execution_start(actor=account, flow=flow)
    execution.refresh_from_db()
    return execution


def run_of(execution: Execution, name: str) -> TaskRun:
    return TaskRun.objects.get(execution=execution, name=name)


FILES_AND_VARS = """
name: report
tasks:
  - name: compute
    type: script.python
    properties:
      namespaceFiles: {include: ["lib/**"]}
      env: {PYTHONPATH: "."}
      outputFiles: ["sum.txt"]
      script: |
        import json
        from lib.numbers import VALUES
        open("sum.txt", "w").write(str(sum(VALUES)))
        print("::" + json.dumps({"outputs": {"count": len(VALUES)}}) + "::")
  - name: read
    type: io.kestra.plugin.scripts.shell.Commands
    properties:
      inputFiles:
        total.txt: "{{ outputs.compute.outputFiles['sum.txt'] }}"
      env:
        COUNT: "{{ outputs.compute.vars.count }}"
      commands:
        - 'echo "$COUNT values, total $(cat total.txt)"'
"""


@pytest.mark.usefixtures("eager")
def test_a_namespace_file_a_stored_output_file_and_vars_pass_from_step_to_step(account, namespace):
    storage.put(namespace_file_key(namespace.name, "lib/numbers.py"), "VALUES = [3, 5, 8]\n")
    storage.put(namespace_file_key(namespace.name, "lib/__init__.py"), "")
    execution = start(account, namespace, FILES_AND_VARS)
    assert execution.status == E.SUCCESS, execution.error
    compute = run_of(execution, "compute")
    assert compute.outputs["vars"] == {"count": 3}
    uri = compute.outputs["outputFiles"]["sum.txt"]
    assert uri.startswith(f"millrace:///{namespace.name}/executions/{execution.pk}/")
    assert run_of(execution, "read").outputs["stdout"] == "3 values, total 16\n"


SECRET_FLOW = """
name: leaky
tasks:
  - name: leak
    type: script.python
    properties:
      env:
        TOKEN: "${API_TOKEN}"
        SAME: "{{ secret('API_TOKEN') }}"
      script: |
        import json, os, sys
        token = os.environ["TOKEN"]
        assert os.environ["SAME"] == token
        print("stdout has", token)
        print("stderr has", token, file=sys.stderr)
        print("::" + json.dumps({"outputs": {"token": token, token: "as a key"}}) + "::")
        sys.exit(int(os.environ.get("EXIT", "0")))
"""


def everything_stored(execution: Execution) -> str:
    execution.refresh_from_db()
    runs = TaskRun.objects.filter(execution=execution).values("inputs", "outputs", "error", "state")
    events = ExecutionEvent.objects.filter(execution=execution).values("message", "data")
    return json.dumps(
        {"runs": list(runs), "events": list(events), "error": execution.error, "outputs": execution.outputs},
        default=str,
    )


@pytest.mark.usefixtures("eager")
@pytest.mark.parametrize("exit_code", [0, 3], ids=["success", "failure"])
def test_a_secret_given_through_env_is_masked_wherever_it_is_stored(account, namespace, exit_code):
    SecretFactory(name="API_TOKEN", value=TOKEN, namespace=namespace)
    source = SECRET_FLOW.replace("SAME:", f'EXIT: "{exit_code}"\n        SAME:')
    execution = start(account, namespace, source)
    leak = run_of(execution, "leak")
    assert leak.status == (T.SUCCESS if exit_code == 0 else T.FAILED), leak.error
    assert leak.outputs["stdout"].startswith(f"stdout has {MASK}\n")
    assert leak.outputs["stderr"] == f"stderr has {MASK}\n"
    assert leak.outputs["vars"] == {"token": MASK, MASK: "as a key"}
    if exit_code:
        assert leak.error == f"The script exited with code 3.\nstderr:\nstderr has {MASK}"
    stored = everything_stored(execution)
    assert TOKEN not in stored
    assert stored.count(MASK) >= 5


@pytest.mark.usefixtures("eager")
def test_a_task_timeout_kills_the_script_and_its_processes(account, namespace, tmp_path):
    session_file = tmp_path / "session"
    source = f"""
name: slow
tasks:
  - name: sleepy
    type: script.shell
    timeout: PT1S
    properties:
      commands: ["{PRINT_SESSION} > {session_file}", "sleep 60 & sleep 60"]
"""
    started = time.monotonic()
    execution = start(account, namespace, source)
    assert time.monotonic() - started < 10
    assert execution.status == E.FAILED
    sleepy = run_of(execution, "sleepy")
    assert sleepy.error.startswith("The script was stopped: it ran past its time limit of ")
    assert session_pids(int(session_file.read_text())) == []


@pytest.mark.usefixtures("eager")
def test_a_timeout_under_properties_stops_the_script_too(account, namespace):
    source = """
name: slow-property
tasks:
  - name: sleepy
    type: script.shell
    properties:
      timeout: PT1S
      commands: ["sleep 60"]
"""
    started = time.monotonic()
    execution = start(account, namespace, source)
    assert time.monotonic() - started < 10
    assert execution.status == E.FAILED
    assert run_of(execution, "sleepy").error.startswith("The script was stopped: it ran past its time limit of 1 ")


NUL_FLOW = r"""
name: nul
tasks:
  - name: s
    type: script.python
    properties:
      script: |
        import sys
        sys.stdout.write("a\x00b\n")
        sys.stderr.write("c\x00d\n")
        print('::{"outputs": {"k": "x\\u0000y", "k\\u0000": [1, "\\u0000"]}}::')
        sys.stdout.buffer.write(b"\xff not utf-8\n")
"""


@pytest.mark.usefixtures("eager")
def test_nul_characters_and_undecodable_bytes_in_the_output_are_stored_replaced(account, namespace):
    execution = start(account, namespace, NUL_FLOW)  # PostgreSQL's JSON cannot hold U+0000
    assert execution.status == E.SUCCESS, execution.error
    outputs = run_of(execution, "s").outputs
    assert "a\ufffdb\n" in outputs["stdout"] and "\ufffd not utf-8\n" in outputs["stdout"]
    assert outputs["stderr"] == "c\ufffdd\n"
    assert outputs["vars"] == {"k": "x\ufffdy", "k\ufffd": [1, "\ufffd"]}


def start_in_thread(account: Account, flow: Flow) -> threading.Thread:
    """Run the flow to its end in a thread of its own (the engine blocks while its script runs)."""

    def run() -> None:
        try:
            execution_start(actor=account, flow=flow)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def cancelling_flow(session_file: Path) -> str:
    return f"""
name: to-cancel
tasks:
  - name: long
    type: script.shell
    properties:
      commands: ["sleep 60 &", "{PRINT_SESSION} > {session_file}.tmp", "mv {session_file}.tmp {session_file}", "wait"]
"""


@pytest.mark.services  # two threads on one database: the in-memory SQLite test database locks
@pytest.mark.usefixtures("eager")
def test_cancelling_the_execution_kills_the_script_and_its_processes(account, namespace, tmp_path):
    session_file = tmp_path / "session"
    flow = FlowFactory(namespace=namespace, source=cancelling_flow(session_file), created_by=account)
    thread = start_in_thread(account, flow)
    try:
        wait_until(session_file.exists, 30, "the script to start")
        session = int(session_file.read_text())
        assert len(session_pids(session)) == 2 + HELPERS  # the shell, its sleep, unshare and the init
        execution = Execution.objects.get(flow=flow)
        cancelled_at = time.monotonic()
        execution_cancel(actor=account, execution=execution)
        wait_until(lambda: session_pids(session) == [], 5, "the script's processes to die")
        assert time.monotonic() - cancelled_at < 3
    finally:
        thread.join(timeout=30)
    assert not thread.is_alive()
    execution.refresh_from_db()
    assert execution.status == E.CANCELLED
    long = run_of(execution, "long")
    assert long.status in (T.FAILED, T.CANCELLED)  # the step ends with its script; the execution stays CANCELLED
    assert long.error == "The script was stopped: the execution ended (cancelled, timed out) or the step did."


@pytest.mark.usefixtures("eager")
def test_scripts_turned_off_fail_the_step_clearly(account, namespace, settings):
    settings.MILLRACE_SCRIPTS_ENABLED = False
    flow = "name: scripts-off\ntasks:\n  - {name: s, type: script.shell, properties: {commands: [id]}}"
    execution = start(account, namespace, flow)
    assert execution.status == E.FAILED
    assert (
        run_of(execution, "s").error == "Script tasks are turned off on this server (MILLRACE_SCRIPTS_ENABLED=False)."
    )


def one_step(plugin: str, properties: str) -> str:
    return f"name: bad\ntasks:\n  - name: s\n    type: {plugin}\n    properties: {properties}"


@pytest.mark.usefixtures("eager")
@pytest.mark.parametrize(
    ("plugin", "properties", "message"),
    [
        ("script.shell", "{env: {COUNT: '{{ [1] }}'}, commands: ['true']}", "env.COUNT: [1] is not of type 'string'"),
        ("script.shell", "{timeout: '{{ \"soon\" }}', commands: ['true']}", "timeout: 'soon' is not a duration"),
        ("script.shell", "{commands: ['{{ [1] }}']}", "commands.0: [1] is not of type 'string'"),
        ("script.python", "{script: 'print(1)', interpreter: '/nope'}", "The interpreter '/nope' is not an executable"),
        ("script.shell", "{commands: ['true'], outputFiles: ['../x']}", "outputFiles: '../x' must be a glob inside"),
        ("script.shell", "{commands: ['true'], inputFiles: {'../x': 'x'}}", "may not contain '..'"),
    ],
    ids=[
        "env-renders-a-list",
        "timeout-renders-text",
        "command-renders-a-list",
        "missing-interpreter",
        "glob-escape",
        "input-escape",
    ],
)
def test_bad_inputs_at_run_time_fail_the_step_with_a_clear_error(account, namespace, plugin, properties, message):
    execution = start(account, namespace, one_step(plugin, properties))
    assert execution.status == E.FAILED
    assert message in run_of(execution, "s").error


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("{commands: 'echo hi'}", "invalid input for script.shell: 'echo hi' is not of type 'array'"),
        ("{commands: ['true'], env: {A: [1]}}", "[1] is not of type 'string'"),
        ("{commands: ['true'], failFast: 'no'}", "'no' is not of type 'boolean'"),
        ("{commands: ['true'], timeout: 0}", "0 is not valid under any of the given schemas"),
    ],
    ids=["commands-text", "env-list", "failfast-text", "timeout-zero"],
)
def test_bad_literal_inputs_are_refused_when_the_flow_is_saved(account, namespace, properties, message):
    with pytest.raises(ValidationFailed, match=re.escape(message)):
        flow_create(actor=account, namespace=namespace, source=one_step("script.shell", properties))


@pytest.mark.services
def test_a_worker_kills_the_script_when_the_execution_is_cancelled(workers, account, namespace, tmp_path):
    session_file = tmp_path / "session"
    workers.start()
    flow = FlowFactory(namespace=namespace, source=cancelling_flow(session_file), created_by=account)
    execution = execution_start(actor=account, flow=flow)
    wait_until(session_file.exists, 60, "the worker to start the script")
    session = int(session_file.read_text())
    assert len(session_pids(session)) == 2 + HELPERS
    cancelled_at = time.monotonic()
    execution_cancel(actor=account, execution=execution)
    wait_until(lambda: session_pids(session) == [], 5, "the script's processes to die")
    assert time.monotonic() - cancelled_at < 3
    execution.refresh_from_db()
    assert execution.status == E.CANCELLED
