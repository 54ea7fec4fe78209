"""The two log formats `MILLRACE_LOG_FORMAT` chooses between, and the one request line.

`text` is a line for people; `json` is one JSON object per line for a log pipeline: `time`,
`level`, `logger`, `message`, the record's extra fields (`logger.info(..., extra={...})`), and
`exception` with the traceback when there is one. Both run after `TokenRedactingFilter`
(`core.logfilters`) and redact what they render again, traceback and extra fields included.
"""

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from core.logfilters import redact

#: Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message", "taskName"}


def record_extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a call passed in `extra`."""
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD and not key.startswith("_")}


class TextFormatter(logging.Formatter):
    """`time level logger: message`, traceback below; credentials redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; values JSON cannot hold are written as their `str`. Strings are
    redacted one by one before encoding (redacting the encoded line could break its quoting)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record_extras(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps({key: _redacted(value) for key, value in line.items()}, default=str, ensure_ascii=False)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(key): _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return redact(str(value))


#: Servers that configure handlers of their own before Django starts (uvicorn's CLI does).
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def route_server_logs() -> None:
    """Send the servers' records through the root handlers, so every line has the one format."""
    for name in SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True


def configure(config: dict[str, Any]) -> None:
    """Django's `LOGGING_CONFIG`: `config` by `dictConfig`, and Python's warnings (a library's
    deprecation or weak-key warning) logged as records of `py.warnings`, so that a JSON log stays
    one JSON object per line; since Django 2.2 they would go to stderr as raw text."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)
