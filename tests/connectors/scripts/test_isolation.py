"""What fences a script in, tested on real processes: environment, working directory, process
group, time, cancel and the resource limits, with and without a PID namespace (what only the
namespace gives is in test_namespace.py)."""

import json
import os
import threading
import time
from pathlib import Path

import pytest

from connectors.registry import ResultStatus
from connectors.scripts.watchdog import session_pids
from tests.connectors.scripts.conftest import PRINT_SESSION, PRINT_SESSION_PY, running

SERVER_ENV = {
    "SECRET_KEY": "server-secret-key-value",
    "DATABASE_URL": "postgres://admin:pw@db/millrace",
    "REDIS_URL": "redis://:pw@cache:6379/0",
    "MILLRACE_X": "millrace-setting-value",
    "DJANGO_Y": "django-setting-value",
}


def first_line(text: str) -> str:
    return text.splitlines()[0]


def test_a_script_sees_none_of_the_servers_environment(run_plugin, monkeypatch):
    for name, value in SERVER_ENV.items():
        monkeypatch.setenv(name, value)
    result = run_plugin(
        "script.python",
        {"script": "import json, os\nprint(json.dumps(dict(os.environ)))", "env": {"GREETING": "hello"}},
    )
    assert result.status == ResultStatus.SUCCESS, result.error
    seen = json.loads(result.outputs["stdout"])
    assert set(seen) == {"PATH", "HOME", "LANG", "GREETING"}
    assert seen["GREETING"] == "hello" and seen["LANG"] == "C.UTF-8"
    assert not any(value in result.outputs["stdout"] for value in SERVER_ENV.values())


def test_a_shell_sees_none_of_the_servers_environment_either(run_plugin, monkeypatch):
    for name, value in SERVER_ENV.items():
        monkeypatch.setenv(name, value)
    result = run_plugin("script.shell", {"commands": ["env"]})
    assert result.status == ResultStatus.SUCCESS, result.error
    names = {line.split("=", 1)[0] for line in result.outputs["stdout"].splitlines()}
    assert names <= {"PATH", "HOME", "LANG", "PWD", "OLDPWD", "SHLVL", "_"}
    assert not any(value in result.outputs["stdout"] for value in SERVER_ENV.values())


def test_each_run_has_a_fresh_home_that_is_removed_afterwards(run_plugin):
    script = {"commands": ['echo "$HOME"', "pwd", "ls -A", "touch left-behind"]}
    first, second = run_plugin("script.shell", script), run_plugin("script.shell", script)
    for result in (first, second):
        home, cwd, *listing = result.outputs["stdout"].splitlines()
        assert home == cwd and listing == []  # empty: nothing of the other run
        assert not Path(home).exists()
    assert first.outputs["stdout"] != second.outputs["stdout"]


@pytest.mark.parametrize(
    "commands",
    [
        pytest.param(["pwd", "exit 3"], id="failure"),
        pytest.param(["pwd", "sleep 30"], id="killed"),
    ],
)
def test_the_working_directory_is_removed_after_a_failure_or_a_kill(run_plugin, ctx, commands):
    ctx.deadline = time.monotonic() + 1.5
    result = run_plugin("script.shell", {"commands": commands}, ctx)
    assert result.status == ResultStatus.FAILED
    assert not Path(first_line(result.outputs["stdout"])).exists()


@pytest.mark.usefixtures("isolation")
def test_processes_left_running_are_killed_when_the_script_ends(run_plugin, token):
    started = time.monotonic()
    commands = [PRINT_SESSION, f"sleep {token} &", f"(sleep {token} &)", "echo done"]
    result = run_plugin("script.shell", {"commands": commands})
    assert result.status == ResultStatus.SUCCESS, result.error
    assert time.monotonic() - started < 10  # the background sleeps held stdout open: not waited for
    assert result.outputs["stdout"].endswith("\ndone\n")
    assert session_pids(session_of(result)) == [] and running(token) == []


@pytest.mark.usefixtures("isolation")
def test_no_process_of_a_script_can_leave_its_session(run_plugin):
    commands = ["setsid sleep 60 & wait $! || echo refused $?", "python -c 'import os; os.setsid()' 2>&1 | tail -1"]
    result = run_plugin("script.shell", {"commands": commands, "failFast": False})
    stdout = result.outputs["stdout"]
    assert result.outputs["stderr"].startswith("setsid: ") and "Operation not permitted" in result.outputs["stderr"]
    assert stdout.startswith("refused 1\n") and "PermissionError: [Errno 1] Operation not permitted" in stdout


