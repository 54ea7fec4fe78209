"""`manage.py flows validate|apply|export`: CI checks and GitOps for a folder of flow files."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import AuditEntry
from accounts.roles import Role
from flows.models import Flow, FlowRevision
from tests.factories import AccountFactory, FlowFactory, NamespaceFactory

ROOT = Path(__file__).resolve().parents[2]
GREET = """name: greet
description: Says hello
tasks:
  - name: hi
    type: util.log
    properties:
      message: hi
"""
GREET_LOUDER = GREET.replace("message: hi", "message: HI!")
ECHO = "name: echo\ntasks:\n  - name: e\n    type: util.echo\n    properties: {value: 1}\n"
BAD = "name: bad\ntasks:\n  - name: x\n    type: no.such.plugin\n"
NOT_YAML = "name: [unclosed\n"


def flows(*args: str) -> tuple[str, str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("flows", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def folder(tmp_path: Path, **files: str) -> Path:
    directory = tmp_path / "flows"
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(text)
    return directory


@pytest.fixture
def admin(db):
    return AccountFactory(role=Role.ADMIN, username="deployer")


@pytest.fixture
def prod(db):
    return NamespaceFactory(name="prod")


def test_validate_passes_good_files_and_directories(tmp_path):
    directory = folder(tmp_path, greet=GREET, echo=ECHO)
    out, _, error = flows("validate", str(directory))
    assert error is None
    assert f"{directory / 'echo.yaml'}: ok" in out and "2 file(s) valid." in out


@pytest.mark.django_db
def test_validate_names_path_and_line_and_exits_2(tmp_path):
    directory = folder(tmp_path, greet=GREET, bad=BAD, broken=NOT_YAML)
    _, err, error = flows("validate", str(directory))
    assert error is not None and error.returncode == 2
    assert str(error) == "2 of 3 file(s) invalid."
    assert f"{directory / 'bad.yaml'}:4: tasks[0].type: " in err
    assert f"{directory / 'broken.yaml'}:2: invalid YAML" in err


def test_validate_of_a_missing_path_exits_2(tmp_path):
    _, _, error = flows("validate", str(tmp_path / "nope.yaml"))
    assert error is not None and error.returncode == 2 and "no such file or directory" in str(error)


def test_apply_creates_then_changes_nothing_then_updates_one(tmp_path, admin, prod):
    directory = folder(tmp_path, greet=GREET, echo=ECHO)
    out, _, error = flows("apply", str(directory), "--namespace", "prod")
    assert error is None and "2 new, 0 changed, 0 unchanged." in out
    assert set(Flow.objects.filter(namespace=prod).values_list("name", flat=True)) == {"greet", "echo"}
    assert Flow.objects.get(name="greet").description == "Says hello"

    out, _, _ = flows("apply", str(directory), "--namespace", "prod")
    assert "0 new, 0 changed, 2 unchanged." in out
    assert FlowRevision.objects.count() == 2 and AuditEntry.objects.filter(action="flow.update").count() == 0

    (directory / "greet.yaml").write_text(GREET_LOUDER)
    out, _, _ = flows("apply", str(directory), "--namespace", "prod", "--as", "deployer")
    greet = Flow.objects.get(name="greet")
    assert "0 new, 1 changed, 1 unchanged." in out
    assert (greet.revision, greet.source, greet.updated_by) == (2, GREET_LOUDER, admin)
    assert AuditEntry.objects.filter(action="flow.update", actor=admin).count() == 1


def test_a_dry_run_prints_a_diff_and_writes_nothing(tmp_path, admin, prod):
    FlowFactory(namespace=prod, name="greet", source=GREET)
    directory = folder(tmp_path, greet=GREET_LOUDER, echo=ECHO)

    out, _, error = flows("apply", str(directory), "--namespace", "prod", "--dry-run")

    assert error is None
    assert f"changed: greet ({directory / 'greet.yaml'})" in out
    assert "--- prod/greet (revision 1)" in out and f"+++ {directory / 'greet.yaml'}" in out
    assert "-      message: hi\n" in out and "+      message: HI!\n" in out
    assert f"new: echo ({directory / 'echo.yaml'})" in out
    assert "0 unchanged (dry run: nothing written)." in out
    assert not Flow.objects.filter(name="echo").exists() and Flow.objects.get(name="greet").source == GREET


def test_an_invalid_file_applies_nothing(tmp_path, admin, prod):
    directory = folder(tmp_path, echo=ECHO, zz_bad=BAD)
    _, _, error = flows("apply", str(directory), "--namespace", "prod")
    assert error is not None and error.returncode == 2
    assert f"{directory / 'zz_bad.yaml'}:4: " in str(error)
    assert not Flow.objects.exists()


def test_a_refusal_at_save_time_rolls_every_write_back(tmp_path, admin, prod):
    uses_secret = ECHO.replace("name: echo", "name: secretive").replace("{value: 1}", "{value: '${MISSING_SECRET}'}")
    directory = folder(tmp_path, a_echo=ECHO, b_secretive=uses_secret)
    _, _, error = flows("apply", str(directory), "--namespace", "prod")
    assert error is not None and error.returncode == 2
    assert "MISSING_SECRET" in str(error) and str(error).endswith("Nothing was applied.")
    assert not Flow.objects.exists()


@pytest.mark.parametrize(
    "args,expected",
    [
        pytest.param(["--namespace", "nowhere"], "Namespace 'nowhere' does not exist.", id="unknown-namespace"),
        pytest.param(["--namespace", "prod", "--as", "ghost"], "no active account 'ghost'", id="unknown-account"),
    ],
)
def test_apply_refuses_unknown_names(tmp_path, admin, prod, args, expected):
    _, _, error = flows("apply", str(folder(tmp_path, echo=ECHO)), *args)
    assert error is not None and error.returncode == 2 and expected in str(error)
    assert not Flow.objects.exists()


def test_apply_as_a_viewer_is_refused(tmp_path, prod):
    AccountFactory(role=Role.VIEWER, username="watcher", default_namespace=prod)
    _, _, error = flows("apply", str(folder(tmp_path, echo=ECHO)), "--namespace", "prod", "--as", "watcher")
    assert error is not None and error.returncode == 2
    assert not Flow.objects.exists()


def test_the_same_name_in_two_files_is_refused(tmp_path, admin, prod):
    directory = folder(tmp_path, one=ECHO, two=ECHO)
    _, _, error = flows("apply", str(directory), "--namespace", "prod")
    assert error is not None and "'echo' is also in" in str(error)


def test_export_writes_each_flow_and_applying_it_back_changes_nothing(tmp_path, admin, prod, other_namespace):
    FlowFactory(namespace=prod, name="greet", source=GREET)
    FlowFactory(namespace=prod, name="reports/daily", source=ECHO.replace("name: echo", "name: reports/daily"))
    FlowFactory(namespace=other_namespace, name="theirs", source=ECHO.replace("name: echo", "name: theirs"))
    target = tmp_path / "exported"

    out, _, error = flows("export", "--namespace", "prod", str(target))

    assert error is None and "2 flow(s) exported." in out
    assert sorted(p.name for p in target.iterdir()) == ["greet.yaml", "reports-daily.yaml"]
    assert (target / "greet.yaml").read_text() == GREET
    out, _, _ = flows("apply", str(target), "--namespace", "prod", "--dry-run")
    assert "0 new, 0 changed, 2 unchanged" in out


def test_export_of_an_unknown_namespace_exits_2(tmp_path, admin):
    _, _, error = flows("export", "--namespace", "nowhere", str(tmp_path / "out"))
    assert error is not None and error.returncode == 2


def test_exit_status_of_a_real_process(tmp_path):
    """No database needed to validate: a CI job runs it before anything is deployed."""
    directory = folder(tmp_path, greet=GREET, bad=BAD)
    env = {**os.environ, "MILLRACE_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "manage.py", "flows", "validate"]

    good = subprocess.run([*command, str(directory / "greet.yaml")], cwd=ROOT, env=env, capture_output=True, text=True)
    bad = subprocess.run([*command, str(directory)], cwd=ROOT, env=env, capture_output=True, text=True)

    assert good.returncode == 0, good.stderr
    assert bad.returncode == 2
    assert f"{directory / 'bad.yaml'}:4: tasks[0].type: " in bad.stderr and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1] == "CommandError: 1 of 2 file(s) invalid."
