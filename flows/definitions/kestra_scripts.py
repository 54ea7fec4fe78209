"""Kestra's script tasks in Millrace's script plugins: `beforeCommands`, the `kestra.py` helper.

Kestra runs a script task's `beforeCommands` in the same shell before its commands or script, in
the same working directory; a Python Script's code then runs with the `python` found there (a
venv the commands activated, or Millrace's own). These translations give the same runs with
`script.shell` and `script.python`.
"""

from __future__ import annotations

import shlex
from typing import Any

from flows.definitions.problems import Path, Problems

#: `from kestra import Kestra; Kestra.outputs({...})` in a Python task: written next to the
#: script as `kestra.py`, it prints the `::{"outputs": ...}::` line the script plugins read.
KESTRA_PY = '''"""Kestra's Python helper, as Millrace provides it: outputs become the task's `vars`."""
import json


class Kestra:
    @staticmethod
    def outputs(values):
        print("::" + json.dumps({"outputs": values}) + "::", flush=True)

    @staticmethod
    def counter(name, value, tags=None):
        pass

    @staticmethod
    def timer(name, duration, tags=None):
        pass
'''
SHIM_FILE = "kestra.py"
#: Where a Python Script with `beforeCommands` is written for the shell to run it.
SCRIPT_FILE = ".kestra_script.py"

Props = dict[str, tuple[Any, Path]]  # property → (value, where it is written)


def before_commands(props: Props, problems: Problems) -> Props:
    """Shell tasks: `beforeCommands` run first, in the same shell (a failing one stops the task
    unless `failFast: false`), as Kestra runs them."""
    out = dict(props)
    if "beforeCommands" not in out:
        return out
    before, where = out.pop("beforeCommands")
    if not isinstance(before, list) or not all(isinstance(command, str) for command in before):
        problems.add(where, "beforeCommands must be a list of commands", "kestra")
    elif "script" in out:
        script, script_where = out["script"]
        if isinstance(script, str):
            out["script"] = ("\n".join([*before, script]), script_where)
    else:
        commands = out.get("commands", ([], where))[0]
        if isinstance(commands, list):
            out["commands"] = ([*before, *commands], where)
        else:
            problems.add(where, "beforeCommands and commands must be lists to run one after the other", "kestra")
    return out


def python_files(props: Props, problems: Problems) -> Props:
    """Python tasks get `kestra.py` (the `Kestra.outputs` helper) in their working directory."""
    out = before_commands(props, problems)
    files, where = out.get("inputFiles", ({}, ()))
    if not isinstance(files, dict):
        problems.add(where, "inputFiles must be a mapping of file name → content here", "kestra")
        return out
    out["inputFiles"] = ({SHIM_FILE: KESTRA_PY, **files}, where)
    return out


def python_script_after(props: Props, problems: Problems) -> Props:
    """A Python Script with `beforeCommands` runs as Kestra runs it: one shell runs the commands
    (a `pip install`, a venv's `activate`), then `python` (the first on PATH then: Millrace's,
    or the venv's activated) runs the script, written as `SCRIPT_FILE` in the working directory.
    A given `interpreter` runs the script instead of `python`."""
    out = dict(props)
    script, where = out.pop("script", (None, ()))
    interpreter, _ = out.pop("interpreter", ("python", ()))
    files, files_where = out.get("inputFiles", ({}, where))
    if isinstance(files, dict) and SCRIPT_FILE in files:
        problems.add(files_where, f"inputFiles may not hold '{SCRIPT_FILE}': the script is written there", "kestra")
    elif isinstance(files, dict):
        out["inputFiles"] = ({**files, SCRIPT_FILE: script}, files_where)
    words = [interpreter] if isinstance(interpreter, str) else interpreter
    if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
        problems.add(where, "interpreter must be a program or a list of words", "kestra")
        return out
    out["commands"] = ([shlex.join([*words, SCRIPT_FILE])], where)
    return python_files(out, problems)
