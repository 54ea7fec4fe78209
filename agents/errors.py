"""An agent's `last_error` as the console shows it: when, then what.

The runtime stores the error behind the ISO time of the failing run (`agents.runtime`); shown
as stored, every error cell started with a raw timestamp, and an agent that only receives
messages (no scheduled run, so no `last_run_at`) read "last run: never" beside its error.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?)\s+")


@dataclass(frozen=True)
class AgentError:
    at: datetime | None  # when the failing run happened, if the error says
    text: str


def agent_error(value: str) -> AgentError:
    """The stored error split into its time and its text (all text when it starts otherwise)."""
    match = STAMP.match(value or "")
    if match is None:
        return AgentError(None, value or "")
    try:
        at = datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))
    except ValueError:
        return AgentError(None, value)
    return AgentError(at if at.tzinfo else at.replace(tzinfo=UTC), value[match.end() :])  # the runtime writes UTC


def last_run(*moments: datetime | None) -> datetime | None:
    """The latest known run: a scheduled run, a run on a message (its log line), a failure."""
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None
