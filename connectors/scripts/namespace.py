"""A PID namespace of its own for each script, so it sees no process but its own.

A script's environment holds nothing of the server's, but as a process of the worker's user it
could read `/proc/<pid>/environ` of the worker (its parent) and of every process of that user,
the server's included. So the local runner starts each script through util-linux `unshare`:
a new PID namespace with its own `/proc` mounted in a private mount namespace (`--pid --fork
--mount-proc`), and, when the worker may not create those itself (it is not root), a user
namespace mapping the worker's user to itself (`--user --map-current-user`). In there `/proc`
lists the script's own processes only; the worker and the server have no pid in it.

The namespace's first process (pid 1) is `INIT`, not the script: Linux ignores every signal a
namespace's init does not handle, from inside and from the kernel alike (SIGXCPU, SIGXFSZ,
SIGPIPE), so a script that were pid 1 would outlive its CPU limit. `INIT` starts the script as
pid 2, reaps what is orphaned, and when the script ends writes its exit status (negative: the
signal that killed it) to a pipe the worker reads, then exits. When the init ends, the kernel
kills every process left in its namespace; `unshare --kill-child` ends the init when `unshare`
dies (with the worker: the launcher's PR_SET_PDEATHSIG survives its exec of `unshare`).

Both run in the script's session, so the watchdog counts them (`HELPERS`) and the kill at the
end reaches them as it reaches the script.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys

from connectors.scripts.base import ScriptError

#: The processes a namespaced run adds to the script's session: `unshare` and the init.
HELPERS = 2
#: Where `unshare` is looked for (the worker's PATH may be anything).
UNSHARE_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
#: The ways tried, in order: as root (or with CAP_SYS_ADMIN) no user namespace is needed;
#: otherwise one mapping the worker's user to itself (util-linux 2.38), or to root inside it
#: (older util-linux; the init then drops every capability before the script starts).
_FLAGS = ("--pid", "--fork", "--mount-proc", "--kill-child")
CANDIDATES = (
    _FLAGS,
    ("--user", "--map-current-user", *_FLAGS),
    ("--user", "--map-root-user", *_FLAGS),
)
#: Succeeds only as pid 1 of a new namespace whose `/proc` is its own.
_PROBE = "import os, sys; sys.exit(0 if os.getpid() == 1 and os.readlink('/proc/self') == '1' else 3)"
PROBE_SECONDS = 10

#: The namespace's init (`python -I -S -c INIT <status fd> <limits> <command...>`), under the
#: seccomp filter the launcher set before it ran `unshare`; it sets the script's resource limits
#: (the launcher's `NAME:soft:hard,...`) in the script's process only. It empties the capability
#: bounding set where it may (a worker running as root would otherwise give its script
#: CAP_SYS_ADMIN, and with it the power to unmount this `/proc` and see the host's), then drops
#: its own capabilities (it needs none, and a process of the same user holding none is nothing
#: the script could borrow them from), ignores SIGINT (Python's handler would end it on a
#: script's `kill -INT 1`), and keeps the status pipe from the script.
INIT = """\
import ctypes, os, resource, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
status = int(sys.argv[1])
os.set_inheritable(status, False)
try:
    libc = ctypes.CDLL(None)
except OSError:
    libc = None
if libc is not None:
    for capability in range(64):
        if libc.prctl(24, ctypes.c_ulong(capability), 0, 0, 0) != 0:
            break
    libc.capset((ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)())
child = os.fork()
if child == 0:
    for number in (signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(number, signal.SIG_DFL)
    for spec in sys.argv[2].split(","):
        name, soft, hard = spec.split(":")
        resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
    try:
        os.execv(sys.argv[3], sys.argv[3:])
    except OSError as error:
        sys.stderr.write(f"Could not start {sys.argv[3]}: {error.strerror}\\n")
        os._exit(127)
while True:
    pid, code = os.wait()
    if pid == child:
        break
os.write(status, str(os.waitstatus_to_exitcode(code)).encode())
os._exit(0)
"""

_STATUS = re.compile(rb"-?\d{1,3}")


@functools.cache
def unshare_prefix() -> tuple[str, ...]:
    """`unshare` and the flags that give a namespace here, found once per process (a refusal is
    not remembered: the next run asks again). Raises ScriptError when none works."""
    unshare = shutil.which("unshare", path=UNSHARE_PATH)
    if unshare is None:
        raise ScriptError(_refused(f"util-linux 'unshare' was not found in {UNSHARE_PATH}"))
    reason = ""
    for flags in CANDIDATES:
        try:
            probe = subprocess.run(
                [unshare, *flags, "--", sys.executable, "-I", "-S", "-c", _PROBE],
                env={},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=PROBE_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            reason = str(error)
            continue
        if probe.returncode == 0:
            return (unshare, *flags)
        lines = probe.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[-1] if lines else f"exit code {probe.returncode}"
    raise ScriptError(_refused(f"the kernel refused it ({reason})"))


def _refused(why: str) -> str:
    return (
        "Scripts run in a PID namespace of their own (MILLRACE_SCRIPTS_ISOLATION=namespace), and this "
        f"worker cannot create one: {why}. Allow unprivileged user namespaces for the worker's user, "
        "or set MILLRACE_SCRIPTS_ISOLATION=process to run scripts without one, able to read the "
        "environment of every process of the worker's user (docs/scripts.md)."
    )


def wrap(command: list[str], *, status_fd: int, limits: str) -> list[str]:
    """`command` run as pid 2 of a new namespace under `limits` (`NAME:soft:hard,...`), its
    exit status written to `status_fd`."""
    return [*unshare_prefix(), "--", sys.executable, "-I", "-S", "-c", INIT, str(status_fd), limits, *command]


def read_status(fd: int) -> int | None:
    """The script's exit status as the init reported it, or None when the init did not (it was
    killed first, or never started the script). Read once `unshare` has ended; never blocks."""
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, 16)
    except BlockingIOError:
        return None
    return int(data) if _STATUS.fullmatch(data) else None
