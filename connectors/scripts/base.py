"""What a script runner is given and what it hands back, independent of where the script runs.

A runner takes a `ScriptJob` (a program text, the command that runs it, files to place in a
fresh working directory, an environment, limits, a deadline and a cancellation check) and
returns a `ScriptOutcome` (exit code, bounded tails of stdout and stderr, the `vars` the script
announced, the output files it stored, or why it was stopped). The local process runner
(`connectors.scripts.local`) is the one built; a container runner (Docker, Kubernetes) would
implement the same `ScriptRunner.run` by mounting or copying the same working directory.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

#: Opens the content of one input file (a namespace file, a stored file or a text).
FileSource = Callable[[], IO[bytes]]
#: Stores one output file (its path in the working directory, its content); returns its URI.
FileSink = Callable[[str, IO[bytes]], str]

#: Setting names as an administrator sets them (the keys of `settings.MILLRACE_SCRIPT_LIMITS`).
LIMIT_SETTINGS = {
    "cpu_seconds": "MILLRACE_SCRIPT_CPU_SECONDS",
    "memory_bytes": "MILLRACE_SCRIPT_MEMORY_BYTES",
    "file_bytes": "MILLRACE_SCRIPT_FILE_BYTES",
    "processes": "MILLRACE_SCRIPT_MAX_PROCESSES",
    "open_files": "MILLRACE_SCRIPT_OPEN_FILES",
    "disk_bytes": "MILLRACE_SCRIPT_DISK_BYTES",
    "seconds": "MILLRACE_SCRIPT_TIMEOUT_SECONDS",
}
#: The largest value a limit may have (rlimits are 64-bit).
MAX_LIMIT = 2**62


class ScriptError(Exception):
    """The script could not be run or its results not be kept (a clear reason for the step)."""


@dataclass(frozen=True)
class Limits:
    """What one run may use. Every value is a positive whole number."""

    cpu_seconds: int
    memory_bytes: int
    file_bytes: int
    processes: int
    open_files: int
    disk_bytes: int
    seconds: int

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> Limits:
        problems = [
            LIMIT_SETTINGS[key]
            for key in LIMIT_SETTINGS
            if not isinstance(values.get(key), int)
            or isinstance(values.get(key), bool)
            or not 1 <= values[key] <= MAX_LIMIT
        ]
        if problems:
            raise ScriptError(f"Script limits must be whole numbers from 1 to 2**62: {', '.join(problems)}.")
        return cls(**{key: values[key] for key in LIMIT_SETTINGS})


class Stop:
    """Why a run was ended from outside the script; each reason reads as a sentence."""

    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    PROCESSES = "processes"
    DISK = "disk"


def stop_message(reason: str, limits: Limits, seconds: float) -> str:
    """`The script was stopped: ...` for a reason of `Stop`."""
    why = {
        Stop.TIMEOUT: f"it ran past its time limit of {round(seconds, 1):g} seconds (its timeout, at most "
        f"MILLRACE_SCRIPT_TIMEOUT_SECONDS={limits.seconds})",
        Stop.CANCELLED: "the execution ended (cancelled, timed out) or the step did",
        Stop.PROCESSES: f"it exceeded its limit of {limits.processes} processes (MILLRACE_SCRIPT_MAX_PROCESSES)",
        Stop.DISK: f"its working directory grew past its limit of {limits.disk_bytes} bytes "
        "(MILLRACE_SCRIPT_DISK_BYTES)",
    }[reason]
    return f"The script was stopped: {why}."


def signal_message(number: int, limits: Limits) -> str:
    """What a process killed by `number` most likely met."""
    if number == signal.SIGXCPU:
        return f"it used its limit of {limits.cpu_seconds} CPU seconds (MILLRACE_SCRIPT_CPU_SECONDS)"
    if number == signal.SIGXFSZ:
        return f"it wrote a file larger than its limit of {limits.file_bytes} bytes (MILLRACE_SCRIPT_FILE_BYTES)"
    if number == signal.SIGKILL:
        return (
            f"it was killed (SIGKILL): past its CPU limit of {limits.cpu_seconds} seconds "
            "(MILLRACE_SCRIPT_CPU_SECONDS), or the system ran out of memory"
        )
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return f"it was killed by {name}"


@dataclass(frozen=True)
class ScriptJob:
    """One run. `program` is written to a file outside the working directory and its path is
    appended to `command` (the interpreter, an absolute path, and its arguments). The script's
    environment is `env` alone, with HOME set to the working directory unless `env` sets it."""

    command: list[str]
    program: str
    program_suffix: str
    files: Mapping[str, FileSource]
    env: Mapping[str, str]
    output_globs: list[str]
    limits: Limits
    deadline: float | None
    is_cancelled: Callable[[], bool]
    store_output: FileSink
    max_output_file_bytes: int


@dataclass
class ScriptOutcome:
    """What the run produced. `stopped` is a `Stop` reason when the run was ended from outside;
    `signal` the signal that ended the script's first process, if one did. Output files are
    kept only when the script succeeded."""

    exit_code: int
    stdout: str
    stderr: str
    vars: dict[str, Any] = field(default_factory=dict)
    output_files: dict[str, str] = field(default_factory=dict)
    stopped: str | None = None
    signal: int | None = None
    seconds: float = 0.0
    #: The seconds the run was allowed (its deadline, at most the `seconds` limit).
    time_limit: float = 0.0
    #: Announced outputs that were malformed and skipped (worth a warning).
    problems: list[str] = field(default_factory=list)
    #: Announced outputs over their size limits: the step fails with this.
    vars_error: str | None = None
    #: Why the output files could not be kept (a link out of the working directory, a file over
    #: the cap): the step fails with this, and keeps the outputs above.
    files_error: str | None = None


class ScriptRunner(Protocol):
    """Runs a script job somewhere and reports its outcome; raises ScriptError when the job
    cannot be set up (a bad file, an interpreter that does not exist). Output files that cannot
    be kept are reported in the outcome's `files_error`.

    A runner must: start from an empty working directory holding `job.files`, run with only
    `job.env` as environment and the working directory as HOME, show the script no process but
    its own (a PID namespace, as a container has), enforce `job.limits`, stop the
    script at `job.deadline` and when `job.is_cancelled()` turns true (checked about every
    half second), keep only bounded tails of the output, store the files matching
    `job.output_globs` through `job.store_output`, and leave nothing behind.
    """

    name: str

    def run(self, job: ScriptJob) -> ScriptOutcome: ...