@pytest.mark.usefixtures("isolation")
def test_a_fork_bomb_that_tries_to_leave_its_session_is_stopped_and_leaves_nothing(run_plugin, limits, token):
    limits(processes=16, seconds=10)
    script = "\n".join(
        [
            "import subprocess, time",
            "for n in range(100):",
            "    try:",
            f"        subprocess.Popen(['sleep', {token!r}], start_new_session=True)",
            "    except OSError:",  # setsid refused: stay in the session
            f"        subprocess.Popen(['sleep', {token!r}])",
            "time.sleep(60)",
        ]
    )
    result = run_plugin("script.python", {"script": script})
    assert "exceeded its limit of 16 processes" in result.error
    assert running(token) == []


def session_of(result) -> int:
    """The session id a test script printed first (PRINT_SESSION)."""
    return int(first_line(result.outputs["stdout"]))


@pytest.mark.usefixtures("isolation")
def test_a_script_past_its_deadline_is_killed_with_its_whole_group(run_plugin, ctx):
    ctx.deadline = time.monotonic() + 1
    started = time.monotonic()
    result = run_plugin("script.shell", {"commands": [PRINT_SESSION, "sleep 60 & sleep 60 & wait"]}, ctx)
    assert time.monotonic() - started < 6
    assert result.status == ResultStatus.FAILED and result.error_code == "SCRIPT_STOPPED"
    assert result.error.startswith("The script was stopped: it ran past its time limit of 1")
    assert session_pids(session_of(result)) == []


def test_without_a_deadline_the_settings_time_limit_applies(run_plugin, limits):
    limits(seconds=1)
    result = run_plugin("script.shell", {"commands": [PRINT_SESSION, "sleep 60"]})
    assert result.status == ResultStatus.FAILED
    assert "ran past its time limit of 1 seconds" in result.error
    assert "MILLRACE_SCRIPT_TIMEOUT_SECONDS=1" in result.error
    assert session_pids(session_of(result)) == []


@pytest.mark.usefixtures("isolation")
def test_a_cancelled_step_kills_its_script(run_plugin, ctx):
    timer = threading.Timer(1.0, setattr, (ctx, "cancelled", True))
    timer.start()
    started = time.monotonic()
    try:
        result = run_plugin("script.shell", {"commands": [PRINT_SESSION, "sleep 60 & sleep 60"]}, ctx)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5
    assert result.status == ResultStatus.FAILED
    assert result.error == "The script was stopped: the execution ended (cancelled, timed out) or the step did."
    assert session_pids(session_of(result)) == []


@pytest.mark.usefixtures("isolation")
def test_a_thousand_processes_are_stopped_at_the_process_limit(run_plugin, limits):
    limits(processes=64)
    started = time.monotonic()
    result = run_plugin(
        "script.shell",
        {"commands": [PRINT_SESSION, "i=0; while [ $i -lt 1000 ]; do sleep 30 & i=$((i+1)); done", "wait"]},
    )
    assert time.monotonic() - started < 15
    assert result.status == ResultStatus.FAILED
    assert result.error.startswith(
        "The script was stopped: it exceeded its limit of 64 processes (MILLRACE_SCRIPT_MAX_PROCESSES)."
    )
    assert session_pids(session_of(result)) == []


def test_a_fork_bomb_in_python_is_stopped_too(run_plugin, limits):
    limits(processes=16)
    lines = ["import os, time", "while True:", "    if os.fork() == 0:", "        time.sleep(30)"]
    script = PRINT_SESSION_PY + "\n".join(lines)
    result = run_plugin("script.python", {"script": script})
    assert "exceeded its limit of 16 processes" in result.error
    assert session_pids(session_of(result)) == []


@pytest.mark.usefixtures("isolation")
def test_one_huge_file_is_stopped_at_the_file_size_limit(run_plugin, limits):
    limits(file_bytes=1024 * 1024, disk_bytes=5 * 1024 * 1024)
    started = time.monotonic()
    result = run_plugin("script.shell", {"commands": ["head -c 10000000000 /dev/zero > big", "echo unreachable"]})
    assert time.monotonic() - started < 10
    assert result.status == ResultStatus.FAILED
    assert result.error.startswith(
        "The script exited with code 153 (a command was stopped: it wrote a file larger than its limit of "
        "1048576 bytes (MILLRACE_SCRIPT_FILE_BYTES))."
    )
    assert "unreachable" not in result.outputs["stdout"]


