"""What a script's own PID namespace gives, tested as an attacker would try it from inside a real
script: no process of the worker or the server is there to read, not even through `/proc`;
and what happens on a host that refuses namespaces."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from subprocess import PIPE

import pytest

from connectors.registry import ResultStatus
from connectors.scripts import LocalRunner, ScriptError, namespace
from connectors.scripts.local import PROCESS
from connectors.scripts.watchdog import session_pids
from tests.config.test_settings import assert_one_clear_line
from tests.config.test_settings import run as run_command
from tests.connectors.scripts.conftest import PRINT_SESSION
from tests.connectors.scripts.test_isolation import SERVER_ENV, session_of
from tests.connectors.scripts.test_local import job

#: Lists /proc, reads every environ it finds there and its parent's, and looks for the worker.
SNOOP = """\
import json, os
def environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            return file.read().decode(errors="replace")
    except OSError as error:
        return error.strerror
def exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
pids = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
print(json.dumps({
    "me": os.getpid(),
    "parent": os.getppid(),
    "pids": pids,
    "environs": {pid: environ(pid) for pid in pids},
    "parent_environ": environ(os.getppid()),
    "worker_exists": exists(int(os.environ["WORKER"])),
}))
"""


@pytest.fixture(autouse=True)
def fresh_probe():
    """Each test finds out anew how this host makes a namespace (some of them fake a refusal)."""
    namespace.unshare_prefix.cache_clear()
    yield
    namespace.unshare_prefix.cache_clear()


@pytest.fixture
def server_env(monkeypatch) -> None:
    """The worker (this test process) holds the server's secrets in its environment."""
    for name, value in SERVER_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("server_env")
def test_a_script_sees_only_its_own_processes_and_none_of_the_workers_environment(run_plugin):
    result = run_plugin("script.python", {"script": SNOOP, "env": {"GREETING": "hi", "WORKER": str(os.getpid())}})
    assert result.status == ResultStatus.SUCCESS, result.error
    seen = json.loads(result.outputs["stdout"])
    assert seen["pids"] == [1, 2]  # the namespace's init and the script: nothing of the host
    assert (seen["me"], seen["parent"]) == (2, 1)
    assert seen["worker_exists"] is False
    # the parent is the namespace's init, whose environment is the script's own
    assert seen["parent_environ"] == seen["environs"]["1"]
    for environ in seen["environs"].values():
        assert {entry.split("=", 1)[0] for entry in environ.split("\0") if entry} == {
            "PATH",
            "HOME",
            "LANG",
            "GREETING",
            "WORKER",
        }
    assert not any(value in result.outputs["stdout"] + result.outputs["stderr"] for value in SERVER_ENV.values())


@pytest.mark.usefixtures("server_env")
def test_a_shell_cannot_read_its_parents_or_any_other_environment_through_proc(run_plugin):
    commands = [
        'cat /proc/$PPID/environ | tr "\\0" "\\n"',
        "for environ in /proc/[0-9]*/environ; do cat $environ; done | tr '\\0' '\\n'",
        "ls /proc | grep -c '^[0-9]'",
    ]
    result = run_plugin("script.shell", {"commands": commands, "failFast": False})
    everything = result.outputs["stdout"] + result.outputs["stderr"]
    assert not any(value in everything for value in SERVER_ENV.values())
    assert "SECRET_KEY" not in everything and "DATABASE_URL" not in everything
    assert int(result.outputs["stdout"].splitlines()[-1]) <= 5  # init, the shell, ls, grep (and a cat)


def test_a_script_cannot_unmount_its_proc_to_see_the_hosts(run_plugin):
    script = "\n".join(
        [
            "import ctypes, os, sys",
            # outside a namespace of its own, a root worker's script would unmount the host's /proc
            "if os.getpid() != 2:",
            "    sys.exit('not in a namespace of its own: not trying')",
            "libc = ctypes.CDLL(None, use_errno=True)",
            "print(libc.umount2(b'/proc', 2), ctypes.get_errno() != 0)",  # MNT_DETACH
            "print(sorted(int(name) for name in os.listdir('/proc') if name.isdigit()))",
            "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])",
        ]
    )
    result = run_plugin("script.python", {"script": script})
    assert result.status == ResultStatus.SUCCESS, result.error
    assert result.outputs["stdout"].splitlines() == ["-1 True", "[1, 2]", "0000000000000000"]


