"""A secret reaches a script through `env` only: anywhere else in its inputs the step fails before
anything runs or is written, and the secret is stored nowhere."""

import pytest

from executions.models import ExecutionStatus, TaskStatus
from tests.factories import SecretFactory
from tests.system.test_script_tasks import TOKEN, account, eager, everything_stored, run_of, start  # noqa: F401

PLACES = {
    "script": 'script: "print(\\"{{ secret(\'API_TOKEN\') }}\\")"',
    "inputFiles": 'script: "print(1)"\n      inputFiles:\n        token.txt: "${API_TOKEN}"',
    "interpreter": 'script: "print(1)"\n      interpreter: "/usr/bin/${API_TOKEN}"',
}


@pytest.mark.usefixtures("eager")
@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_secret_outside_env_fails_the_step_before_it_runs(account, namespace, place, tmp_path):  # noqa: F811
    SecretFactory(name="API_TOKEN", value=TOKEN, namespace=namespace)
    source = f"""
name: misplaced
tasks:
  - name: leak
    type: script.python
    properties:
      {PLACES[place]}
"""
    execution = start(account, namespace, source)
    leak = run_of(execution, "leak")
    assert execution.status == ExecutionStatus.FAILED and leak.status == TaskStatus.FAILED
    assert "takes secrets only in env" in leak.error and place in leak.error
    assert leak.outputs is None
    assert TOKEN not in everything_stored(execution)


@pytest.mark.usefixtures("eager")
def test_a_secret_in_env_is_accepted(account, namespace):  # noqa: F811
    SecretFactory(name="API_TOKEN", value=TOKEN, namespace=namespace)
    source = """
name: placed
tasks:
  - name: ok
    type: script.shell
    properties:
      env: {TOKEN: "${API_TOKEN}"}
      commands: ['printf %s "$TOKEN" | wc -c']
"""
    execution = start(account, namespace, source)
    ok = run_of(execution, "ok")
    assert ok.status == TaskStatus.SUCCESS, ok.error
    assert ok.outputs["stdout"].strip() == str(len(TOKEN))
