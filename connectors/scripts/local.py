"""The local process runner: a script runs as a child process of the worker, fenced in.

Each run gets a fresh private temporary directory (removed afterwards, whatever happened), its
own session and process group, a PID namespace of its own where it sees no other process
(`connectors.scripts.namespace`; `MILLRACE_SCRIPTS_ISOLATION=process` runs it without), resource
limits set in the child before the interpreter starts, an environment of only what the job
gives, and a watchdog (`connectors.scripts.watchdog`) for what rlimits cannot hold. Its stdout
and stderr are read as they come into bounded tails. The whole session is killed when the
script's first process ends (nothing may outlive the run), at the deadline, when the step is
cancelled, and when a watched limit is passed.
"""

from __future__ import annotations

import os
import resource
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, cast

from connectors.scripts import namespace
from connectors.scripts.base import Limits, ScriptError, ScriptJob, ScriptOutcome, Stop
from connectors.scripts.capture import Tail, VarsScanner
from connectors.scripts.stale import record_session, sweep_stale
from connectors.scripts.watchdog import Watchdog, kill_session, user_tasks
from connectors.scripts.workdir import check_globs, collect_outputs, make_root, place_files, remove_tree

#: Seconds between two asks whether the step was cancelled (each ask may read the database).
CANCEL_POLL = 0.5
#: Seconds to read what is left in the pipes once the script's processes are gone.
DRAIN_SECONDS = 1.0
READ_BYTES = 64 * 1024

#: A seccomp filter (classic BPF: code, jump if true, jump if false, value) that makes `setsid`
#: fail with EPERM, on x86-64 (x32 numbers folded in), i386 and arm64, and allows every other
#: call: a process of the script cannot leave its session, so the watchdog counts every one of
#: them and the kill at the end reaches them all.
NO_SETSID_FILTER = (
    (0x20, 0, 0, 4),  # load the architecture
    (0x15, 0, 3, 0xC000003E),  # x86-64?
    (0x20, 0, 0, 0),  # load the call's number
    (0x54, 0, 0, 0xBFFFFFFF),  # x32 numbers are x86-64's with bit 30 set
    (0x15, 7, 6, 112),  # setsid: refuse, else allow
    (0x15, 0, 2, 0x40000003),  # i386?
    (0x20, 0, 0, 0),
    (0x15, 4, 3, 66),
    (0x15, 0, 2, 0xC00000B7),  # arm64?
    (0x20, 0, 0, 0),
    (0x15, 1, 0, 157),
    (0x06, 0, 0, 0x7FFF0000),  # SECCOMP_RET_ALLOW
    (0x06, 0, 0, 0x00050001),  # SECCOMP_RET_ERRNO | EPERM
)

#: Isolation modes (MILLRACE_SCRIPTS_ISOLATION): a PID namespace per script, or none.
NAMESPACE, PROCESS = "namespace", "process"
ISOLATIONS = (NAMESPACE, PROCESS)

#: Runs in the child (`python -I -S -c`): set the limits, then become the interpreter; or become
#: `unshare`, which starts it in a namespace whose init sets the limits instead. Setting them
#: here rather than in a `preexec_fn` keeps the worker's threads out of the forked child.
#: Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across exec: restore
#: them, so a shell's commands die of a full file or a closed pipe as they would anywhere. The
#: first process (the script's, or `unshare`, which takes the script's namespace along) dies with
#: the worker thread that started it (PR_SET_PDEATHSIG, kept across exec). The seccomp filter
#: (with no_new_privs, which it needs and which keeps set-user-ID programs from raising
#: privileges) is installed where the kernel has it, before `unshare` (which never calls setsid)
#: and so over everything in the namespace; without, the script may leave its session, as
#: docs/scripts.md says.
LAUNCHER = f"""\
import ctypes, os, resource, signal, struct, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
try:
    libc = ctypes.CDLL(None)
    libc.prctl(1, signal.SIGKILL)
except (AttributeError, OSError):
    libc = None
if os.getppid() != int(sys.argv[2]):
    os._exit(1)
if libc is not None:
    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    code = b"".join(struct.pack("HBBI", *op) for op in {NO_SETSID_FILTER!r})
    buffer = ctypes.create_string_buffer(code, len(code))
    program = Program(len(code) // 8, ctypes.addressof(buffer))
    if libc.prctl(38, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0:
        libc.prctl(22, ctypes.c_ulong(2), ctypes.byref(program), ctypes.c_ulong(0), ctypes.c_ulong(0))
for spec in filter(None, sys.argv[1].split(",")):
    name, soft, hard = spec.split(":")
    resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
try:
    os.execv(sys.argv[3], sys.argv[3:])
except OSError as error:
    sys.stderr.write(f"Could not start {{sys.argv[3]}}: {{error.strerror}}\\n")
    os._exit(127)
"""