def test_a_signal_to_every_process_reaches_only_the_scripts_own(run_plugin, tmp_path):
    received = tmp_path / "received"
    handler = f"import signal, time\nsignal.signal(signal.SIGUSR1, lambda *_: open({str(received)!r}, 'w'))\n"
    outside = subprocess.Popen([sys.executable, "-c", handler + "print(flush=True)\ntime.sleep(30)"], stdout=PIPE)
    try:
        assert outside.stdout.readline() == b"\n"  # its handler is set
        # only where it is pid 2 of its own namespace: elsewhere this would signal the whole machine
        commands = ['[ "$$" = 2 ] || exit 9', "sleep 30 &", "kill -USR1 -1", "wait $!"]
        result = run_plugin("script.shell", {"commands": commands})
        assert result.outputs["exitCode"] == 128 + signal.SIGUSR1  # the script's sleep got it
        time.sleep(0.2)
        assert outside.poll() is None and not received.exists()
    finally:
        outside.kill()
        outside.wait()


def test_the_namespace_dies_with_the_run_and_leaves_the_hosts_proc_alone(run_plugin, token):
    mounts = Path("/proc/self/mountinfo").read_text()
    result = run_plugin("script.shell", {"commands": [PRINT_SESSION, f"sleep {token} &", "echo done"]})
    assert result.status == ResultStatus.SUCCESS, result.error
    assert session_pids(session_of(result)) == []
    assert Path("/proc/self/mountinfo").read_text() == mounts  # the script's /proc was mounted in its namespace only


@pytest.mark.usefixtures("isolation")
@pytest.mark.parametrize(
    ("commands", "code", "error"),
    [
        (["exit 7"], 7, "The script exited with code 7."),
        (["kill -TERM $$"], -15, "The script was stopped: it was killed by SIGTERM."),
        (["kill -SEGV $$"], -11, "The script was stopped: it was killed by SIGSEGV."),
    ],
    ids=["exit", "sigterm", "sigsegv"],
)
def test_the_exit_code_and_the_signal_are_the_scripts_own(run_plugin, commands, code, error):
    result = run_plugin("script.shell", {"commands": commands})
    assert result.status == ResultStatus.FAILED
    assert (result.outputs["exitCode"], result.error) == (code, error)


def fake_unshare(directory, body: str) -> None:
    path = directory / "unshare"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_a_host_without_unshare_fails_the_step_and_names_the_setting(run_plugin, monkeypatch, tmp_path):
    monkeypatch.setattr(namespace, "UNSHARE_PATH", str(tmp_path))
    result = run_plugin("script.shell", {"commands": ["echo ran"]})
    assert result.status == ResultStatus.FAILED and result.error_code == "SCRIPT_ERROR"
    assert result.error.startswith(
        "Scripts run in a PID namespace of their own (MILLRACE_SCRIPTS_ISOLATION=namespace), and this worker "
        f"cannot create one: util-linux 'unshare' was not found in {tmp_path}."
    )
    assert "set MILLRACE_SCRIPTS_ISOLATION=process" in result.error


def test_a_kernel_that_refuses_namespaces_fails_the_step_with_its_reason(run_plugin, monkeypatch, tmp_path):
    fake_unshare(tmp_path, "echo 'unshare: unshare failed: Operation not permitted' >&2; exit 1")
    monkeypatch.setattr(namespace, "UNSHARE_PATH", str(tmp_path))
    result = run_plugin("script.shell", {"commands": ["echo ran"]})
    assert result.status == ResultStatus.FAILED and result.error_code == "SCRIPT_ERROR"
    assert "cannot create one: the kernel refused it (unshare: unshare failed: Operation not permitted)" in (
        result.error
    )


