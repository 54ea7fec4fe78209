"""`manage.py run_flow`: what it shows, and an exit status per outcome (`call_command` here,
real processes in `test_run_flow_command_exit.py`)."""

import argparse
import io
from pathlib import Path

import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError

from accounts.roles import Role
from executions.models import Execution
from flows.models import Flow
from tests.factories import AccountFactory

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "flows" / "examples" / "hello.yaml"
APPROVAL = ROOT / "flows" / "examples" / "approval.yaml"
FAILING = """name: failing
tasks:
  - name: boom
    type: flow.fail
    properties: {message: on purpose}
"""
SLEEPY = """name: sleepy
tasks:
  - name: nap
    type: util.sleep
    properties: {duration: PT30S}
"""
FLOW_TIMEOUT = """name: too-slow
timeout: PT1S
tasks:
  - name: nap
    type: util.sleep
    properties: {duration: PT30S}
"""
TYPED = """name: typed
inputs:
  - id: count
    type: INT
tasks:
  - name: show
    type: util.echo
    properties: {value: "{{ inputs.count }}"}
"""
BROKEN = """name: broken
tasks:
  - name: first
    type: no.such.plugin
"""


@pytest.fixture
def admin(transactional_db):
    return AccountFactory(role=Role.ADMIN, username="runner")


def run(*args: str) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("run_flow", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    return str(path)


def test_a_success_shows_each_loop_item_with_its_index_and_exits_0(admin):
    out, error = run(str(HELLO), "--input", "who=Ada")
    assert error is None
    execution = Execution.objects.get()
    assert out.startswith(f"Execution {execution.id} of flow hello (revision 1)")
    assert f"Execution {execution.id}: SUCCESS" in out
    for index in (0, 1, 2):
        assert f"[item {index}] Step 'square'" in out
    assert Flow.objects.get(name="hello").namespace.name == "cli"


def test_a_failed_execution_exits_1_naming_it(admin, tmp_path):
    _, error = run(write(tmp_path, FAILING))
    execution = Execution.objects.get()
    assert error is not None and error.returncode == 1
    assert str(error).startswith(f"Execution {execution.id} ended FAILED")


@pytest.mark.parametrize(
    "args,expected",
    [
        pytest.param(["--input", "count=many"], "count", id="wrong-type"),
        pytest.param(["--input", "novalue"], "--input takes key=value", id="malformed"),
        pytest.param(["--as", "nobody"], "no active account 'nobody'", id="unknown-account"),
    ],
)
def test_bad_input_exits_2_and_runs_nothing(admin, tmp_path, args, expected):
    _, error = run(write(tmp_path, TYPED), *args)
    assert error is not None and error.returncode == 2
    assert expected in str(error)
    assert not Execution.objects.exists()


def test_a_bad_definition_exits_2_with_path_and_line(admin, tmp_path):
    path = write(tmp_path, BROKEN)
    _, error = run(path)
    assert error is not None and error.returncode == 2
    assert str(error).startswith(f"{path}:4: tasks[0].type: ")
    assert "no.such.plugin" in str(error)
    assert not Flow.objects.exists()


@pytest.mark.parametrize("name", ["missing.yaml", "a-directory"])
def test_an_unreadable_file_is_one_line_exit_2(admin, tmp_path, name):
    (tmp_path / "a-directory").mkdir()
    _, error = run(str(tmp_path / name))
    assert error is not None and error.returncode == 2
    assert str(error).startswith(f"Cannot read {tmp_path / name}: ") and "\n" not in str(error)


def test_an_approval_gate_exits_3_naming_the_execution(admin):
    _, error = run(str(APPROVAL))
    execution = Execution.objects.get()
    assert error is not None and error.returncode == 3
    assert str(error).startswith(f"Execution {execution.id} waits for an approval")


def test_following_past_the_timeout_exits_4_naming_the_execution(admin, tmp_path):
    _, error = run(write(tmp_path, SLEEPY), "--timeout", "1")
    execution = Execution.objects.get()
    assert error is not None and error.returncode == 4
    assert str(error).startswith(f"Execution {execution.id} did not end within 1 s")
    assert execution.status not in ("CANCELLED", "TIMED_OUT")  # following stopped; the execution was left alone


def test_a_flow_timeout_exits_4(admin, tmp_path):
    _, error = run(write(tmp_path, FLOW_TIMEOUT), "--timeout", "20")
    execution = Execution.objects.get()
    assert execution.status == "TIMED_OUT"
    assert error is not None and error.returncode == 4
    assert str(error).startswith(f"Execution {execution.id} ended TIMED_OUT")


def test_every_argument_has_help_and_the_exit_codes_are_documented():
    command = load_command_class(get_commands()["run_flow"], "run_flow")
    parser = command.create_parser("manage.py", "run_flow")
    ours = [a for a in parser._actions if a.dest in {"path", "input", "namespace", "username", "timeout"}]
    assert len(ours) == 5
    assert all(action.help and action.help != argparse.SUPPRESS for action in ours)
    text = parser.format_help()
    for line in ("0  the execution succeeded", "1  it failed or was cancelled", "2  bad definition, input",
                 "3  it waits for an approval", "4  it timed out"):  # fmt: skip
        assert line in text
