"""What the file-reading plugins share: a `millrace:///` input opened through the context, its
failures turned into clear results, and a check that a long read stops when the step must.

A URI of another namespace opens as a missing file (`core.filerefs.key_of`): the failure says
only that there is no such file here, whichever it was.
"""

from __future__ import annotations

import time
from typing import IO

from connectors.registry import PluginContext, Result
from core.filerefs import FileRefError, FileTooLarge, is_uri

FILE_NOT_FOUND = "FILE_NOT_FOUND"
FILE_TOO_LARGE = "FILE_TOO_LARGE"
INVALID_INPUT = "INVALID_INPUT"
STOPPED = "STOPPED"
#: Rows or chunks between two looks at cancellation and the deadline.
CHECK_EVERY = 1000


class StepStopped(Exception):
    """The step was cancelled, or its timeout passed, while it read or wrote."""


def check_running(ctx: PluginContext) -> None:
    """Raise StepStopped when the step should end now."""
    if ctx.is_cancelled():
        raise StepStopped("The step was cancelled.")
    if ctx.deadline is not None and time.monotonic() > ctx.deadline:
        raise StepStopped("The step ran past its timeout.")


def open_input(ctx: PluginContext, uri: str) -> IO[bytes]:
    """The file a `millrace:///` input names; FileNotFoundError or FileRefError otherwise."""
    if not is_uri(uri):
        raise FileRefError("A file input is a millrace:/// URI.")
    return ctx.file_open(uri)


def file_failure(error: Exception, uri: str | None = None) -> Result:
    """The failed result for an error of opening, reading or storing a file."""
    if isinstance(error, FileNotFoundError):
        return Result.failed(f"There is no file {uri} in this namespace.", code=FILE_NOT_FOUND)
    if isinstance(error, FileTooLarge):
        return Result.failed(str(error), code=FILE_TOO_LARGE)
    if isinstance(error, StepStopped):
        return Result.failed(str(error), code=STOPPED)
    return Result.failed(str(error), code=INVALID_INPUT)


#: The errors `file_failure` turns into results.
FILE_ERRORS = (FileNotFoundError, FileRefError, FileTooLarge, StepStopped)