def test_python_writing_past_the_file_size_limit_fails_with_the_reason(run_plugin, limits):
    limits(file_bytes=1024 * 1024)
    result = run_plugin("script.python", {"script": "open('big', 'wb').write(b'0' * 10_000_000)"})
    assert result.status == ResultStatus.FAILED
    assert "File too large" in result.error  # Python ignores SIGXFSZ: the write fails instead
    assert result.error.startswith(
        "The script exited with code 1 (a limit was reached: a file grew past its limit of 1048576 bytes "
        "(MILLRACE_SCRIPT_FILE_BYTES)).\nstderr:\n"
    )


def test_many_small_files_are_stopped_at_the_disk_limit(run_plugin, limits, tmp_path):
    limits(file_bytes=1024 * 1024, disk_bytes=5 * 1024 * 1024)
    progress = tmp_path / "progress"
    started = time.monotonic()
    result = run_plugin(
        "script.shell",
        {
            "commands": [
                "i=0",
                'while [ $i -lt 20000 ]; do head -c 500000 /dev/zero > f$i; echo $i >> "$PROGRESS"; i=$((i+1)); done',
            ],
            "env": {"PROGRESS": str(progress)},
        },
    )
    assert time.monotonic() - started < 15
    assert result.status == ResultStatus.FAILED
    assert result.error.startswith(
        "The script was stopped: its working directory grew past its limit of 5242880 bytes "
        "(MILLRACE_SCRIPT_DISK_BYTES)."
    )
    written = len(progress.read_text().splitlines()) * 500_000
    assert written < 1_000_000_000  # of the 10 GB it meant to write


@pytest.mark.usefixtures("isolation")
def test_cpu_time_is_limited(run_plugin, limits):
    limits(cpu_seconds=1)
    started = time.monotonic()
    result = run_plugin("script.python", {"script": "while True:\n    pass"})
    assert time.monotonic() - started < 10
    assert result.status == ResultStatus.FAILED
    assert result.outputs["exitCode"] == -24
    assert result.error.startswith(
        "The script was stopped: it used its limit of 1 CPU seconds (MILLRACE_SCRIPT_CPU_SECONDS)."
    )


def test_memory_is_limited(run_plugin, limits):
    limits(memory_bytes=512 * 1024 * 1024)
    result = run_plugin("script.python", {"script": "block = bytearray(2 * 1024 ** 3)"})
    assert result.status == ResultStatus.FAILED
    assert "MemoryError" in result.error
    assert "(a limit was reached: memory ran out at its limit of 536870912 bytes per process " in result.error


def test_open_files_are_limited(run_plugin, limits):
    limits(open_files=32)
    result = run_plugin("script.python", {"script": "files = [open('f%d' % n, 'w') for n in range(100)]"})
    assert result.status == ResultStatus.FAILED
    assert "Too many open files" in result.error
    assert "(a limit was reached: it opened more than its limit of 32 files (MILLRACE_SCRIPT_OPEN_FILES))" in (
        result.error
    )


def test_output_over_the_cap_is_truncated_with_a_marker(run_plugin):
    script = "import sys\nfor n in range(300_000):\n    print(n)\n    print('e', n, file=sys.stderr)"
    result = run_plugin("script.python", {"script": script})
    assert result.status == ResultStatus.SUCCESS
    for stream in ("stdout", "stderr"):
        text = result.outputs[stream]
        marker = text.split("\n", 1)[0]
        assert marker.startswith("[... ") and "bytes truncated" in marker
        assert len(text.encode()) <= 64 * 1024
    assert result.outputs["stdout"].endswith("\n299999\n")
    assert result.outputs["stderr"].endswith("\ne 299999\n")


def test_a_limit_that_is_not_a_positive_number_fails_the_step_clearly(run_plugin, limits):
    limits(processes=0)
    result = run_plugin("script.shell", {"commands": ["true"]})
    assert result.status == ResultStatus.FAILED and result.error_code == "SCRIPT_ERROR"
    assert "MILLRACE_SCRIPT_MAX_PROCESSES" in result.error


def test_nothing_is_left_in_the_temporary_directory(run_plugin, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    run_plugin("script.shell", {"commands": ["mkdir -p a/b", "touch a/b/c", "chmod 000 a", "exit 1"]})
    run_plugin("script.python", {"script": "print(1)"})
    assert os.listdir(tmp_path) == []
