"""Script tasks: `script.python` and `script.shell` run a script in a fenced-in local process.

The plugin turns its inputs into a `ScriptJob` (program text, interpreter, files, environment,
limits from the settings) and the runner's outcome into a Result. How a script is fenced in,
and what that does not give, is in docs/scripts.md.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from typing import IO, Any, ClassVar

from django.conf import settings

from connectors.plugins.util import duration_seconds
from connectors.registry import Plugin, PluginContext, Result, register
from connectors.scripts import Limits, ScriptError, ScriptJob, ScriptOutcome, default_runner
from connectors.scripts.base import FileSource, signal_message, stop_message
from core.filerefs import FileRefError, clean_path, glob_match, is_uri

#: The stderr an error message quotes (the whole tail stays in the `stderr` output).
ERROR_TAIL_CHARS = 4096
MAX_NAMESPACE_FILES = 10_000
#: Signals a limit sends; a shell reports a command they ended as exit code 128 + the signal.
_LIMIT_SIGNALS = (signal.SIGXCPU, signal.SIGXFSZ)
#: What a process prints when a resource limit refused it (the end of stderr is searched):
#: the limit's field in `Limits`, and what to say.
_MEMORY = "memory ran out at its limit of {} bytes per process (MILLRACE_SCRIPT_MEMORY_BYTES)"
_LIMIT_ERRORS = (
    ("File too large", "file_bytes", "a file grew past its limit of {} bytes (MILLRACE_SCRIPT_FILE_BYTES)"),
    ("MemoryError", "memory_bytes", _MEMORY),
    ("Cannot allocate memory", "memory_bytes", _MEMORY),
    ("Too many open files", "open_files", "it opened more than its limit of {} files (MILLRACE_SCRIPT_OPEN_FILES)"),
)
#: Kestra properties that choose where a script runs; here scripts run as local processes.
IGNORED_KESTRA = ("containerImage", "taskRunner", "docker", "beforeCommands")
_NO_NUL = "^[^\\x00]*$"
_TEXT = {"type": "string", "pattern": _NO_NUL}

COMMON_PROPERTIES: dict[str, Any] = {
    "env": {
        "type": "object",
        "description": "Environment variables of the script (numbers and booleans become text); the only way "
        "to hand it a secret.",
        "maxProperties": 256,
        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,255}$"},
        "additionalProperties": {"type": ["string", "number", "boolean"], "pattern": _NO_NUL, "maxLength": 131_072},
    },
    "inputFiles": {
        "type": "object",
        "description": "Files to create in the working directory: path → content (text; other values are "
        "written as JSON), or a millrace:/// file URI.",
        "maxProperties": 1000,
        "propertyNames": {"minLength": 1, "maxLength": 1024},
        "additionalProperties": {"type": ["string", "number", "boolean", "object", "array"]},
    },
    "namespaceFiles": {
        "type": "object",
        "description": "Copy the namespace's files into the working directory at their paths.",
        "properties": {
            "enabled": {"type": "boolean", "default": True},
            "include": {"type": "array", "items": {"type": "string", "maxLength": 1024}, "maxItems": 100},
            "exclude": {"type": "array", "items": {"type": "string", "maxLength": 1024}, "maxItems": 100},
        },
        "additionalProperties": False,
    },
    "outputFiles": {
        "type": "array",
        "description": "Globs of files in the working directory to keep (`*.csv`, `out/**`).",
        "items": {"type": "string", "minLength": 1, "maxLength": 1024},
        "maxItems": 100,
    },
    "timeout": {
        "description": "Seconds (or an ISO-8601 duration such as PT5M) the script may run; the task's own "
        "`timeout` and MILLRACE_SCRIPT_TIMEOUT_SECONDS still apply, the shortest wins.",
        "oneOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "minLength": 1, "maxLength": 64}],
    },
    "interpreter": {
        "description": "The program that runs the script (its path is added last): a path, or a list with arguments.",
        "oneOf": [
            {**_TEXT, "minLength": 1, "maxLength": 4096},
            {
                "type": "array",
                "items": {**_TEXT, "minLength": 1, "maxLength": 4096},
                "minItems": 1,
                "maxItems": 32,
            },
        ],
    },
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "exitCode": {"type": "integer", "description": "The script's exit code (negative: killed by that signal)."},
        "stdout": {"type": "string", "description": "The last 64 KiB of its standard output."},
        "stderr": {"type": "string", "description": "The last 64 KiB of its standard error."},
        "vars": {"type": "object", "description": 'Merged from stdout lines `::{"outputs": {...}}::`.'},
        "outputFiles": {
            "type": "object",
            "description": "Each kept file's path in the working directory → its millrace:/// URI.",
            "additionalProperties": {"type": "string"},
        },
    },
    "required": ["exitCode", "stdout", "stderr", "vars", "outputFiles"],
}

_COMMON_DOCS = """
**Properties** common to both script tasks:
- `env`: environment variables (text). The script sees only these, `PATH`, `HOME` (its working
  directory) and `LANG`: nothing of the server's. Pass secrets here (`${NAME}`); they are masked in
  every output and log.
