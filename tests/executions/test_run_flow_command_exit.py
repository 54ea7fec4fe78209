"""`manage.py run_flow` as a script sees it: a real process on an installation of its own, an
exit status per outcome, and errors as one line without a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.executions.test_run_flow_command import APPROVAL, FAILING, HELLO, SLEEPY

ROOT = Path(__file__).resolve().parents[2]
SETUP = 'from accounts.models import Account; Account.objects.create_user(username="ops", password="x", role="admin")'


@pytest.fixture(scope="module")
def installation(tmp_path_factory) -> dict[str, str]:
    """A migrated embedded installation (SQLite under its own var/) with one admin."""
    var = tmp_path_factory.mktemp("var")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({"MILLRACE_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "config.settings"})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "manage.py", "shell", "-c", SETUP], cwd=ROOT, env=env, check=True)
    return env


def run_flow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "run_flow", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "source,args,code,said",
    [
        pytest.param(HELLO, ["--input", "who=Ada"], 0, "", id="success"),
        pytest.param(FAILING, [], 1, "ended FAILED", id="failed"),
        pytest.param(None, [], 2, "Cannot read", id="missing-file"),
        pytest.param(HELLO, ["--input", "=x"], 2, "--input takes key=value", id="bad-input"),
        pytest.param(APPROVAL, [], 3, "waits for an approval", id="approval"),
        pytest.param(SLEEPY, ["--timeout", "1"], 4, "did not end within 1 s", id="timeout"),
    ],
)
def test_exit_status(installation, tmp_path, source, args, code, said):
    if isinstance(source, Path):
        path = str(source)
    else:
        path = str(tmp_path / "flow.yaml")
        if source is not None:
            Path(path).write_text(source)

    done = run_flow(installation, path, *args)

    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("CommandError: ")]
    if code == 0:
        assert errors == [] and "SUCCESS" in done.stdout
    else:
        assert len(errors) == 1 and said in errors[0], done.stderr
    if code in (1, 3, 4):  # the execution is named, so the operator can look it up
        assert errors[0].startswith("CommandError: Execution ")
    if said == "Cannot read":  # nothing else ran: the error is the whole output
        assert done.stderr.splitlines() == errors and done.stdout == ""
