"""Script and SQL tasks from outside: flows created, run and cancelled through the workflowdev API,
run by a real worker process on PostgreSQL + Redis whose environment holds the server's settings."""

import json
import time
import uuid

import pytest

from accounts.roles import Role
from connectors.scripts.namespace import HELPERS
from connectors.scripts.watchdog import session_pids
from executions.models import ExecutionStatus
from tests.connectors.scripts.conftest import PRINT_SESSION
from tests.connectors.test_sql_plugin_cancel import postgres_running
from tests.factories import AccountFactory, SecretFactory
from tests.system.conftest import wait_until
from vault.masking import MASK

pytestmark = pytest.mark.services

WD = "/workflowdev/api/v1"
TOKEN = "tok-4p1-5cr1pt-0a9b8c7d"
SERVER_ONLY = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MILLRACE_CREDENTIALS_KEY", "DJANGO_SETTINGS_MODULE")


@pytest.fixture
def api(transactional_db, namespace, client_for):
    return client_for(AccountFactory(role=Role.ADMIN, default_namespace=namespace))


def execute(api, source: str) -> str:
    created = api.post(f"{WD}/flows", {"namespace": "production", "yamlContent": source}, format="json")
    assert created.status_code == 201, created.content
    started = api.post(f"{WD}/flows/{created.json()['id']}/execute", {}, format="json")
    assert started.status_code == 201, started.content
    return started.json()["executionId"]


def ended(api, execution_id: str) -> dict:
    body: dict = {}

    def done() -> bool:
        body.update(api.get(f"{WD}/executions/{execution_id}").json())
        return body["execution"]["status"] in (ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, "CANCELLED")

    wait_until(done, 60, "the execution to end")
    return body


ENVIRONMENT_FLOW = """
name: environment
tasks:
  - name: show
    type: script.python
    properties:
      env:
        TOKEN: "${API_TOKEN}"
      script: |
        import json, os, sys
        print(json.dumps(dict(os.environ)))
        print("token", os.environ["TOKEN"], file=sys.stderr)
        sys.exit(5)
"""


def test_a_script_run_by_a_worker_sees_only_its_own_environment_and_its_secret_masked(
    workers, api, worker_env, namespace
):
    assert all(worker_env.get(name) for name in SERVER_ONLY)  # what the worker could pass on
    SecretFactory(name="API_TOKEN", value=TOKEN, namespace=namespace)
    workers.start(MILLRACE_SCRIPT_PROBE="server-only", DJANGO_PROBE="server-only")
    body = ended(api, execute(api, ENVIRONMENT_FLOW))
    assert body["execution"]["status"] == ExecutionStatus.FAILED
    (task,) = body["tasks"]
    outputs = json.loads(task["outputs"])
    seen = json.loads(outputs["stdout"])
    assert set(seen) == {"PATH", "HOME", "LANG", "TOKEN"}
    assert seen["TOKEN"] == MASK and seen["LANG"] == "C.UTF-8"
    assert outputs["exitCode"] == 5 and outputs["stderr"] == f"token {MASK}\n"
    assert task["error"] == f"The script exited with code 5.\nstderr:\ntoken {MASK}"
    logs = api.get(f"/flowrunner/api/v1/executions/{body['execution']['id']}/logs", {"limit": 1000})
    assert logs.status_code == 200
    assert TOKEN not in json.dumps(body) + logs.content.decode()
    assert MASK in logs.content.decode()


SNOOP_FLOW = """
name: snoop
tasks:
  - name: snoop
    type: script.python
    properties:
      script: |
        import os
        pids = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
        print("pids", pids, "parent", os.getppid())
        for pid in {*pids, os.getppid()}:
            try:
                print(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
            except OSError as error:
                print(pid, error.strerror)
"""


def test_a_script_run_by_a_worker_cannot_read_any_servers_environment_through_proc(workers, api, worker_env):
    workers.start(MILLRACE_SCRIPT_PROBE="server-only-value")
    body = ended(api, execute(api, SNOOP_FLOW))
    assert body["execution"]["status"] == ExecutionStatus.SUCCESS, body
    stdout = json.loads(body["tasks"][0]["outputs"])["stdout"]
    assert stdout.startswith("pids [1, 2] parent 1\n")  # the namespace's init and the script, nothing else
    assert "server-only-value" not in stdout
    assert not any(worker_env[name] in stdout for name in SERVER_ONLY if name != "DJANGO_SETTINGS_MODULE")
    assert not any(name in stdout for name in SERVER_ONLY)


CANCEL_FLOW = """
name: cancel-me
tasks:
  - name: long
    type: script.shell
    properties:
      commands: ["sleep 60 &", "PRINT_SESSION > {session}.tmp", "mv {session}.tmp {session}", "wait"]
""".replace("PRINT_SESSION", PRINT_SESSION)


def test_cancelling_through_the_api_kills_the_scripts_process_group(workers, api, tmp_path):
    session_file = tmp_path / "session"
    workers.start()
    execution_id = execute(api, CANCEL_FLOW.format(session=session_file))
    wait_until(session_file.exists, 60, "the worker to start the script")
    session = int(session_file.read_text())
    assert len(session_pids(session)) == 2 + HELPERS  # the shell and its background sleep, in their namespace
    cancelled_at = time.monotonic()
    response = api.post(f"{WD}/executions/{execution_id}/cancel")
    assert response.status_code == 200, response.content
    wait_until(lambda: session_pids(session) == [], 5, "the script's processes to die")
    assert time.monotonic() - cancelled_at < 3
    body = ended(api, execution_id)
    assert body["execution"]["status"] == "CANCELLED"

    def step_recorded() -> bool:  # the execution is CANCELLED at once, its step once its script stopped
        body.update(api.get(f"{WD}/executions/{execution_id}").json())
        return body["tasks"][0]["status"] != "RUNNING"

    wait_until(step_recorded, 10, "the step to record how it ended")
    stopped = "The script was stopped: the execution ended (cancelled, timed out) or the step did."
    assert body["tasks"][0]["error"] == stopped


SQL_FLOW = """
name: long-query
tasks:
  - name: wait
    type: sql.query
    properties:
      url: "postgresql://postgres@127.0.0.1:5432/postgres"
      sql: "SELECT pg_sleep(60) AS {marker}"
      timeout: PT5M
"""


def test_cancelling_through_the_api_stops_a_running_sql_statement_on_its_server(workers, api):
    marker = f"m{uuid.uuid4().hex[:10]}"
    workers.start()
    execution_id = execute(api, SQL_FLOW.format(marker=marker))
    wait_until(lambda: postgres_running(marker) == 1, 60, "the worker to start the statement")
    cancelled_at = time.monotonic()
    assert api.post(f"{WD}/executions/{execution_id}/cancel").status_code == 200
    wait_until(lambda: postgres_running(marker) == 0, 5, "the statement to stop on its server")
    assert time.monotonic() - cancelled_at < 4  # the step asks once a second
    body = ended(api, execution_id)
    assert body["execution"]["status"] == "CANCELLED"

    def step_recorded() -> bool:
        body.update(api.get(f"{WD}/executions/{execution_id}").json())
        return body["tasks"][0]["status"] != "RUNNING"

    wait_until(step_recorded, 10, "the step to record how it ended")
    assert body["tasks"][0]["error"] == "The step was cancelled while its statement ran; the statement was stopped."