- `inputFiles`: `path: content` files created in the working directory; a content that is a
  `millrace:///` URI copies that stored file, one that is not text (a template rendering an
  object) is written as JSON.
- `namespaceFiles`: `{enabled: true, include: ["scripts/**"], exclude: [...]}` copies the namespace's
  files into the working directory at their paths (`/a/b.py` → `./a/b.py`).
- `outputFiles`: globs of files to keep; each is stored and listed in `outputFiles` (path → URI).
- `timeout`: `30` or `PT5M`; the task's own `timeout` applies too (the shortest wins).

**Outputs**: `exitCode`, `stdout` and `stderr` (the last 64 KiB each), `vars` (merged from every
stdout line `::{"outputs": {"key": "value"}}::`) and `outputFiles`. A non-zero exit fails the task
with the exit code and the end of stderr.

Each run has a fresh working directory, removed afterwards, its own process group (killed on
the task's `timeout` and on cancel), its own PID namespace (it sees no process but its own, so
not the server's environment either) and limits on CPU, memory, file size, processes, open files
and disk. The script runs as the worker's user, on the worker's files: it is not a container.
See docs/scripts.md.
"""


class ScriptPlugin(Plugin):
    """What both script tasks share: inputs → job, outcome → result."""

    category = "script"
    output_schema = OUTPUT_SCHEMA
    secret_inputs = ("env",)  # in the script, a file or the interpreter a secret would sit in clear
    program_suffix: ClassVar[str]

    def program(self, inputs: dict[str, Any]) -> str:
        raise NotImplementedError

    def launch_arguments(self) -> list[str]:
        """Arguments between the interpreter and the program's path."""
        return []

    def default_interpreter(self) -> list[str]:
        raise NotImplementedError

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        if not settings.MILLRACE_SCRIPTS_ENABLED:
            return Result.failed(
                "Script tasks are turned off on this server (MILLRACE_SCRIPTS_ENABLED=False).", code="SCRIPTS_DISABLED"
            )
        for key in IGNORED_KESTRA:
            if key in inputs:
                ctx.log("warn", f"'{key}' is ignored: scripts run as processes of the worker here.")
        try:
            job = self._job(inputs, ctx)
            outcome = default_runner(settings.MILLRACE_SCRIPTS_ISOLATION).run(job)
        except ScriptError as error:
            return Result.failed(str(error), code="SCRIPT_ERROR")
        for problem in outcome.problems:
            ctx.log("warn", problem)
        ctx.log("info", f"The script ended with exit code {outcome.exit_code} after {outcome.seconds:.1f} s.")
        return _result(outcome, job.limits)

    def _job(self, inputs: dict[str, Any], ctx: PluginContext) -> ScriptJob:
        env = _base_env()
        env.update({name: _env_text(value) for name, value in (inputs.get("env") or {}).items()})
        interpreter = inputs.get("interpreter") or self.default_interpreter()
        command = [interpreter] if isinstance(interpreter, str) else list(interpreter)
        command[0] = _executable(command[0], env["PATH"])
        return ScriptJob(
            command=[*command, *self.launch_arguments()],
            program=self.program(inputs),
            program_suffix=self.program_suffix,
            files=_input_files(inputs, ctx),
            env=env,
            output_globs=list(inputs.get("outputFiles") or []),
            limits=Limits.from_settings(settings.MILLRACE_SCRIPT_LIMITS),
            deadline=_deadline(inputs.get("timeout"), ctx.deadline),
            is_cancelled=ctx.is_cancelled,
            store_output=ctx.file_write,
            max_output_file_bytes=settings.MILLRACE_MAX_FILE_BYTES,
        )


_RUN_FROM_WORKDIR = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"


def _base_env() -> dict[str, str]:
    """PATH (this Python's directory first, so `python` is Millrace's) and LANG; nothing else."""
    here = os.path.dirname(sys.executable)
    path = dict.fromkeys([here, *os.environ.get("PATH", os.defpath).split(os.pathsep)])
    return {"PATH": os.pathsep.join(entry for entry in path if entry), "LANG": "C.UTF-8"}


def _env_text(value: str | int | float | bool) -> str:
    """An environment value as text: numbers and booleans as JSON writes them (`3`, `true`)."""
    return value if isinstance(value, str) else json.dumps(value)


def _deadline(timeout: float | str | None, task_deadline: float | None) -> float | None:
    """The sooner of the task's deadline and the `timeout` property's (a `time.monotonic()` value)."""
    if timeout is None:
        return task_deadline
    try:
        seconds = duration_seconds(timeout)
    except ValueError as error:
        raise ScriptError(f"timeout: {error}") from None
    if seconds <= 0:
        raise ScriptError("timeout: must be more than 0 seconds.")
    deadline = time.monotonic() + seconds
    return deadline if task_deadline is None else min(deadline, task_deadline)


def _executable(program: str, path: str) -> str:
    """The interpreter's absolute path: given so, or found on the script's PATH."""
    if os.path.isabs(program):
        if not (os.path.isfile(program) and os.access(program, os.X_OK)):
            raise ScriptError(f"The interpreter '{program}' is not an executable file.")
        return program
    if "/" in program:
        raise ScriptError(f"The interpreter '{program}' must be an absolute path or a program name on PATH.")
    found = shutil.which(program, path=path)
    if found is None:
        raise ScriptError(f"The interpreter '{program}' was not found on PATH.")
    return found


def _input_files(inputs: dict[str, Any], ctx: PluginContext) -> dict[str, FileSource]:
    """Path → opener: the namespace's files first, then `inputFiles` (which win on the same path)."""
    files: dict[str, FileSource] = {}
    spec = inputs.get("namespaceFiles") or {}
    if spec and spec.get("enabled", True):
        exclude = spec.get("exclude") or []
        for pattern in [*(spec.get("include") or []), *exclude]:
            if ".." in pattern.split("/"):
                raise ScriptError(f"namespaceFiles: '{pattern}' must be a glob of namespace file paths (no '..').")
        paths = [path for path in ctx.namespace_files(spec.get("include") or None) if not glob_match(exclude, path)]
        if len(paths) > MAX_NAMESPACE_FILES:
            raise ScriptError(f"namespaceFiles match more than {MAX_NAMESPACE_FILES} files.")
        for path in paths:
            files[path] = _opener(ctx.namespace_file_open, path)
    for name, content in (inputs.get("inputFiles") or {}).items():
        try:
            path = clean_path(name)
        except FileRefError as error:
            raise ScriptError(f"Input file '{name}': {error}") from None
        if not isinstance(content, str):
            files[path] = _opener(_text, json.dumps(content, ensure_ascii=False))
        elif is_uri(content):
            files[path] = _opener(ctx.file_open, content)
        else:
            files[path] = _opener(_text, content)
    return files


def _text(content: str) -> IO[bytes]:
    return io.BytesIO(content.encode("utf-8"))


def _opener(open_: Callable[[str], IO[bytes]], argument: str) -> FileSource:
    return lambda: open_(argument)


def _tail(text: str) -> str:
    if len(text) <= ERROR_TAIL_CHARS:
        return text
    cut = text[-ERROR_TAIL_CHARS:]
    return "..." + cut[cut.find("\n") + 1 :] if "\n" in cut else "..." + cut


def _limit_hint(code: int, stderr: str, limits: Limits) -> str:
    """Why a failed script most likely failed, when a limit shows: a shell reports a command a
    limit's signal ended as 128 + the signal; a process refused by an rlimit says so on stderr."""
    if code - 128 in _LIMIT_SIGNALS:
        return f" (a command was stopped: {signal_message(code - 128, limits)})"
    end = stderr[-ERROR_TAIL_CHARS:]
    for text, field, message in _LIMIT_ERRORS:
        if text in end:
            return f" (a limit was reached: {message.format(getattr(limits, field))})"
    return ""


def _result(outcome: ScriptOutcome, limits: Limits) -> Result:
    outputs = {
        "exitCode": outcome.exit_code,
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "vars": outcome.vars,
        "outputFiles": outcome.output_files,
    }
    stderr = f"\nstderr:\n{_tail(outcome.stderr.rstrip())}" if outcome.stderr.strip() else ""
    if outcome.stopped is not None:
        return Result.failed(
            stop_message(outcome.stopped, limits, outcome.time_limit) + stderr, code="SCRIPT_STOPPED", outputs=outputs
        )
    code = outcome.exit_code
    if outcome.signal is not None:
        why = signal_message(outcome.signal, limits)
        return Result.failed(f"The script was stopped: {why}.{stderr}", code="SCRIPT_STOPPED", outputs=outputs)
    if code != 0:
        hint = _limit_hint(code, outcome.stderr, limits)
        return Result.failed(
            f"The script exited with code {code}{hint}.{stderr}", code="SCRIPT_FAILED", outputs=outputs
        )
    if outcome.vars_error is not None:
        return Result.failed(outcome.vars_error, code="SCRIPT_OUTPUTS", outputs={**outputs, "vars": {}})
    if outcome.files_error is not None:
        return Result.failed(outcome.files_error, code="SCRIPT_OUTPUTS", outputs=outputs)
    return Result.success(outputs)


@register
class PythonScript(ScriptPlugin):
    id = "script.python"
    name = "Python script"
    description = (
        "Runs a Python script in a fresh working directory, with limits; outputs its exit code, output and vars."
    )
    aliases = ("io.kestra.plugin.scripts.python.Script",)
    program_suffix = ".py"
    input_schema = {
        "type": "object",
        "properties": {
            "script": {"type": "string", "minLength": 1, "maxLength": 1_000_000, "description": "The Python code."},
            **COMMON_PROPERTIES,
        },
        "required": ["script"],
    }
    documentation = (
        "Runs `script` with Python: by default the Python that runs Millrace (its packages are "
        "importable); `interpreter: /opt/venvs/reports/bin/python` picks another one, such as a "
        "virtual environment of the script's own.\n" + _COMMON_DOCS
    )
    example = """\
- name: summarise
  type: script.python
  properties:
    env:
      API_TOKEN: "${API_TOKEN}"
    inputFiles:
      data.json: '{"values": [3, 5, 8]}'
    outputFiles: ["summary.txt"]
    script: |
      import json
      values = json.load(open("data.json"))["values"]
      open("summary.txt", "w").write(f"total {sum(values)}\\n")
      print("::" + json.dumps({"outputs": {"total": sum(values)}}) + "::")
"""

    def program(self, inputs: dict[str, Any]) -> str:
        return inputs["script"]

    def launch_arguments(self) -> list[str]:
        # `python file.py` would import from the file's directory, outside the working one; run
        # it from `-c`, which imports from the working directory (namespace files, input files).
        return ["-c", _RUN_FROM_WORKDIR]

    def default_interpreter(self) -> list[str]:
        return [sys.executable]


@register
class ShellScript(ScriptPlugin):
    id = "script.shell"
    name = "Shell commands"
    description = "Runs shell commands (or a shell script) in a fresh working directory, with limits."
    aliases = (
        "io.kestra.plugin.scripts.shell.Commands",
        "io.kestra.plugin.scripts.shell.Script",
        "io.kestra.plugin.scripts.python.Commands",
    )
    program_suffix = ".sh"
    input_schema = {
        "type": "object",
        "properties": {
            "commands": {
                "type": "array",
                "items": {"type": "string", "maxLength": 100_000},
                "minItems": 1,
                "maxItems": 1000,
                "description": "Commands, run one after the other by the shell.",
            },
            "script": {"type": "string", "minLength": 1, "maxLength": 1_000_000, "description": "A shell script."},
            "failFast": {
                "type": "boolean",
                "default": True,
                "description": "Stop at the first command that fails (`set -e`), as Kestra does.",
            },
            **COMMON_PROPERTIES,
        },
        "oneOf": [{"required": ["commands"]}, {"required": ["script"]}],
    }
    documentation = (
        "Runs `commands` (a list, one command per item) or `script` (a text) with `/bin/sh`, or the "
        "`interpreter` given (`[/bin/bash]`). With `failFast` (the default) the first failing command "
        "ends the script (`set -e`). `python` on the script's PATH is the Python that runs Millrace.\n" + _COMMON_DOCS
    )
    example = """\
- name: count-lines
  type: script.shell
  properties:
    namespaceFiles:
      include: ["data/*.csv"]
    outputFiles: ["counts.txt"]
    script: |
      wc -l data/*.csv > counts.txt
      echo "::{\\"outputs\\": {\\"files\\": $(ls data | wc -l)}}::"
"""

    def program(self, inputs: dict[str, Any]) -> str:
        body = inputs["script"] if "script" in inputs else "\n".join(inputs["commands"])
        return f"set -e\n{body}\n" if inputs.get("failFast", True) else f"{body}\n"

    def default_interpreter(self) -> list[str]:
        return ["/bin/sh"]