def test_a_worker_that_may_not_create_namespaces_itself_uses_a_user_namespace(run_plugin, monkeypatch, tmp_path):
    # refuses what a non-root worker is refused: a PID namespace without a user namespace
    fake_unshare(
        tmp_path,
        '[ "$1" = --user ] || { echo "unshare: unshare failed: Operation not permitted" >&2; exit 1; }\n'
        'exec /usr/bin/unshare "$@"',
    )
    monkeypatch.setattr(namespace, "UNSHARE_PATH", str(tmp_path))
    assert namespace.unshare_prefix()[1:3] == ("--user", "--map-current-user")
    script = "import os\nprint(' '.join(sorted(name for name in os.listdir('/proc') if name.isdigit())))"
    result = run_plugin("script.python", {"script": script})
    assert result.status == ResultStatus.SUCCESS, result.error
    assert result.outputs["stdout"] == "1 2\n"


def test_process_isolation_runs_scripts_without_a_namespace(run_plugin, settings, monkeypatch, tmp_path):
    settings.MILLRACE_SCRIPTS_ISOLATION = PROCESS
    monkeypatch.setattr(namespace, "UNSHARE_PATH", str(tmp_path))  # not needed, so not looked for
    script = "import os\nprint(os.getppid(), len([name for name in os.listdir('/proc') if name.isdigit()]) > 2)"
    result = run_plugin("script.python", {"script": script})
    assert result.status == ResultStatus.SUCCESS, result.error
    # the weaker isolation this setting chooses: the worker is the script's parent, in plain sight
    assert result.outputs["stdout"] == f"{os.getpid()} True\n"


def test_an_unknown_isolation_fails_the_step_clearly(run_plugin, settings):
    settings.MILLRACE_SCRIPTS_ISOLATION = "container"
    result = run_plugin("script.shell", {"commands": ["true"]})
    assert result.status == ResultStatus.FAILED and result.error_code == "SCRIPT_ERROR"
    assert result.error == "MILLRACE_SCRIPTS_ISOLATION must be one of namespace, process, not 'container'."


def test_a_namespace_that_cannot_be_set_up_at_run_time_is_a_clear_error(monkeypatch, tmp_path):
    # the probe passes, then the real run's unshare fails before the script starts
    marker = tmp_path / "probed"
    fake_unshare(
        tmp_path,
        f'if [ -e {marker} ]; then echo "unshare: mount /proc failed: Permission denied" >&2; exit 1; fi\n'
        f'touch {marker}; exec /usr/bin/unshare "$@"',
    )
    monkeypatch.setattr(namespace, "UNSHARE_PATH", str(tmp_path))
    with pytest.raises(ScriptError, match=r"^The script could not be started in a PID namespace of its own: unshare: "):
        LocalRunner().run(job(["/bin/sh"], "echo ran"))


@pytest.mark.usefixtures("isolation")
def test_every_resource_limit_reaches_the_script(run_plugin, limits):
    limits(cpu_seconds=7, memory_bytes=10_000_000, file_bytes=3_000_000, processes=9, open_files=33)
    # 10 MB is too little for a Python to start: the namespace's init runs without the script's limits
    result = run_plugin("script.shell", {"commands": ["cat /proc/self/limits"]})
    assert result.status == ResultStatus.SUCCESS, result.error
    rows = {line[:26].strip(): line[26:].split()[:2] for line in result.outputs["stdout"].splitlines()[1:]}
    assert rows["Max cpu time"] == ["7", "9"]
    assert rows["Max address space"] == ["10000000", "10000000"]
    assert rows["Max file size"] == ["3000000", "3000000"]
    assert rows["Max open files"] == ["33", "33"]
    assert rows["Max core file size"] == ["0", "0"]
    assert rows["Max processes"][0] == "9" if os.geteuid() == 0 else int(rows["Max processes"][0]) > 9


def test_an_unknown_isolation_setting_stops_millrace_at_start(tmp_path):
    done = run_command(tmp_path, "manage.py", "check", MILLRACE_SCRIPTS_ISOLATION="container")
    assert_one_clear_line(done, "MILLRACE_SCRIPTS_ISOLATION must be 'namespace' or 'process', not 'container'.")
    assert run_command(tmp_path, "manage.py", "check", MILLRACE_SCRIPTS_ISOLATION="process").returncode == 0