def rlimits(limits: Limits, helpers: int = 0) -> str:
    """The launcher's `NAME:soft:hard,...`, each within what this process may grant.

    CPU gets a hard limit two seconds above the soft one, so a process first receives SIGXCPU
    (a clear reason) and SIGKILL only if it ignores that. RLIMIT_NPROC counts every process of
    the user, the worker's own included, so it is set to what the user runs now plus the
    script's allowance and the `helpers` started with it (the watchdog counts the script's own
    exactly). No core files.
    """
    processes = limits.processes
    if os.geteuid() != 0:
        processes += user_tasks(os.getuid()) + helpers + 1
    wanted = {
        "RLIMIT_CPU": (limits.cpu_seconds, limits.cpu_seconds + 2),
        "RLIMIT_AS": (limits.memory_bytes, limits.memory_bytes),
        "RLIMIT_FSIZE": (limits.file_bytes, limits.file_bytes),
        "RLIMIT_NPROC": (processes, processes),
        "RLIMIT_NOFILE": (limits.open_files, limits.open_files),
        "RLIMIT_CORE": (0, 0),
    }
    specs = []
    for name, (soft, hard) in wanted.items():
        ceiling = resource.getrlimit(getattr(resource, name))[1]
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        specs.append(f"{name}:{soft}:{hard}")
    return ",".join(specs)


class LocalRunner:
    """Runs scripts as processes of this worker, as its user, each in a PID namespace of its own
    unless `isolation` is `process` (see docs/scripts.md for what that does and does not
    isolate)."""

    name = "local"

    def __init__(self, isolation: str = NAMESPACE) -> None:
        if isolation not in ISOLATIONS:
            raise ScriptError(f"MILLRACE_SCRIPTS_ISOLATION must be one of {', '.join(ISOLATIONS)}, not {isolation!r}.")
        self.isolation = isolation

    def run(self, job: ScriptJob) -> ScriptOutcome:
        check_globs(job.output_globs)
        if self.isolation == NAMESPACE:
            namespace.unshare_prefix()  # refused here: fail before anything is set up
        sweep_stale()
        root = make_root()
        try:
            work = root / "work"
            place_files(work, job.files, limit=job.limits.disk_bytes)
            program = root / f"script{job.program_suffix}"
            program.write_text(job.program, encoding="utf-8")
            outcome = _Run(job, root, work, self.isolation).execute([*job.command, str(program)])
            if outcome.exit_code == 0 and outcome.stopped is None and outcome.vars_error is None:
                try:
                    outcome.output_files = collect_outputs(
                        work, job.output_globs, store=job.store_output, max_bytes=job.max_output_file_bytes
                    )
                except ScriptError as error:
                    outcome.files_error = str(error)
            return outcome
        finally:
            remove_tree(root)


