"""Running scripts for `script.python` and `script.shell`: the runner interface and the local runner."""

from connectors.scripts.base import Limits, ScriptError, ScriptJob, ScriptOutcome, ScriptRunner, Stop
from connectors.scripts.local import LocalRunner, default_runner

__all__ = [
    "Limits",
    "LocalRunner",
    "ScriptError",
    "ScriptJob",
    "ScriptOutcome",
    "ScriptRunner",
    "Stop",
    "default_runner",
]