class _Run:
    """One started script: its process, pipes, watchdog and the reason it was stopped, if any."""

    def __init__(self, job: ScriptJob, root: Path, work: Path, isolation: str) -> None:
        self.job = job
        self.root = root
        self.work = work
        self.helpers = namespace.HELPERS if isolation == NAMESPACE else 0
        self.stdout, self.stderr, self.scanner = Tail(), Tail(), VarsScanner()
        self.stopped: str | None = None
        self._lock = threading.Lock()

    def stop(self, reason: str) -> None:
        """Record the first reason the run is ended from outside (the watchdog calls it too)."""
        with self._lock:
            if self.stopped is None:
                self.stopped = reason

    def execute(self, command: list[str]) -> ScriptOutcome:
        limits = rlimits(self.job.limits, self.helpers)
        if not self.helpers:
            return self._execute(command, limits, None)
        status_read, status_write = os.pipe()
        try:
            # the namespace's init sets the limits, for the script only: a low memory limit must
            # not keep the init itself from starting
            wrapped = namespace.wrap(command, status_fd=status_write, limits=limits)
            return self._execute(wrapped, "", (status_read, status_write))
        finally:
            os.close(status_read)
            os.close(status_write)

    def _execute(self, command: list[str], limits: str, status: tuple[int, int] | None) -> ScriptOutcome:
        """Run `command` under `limits` (the launcher's); with `status` (a pipe), the script's
        exit status is the one the namespace's init writes there, not the exit status of
        `command` (`unshare`)."""
        job = self.job
        started = time.monotonic()
        deadline = started + job.limits.seconds
        if job.deadline is not None:
            deadline = min(deadline, job.deadline)
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-c",
                    LAUNCHER,
                    limits,
                    str(os.getpid()),
                    *command,
                ],
                cwd=self.work,
                env={"HOME": str(self.work), **job.env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
                pass_fds=status[1:] if status else (),
            )
        except OSError as error:
            raise ScriptError(f"The script could not be started ({error.strerror}).") from None
        record_session(self.root, process.pid)
        watchdog = Watchdog(
            process.pid,
            self.root,
            processes=job.limits.processes + self.helpers,
            disk_bytes=job.limits.disk_bytes,
            trip=self.stop,
        )
        selector = selectors.DefaultSelector()
        stdout, stderr = cast(IO[bytes], process.stdout), cast(IO[bytes], process.stderr)
        selector.register(stdout.fileno(), selectors.EVENT_READ, (self.stdout, self.scanner))
        selector.register(stderr.fileno(), selectors.EVENT_READ, (self.stderr,))
        try:
            watchdog.start()
            self._watch(process.pid, selector, deadline)
        finally:
            kill_session(process.pid)  # whatever the script left running, or all of it on an error here
            watchdog.finish()
            drain_until = time.monotonic() + DRAIN_SECONDS
            while selector.get_map() and time.monotonic() < drain_until:
                self._read(selector, 0.1)
            selector.close()
            stdout.close()
            stderr.close()
            _, waited = os.waitpid(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(waited)
        self.scanner.close()
        code = process.returncode
        if status is not None:
            reported = namespace.read_status(status[0])
            if reported is None and code > 0 and self.stopped is None:
                said = self.stderr.text().strip().splitlines()
                raise ScriptError(
                    "The script could not be started in a PID namespace of its own"
                    + (f": {said[-1]}" if said else f" (exit code {code}).")
                )
            code = code if reported is None else reported
        return ScriptOutcome(
            exit_code=code,
            stdout=self.stdout.text(),
            stderr=self.stderr.text(),
            vars=self.scanner.vars,
            stopped=self.stopped,
            signal=-code if code < 0 else None,
            seconds=time.monotonic() - started,
            time_limit=deadline - started,
            problems=self.scanner.problems,
            vars_error=self.scanner.error,
        )

    def _watch(self, pid: int, selector: selectors.BaseSelector, deadline: float) -> None:
        """Read output until the script's first process has ended (left unreaped, so its pid
        still names the session), stopping it at the deadline or on cancel."""
        next_poll = time.monotonic() + CANCEL_POLL
        while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            self._read(selector, 0.05)
            now = time.monotonic()
            if self.stopped is not None:
                kill_session(pid)
            elif now >= deadline:
                self.stop(Stop.TIMEOUT)
                kill_session(pid)
            elif now >= next_poll:
                next_poll = now + CANCEL_POLL
                if self.job.is_cancelled():
                    self.stop(Stop.CANCELLED)
                    kill_session(pid)

    @staticmethod
    def _read(selector: selectors.BaseSelector, timeout: float) -> None:
        if not selector.get_map():
            time.sleep(timeout)
            return
        for key, _ in selector.select(timeout):
            chunk = os.read(key.fd, READ_BYTES)
            if not chunk:
                selector.unregister(key.fd)
                continue
            for sink in key.data:
                sink.write(chunk)


def default_runner(isolation: str = NAMESPACE) -> LocalRunner:
    """The runner scripts use, isolated as MILLRACE_SCRIPTS_ISOLATION says; a container runner
    would be chosen here by a setting."""
    return LocalRunner(isolation)
