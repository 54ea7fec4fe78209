"""Flow-level fields shared by both formats: inputs, variables, timeouts, triggers, retry.

Each parser takes the raw YAML value and its path, adds a problem for every mistake,
and returns the best IR it can so that later checks still run (every problem is reported,
not only the first).
"""

from __future__ import annotations

import re
import uuid
import zoneinfo
from typing import Any

from croniter import croniter

from core.filerefs import FileRefError, clean_path
from flows.definitions.durations import parse_duration
from flows.definitions.input_types import ITEM_TYPES, convert
from flows.definitions.ir import FlowInput, InputType, RetryPolicy, TimeoutPolicy, Trigger, TriggerType
from flows.definitions.problems import Path, Problems, key_text

TERMINAL_STATUSES = ("SUCCESS", "WARNING", "FAILED", "CANCELLED", "TIMED_OUT")
#: What a schedule does with ticks missed while no worker ran: start one per tick, the last only, none.
RECOVER_MISSED = ("ALL", "LAST", "NONE")
_WEBHOOK_KEY = re.compile(r"^[A-Za-z0-9._~-]{1,200}$")
_INPUT_KEYS = {"id", "name", "type", "required", "defaults", "default", "description", "values", "itemType"}
_CHOICE_TYPES = (InputType.SELECT, InputType.MULTISELECT)
#: Types whose defaults `input_types.convert` stores normalised (the first five are kept as written).
_CONVERTED_DEFAULTS = frozenset(InputType) - {
    InputType.STRING,
    InputType.INT,
    InputType.FLOAT,
    InputType.BOOLEAN,
    InputType.JSON,
}
_TRIGGER_KEYS = {
    TriggerType.SCHEDULE: {"cron", "timezone", "recoverMissedSchedules"},
    TriggerType.WEBHOOK: {"key"},
    TriggerType.FLOW: {"sourceFlowId", "flow", "namespace", "statuses"},
}
_TRIGGER_COMMON = {"name", "id", "type", "enabled", "inputs", "description"}
_RETRY_KEYS = {"maxAttempts", "maxAttempt", "delay", "interval", "backoff", "maxDelay", "maxInterval", "type"}
_BACKOFF_WORDS = {"constant": 1.0, "fixed": 1.0, "exponential": 2.0}


def is_template(value: Any) -> bool:
    """A string rendered at run time (Jinja `{{ }}`/`{% %}` or a `${NAME}` secret)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value or "${" in value)


def type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def text(problems: Problems, raw: dict[str, Any], key: str, path: Path, *, required: bool = False) -> str:
    """A string field; numbers are accepted as their text (`version: 1.0`)."""
    value = raw.get(key)
    if value is None:
        if required:
            problems.add((*path, key), f"'{key}' is required", "missing")
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        problems.add((*path, key), f"'{key}' must be a string, not {type_name(value)}", "invalid_type")
        return ""
    return value


def mapping(problems: Problems, value: Any, path: Path, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(path, f"{what} must be a mapping, not {type_name(value)}", "invalid_type")
        return {}
    return {key_text(key): item for key, item in value.items()}


def unknown_keys(problems: Problems, raw: dict[str, Any], allowed: set[str], path: Path, what: str) -> None:
    for key in raw:
        if key_text(key) not in allowed:
            problems.add((*path, key_text(key)), f"unknown key '{key_text(key)}' in {what}", "unknown_key")


def duration(problems: Problems, value: Any, path: Path, *, allow_zero: bool = False) -> float | None:
    """Seconds, or None (absent or invalid). Timeouts must be positive, delays may be zero."""
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        problems.add(path, f"invalid duration: {exc}", "invalid_duration")
        return None
    if seconds < 0 or (seconds == 0 and not allow_zero):
        problems.add(
            path, f"invalid duration: must be {'zero or more' if allow_zero else 'more than zero'}", "invalid_duration"
        )
        return None
    return seconds


MAX_LABEL_LENGTH = 100  # also executions.engine.labels: a label row's column width


def labels(problems: Problems, value: Any, path: Path) -> dict[str, str]:
    """`labels: {key: value}`: strings of at most MAX_LABEL_LENGTH characters each."""
    found: dict[str, str] = {}
    for key, item in mapping(problems, value, path, "labels").items():
        if not key or len(key) > MAX_LABEL_LENGTH:
            problems.add((*path, key), f"a label key has 1 to {MAX_LABEL_LENGTH} characters", "invalid_label")
        elif not isinstance(item, str):
            problems.add((*path, key), f"label '{key}' must be a string, not {type_name(item)}", "invalid_label")
        elif len(item) > MAX_LABEL_LENGTH:
            problems.add((*path, key), f"label '{key}' may have at most {MAX_LABEL_LENGTH} characters", "invalid_label")
        else:
            found[key] = item
    return found


def timeout_policy(problems: Problems, value: Any, path: Path) -> TimeoutPolicy:
    if value is None:
        return TimeoutPolicy.TIME_OUT_WF
    if isinstance(value, str) and value.upper() in TimeoutPolicy.__members__:
        return TimeoutPolicy(value.upper())
    problems.add(path, f"timeoutPolicy must be one of {', '.join(TimeoutPolicy)}", "invalid_value")
    return TimeoutPolicy.TIME_OUT_WF


def _default_fits(kind: InputType, value: Any) -> bool:
    if value is None or kind == InputType.JSON or is_template(value):
        return True
    checks = {
        InputType.STRING: isinstance(value, str),
        InputType.INT: isinstance(value, int) and not isinstance(value, bool),
        InputType.FLOAT: isinstance(value, int | float) and not isinstance(value, bool),
        InputType.BOOLEAN: isinstance(value, bool),
    }
    return checks.get(kind, True)


def _choices(problems: Problems, declared: FlowInput, raw: dict[str, Any], path: Path) -> None:
    """`values` of a SELECT or MULTISELECT (required there, refused elsewhere)."""
    values = raw.get("values")
    if declared.type not in _CHOICE_TYPES:
        if "values" in raw:
            problems.add(
                (*path, "values"), "'values' is for SELECT and MULTISELECT inputs", "invalid_input_declaration"
            )
        return
    scalars = isinstance(values, list) and all(
        isinstance(item, str | int | float) and not isinstance(item, bool) for item in values
    )
    if not values or not scalars:
        problems.add(
            (*path, "values"),
            f"a {declared.type} input needs 'values', a non-empty list of choices",
            "invalid_input_declaration",
        )
        return
    declared.values = [key_text(item) for item in values]
    if len(set(declared.values)) != len(declared.values):
        problems.add((*path, "values"), "'values' repeats a choice", "invalid_input_declaration")


def _item_type(problems: Problems, declared: FlowInput, raw: dict[str, Any], path: Path) -> None:
    """`itemType` of an ARRAY (optional: without it, items are any JSON)."""
    if "itemType" not in raw:
        return
    if declared.type != InputType.ARRAY:
        problems.add((*path, "itemType"), "'itemType' is for ARRAY inputs", "invalid_input_declaration")
        return
    word = raw["itemType"].upper() if isinstance(raw["itemType"], str) else raw["itemType"]
    if word not in {str(kind) for kind in ITEM_TYPES}:
        problems.add(
            (*path, "itemType"),
            f"unknown item type {raw['itemType']!r}; use one of {', '.join(sorted(ITEM_TYPES))}",
            "invalid_input_declaration",
        )
        return
    declared.item_type = InputType(word)


def _typed_default(problems: Problems, declared: FlowInput, path: Path) -> None:
    """Check a default of the richer types against its type, and keep it normalised."""
    if declared.type == InputType.SECRET and declared.has_default:
        problems.add(path, "a SECRET input takes no default: keep the value in the vault", "invalid_input_declaration")
        return
    if declared.type == InputType.FILE and declared.has_default:
        problems.add(
            path, "a FILE input takes no default: its file is uploaded with each run", "invalid_input_declaration"
        )
        return
    if declared.type not in _CONVERTED_DEFAULTS or declared.default is None or is_template(declared.default):
        return
    try:
        declared.default = convert(declared, declared.default)
    except ValueError as exc:
        problems.add(
            path, f"default {declared.default!r} is not of type {declared.type}: {exc}", "invalid_input_declaration"
        )


def _file_input_id(problems: Problems, declared: FlowInput, path: Path) -> None:
    """A FILE input's id names the directory its file is stored in (`inputs/<id>/<name>`)."""
    if declared.type != InputType.FILE or not declared.id:
        return
    try:
        fits = "/" not in declared.id and clean_path(declared.id) == declared.id
    except FileRefError:
        fits = False
    if not fits:
        problems.add(
            path,
            "a FILE input's id names a directory of stored files: no '/', '..' or control characters",
            "invalid_input_declaration",
        )


def inputs(problems: Problems, value: Any, path: Path) -> list[FlowInput]:
    """`inputs: [{id, type, required, defaults, description, values, itemType}]`; `type` defaults
    to STRING; `values` for SELECT/MULTISELECT, `itemType` for ARRAY."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, f"inputs must be a list, not {type_name(value)}", "invalid_type")
        return []
    declared: list[FlowInput] = []
    first_at: dict[str, int] = {}
    for index, raw in enumerate(value):
        item_path = (*path, index)
        if not isinstance(raw, dict):
            problems.add(item_path, "an input must be a mapping with an 'id'", "invalid_type")
            continue
        raw = {key_text(key): item for key, item in raw.items()}
        unknown_keys(problems, raw, _INPUT_KEYS, item_path, "an input")
        input_id = text(problems, raw, "id" if "id" in raw or "name" not in raw else "name", item_path, required=True)
        kind = InputType.STRING
        raw_type = raw.get("type", "STRING")
        if isinstance(raw_type, str) and raw_type.upper() in InputType.__members__:
            kind = InputType(raw_type.upper())
        else:
            problems.add(
                (*item_path, "type"),
                f"unknown input type '{raw_type}'; use one of {', '.join(InputType)}",
                "invalid_input_declaration",
            )
        required = raw.get("required", False)
        if not isinstance(required, bool):
            problems.add((*item_path, "required"), "'required' must be true or false", "invalid_type")
            required = False
        default_key = "defaults" if "defaults" in raw else "default"
        if "defaults" in raw and "default" in raw:
            problems.add((*item_path, "default"), "give either 'defaults' or 'default', not both", "conflict")
        default = raw.get(default_key)
        if not _default_fits(kind, default):
            problems.add(
                (*item_path, default_key), f"default {default!r} is not of type {kind}", "invalid_input_declaration"
            )
        if input_id in first_at:
            problems.add(
                (*item_path, "id"),
                f"duplicate input id '{input_id}' (first declared at inputs[{first_at[input_id]}])",
                "invalid_input_declaration",
            )
        elif input_id:
            first_at[input_id] = index
        description = text(problems, raw, "description", item_path)
        item = FlowInput(input_id, kind, required, default, default_key in raw, description, item_path)
        _choices(problems, item, raw, item_path)
        _item_type(problems, item, raw, item_path)
        _typed_default(problems, item, (*item_path, default_key))
        _file_input_id(problems, item, (*item_path, "id"))
        declared.append(item)
    return declared


def retry(problems: Problems, value: Any, path: Path) -> RetryPolicy | None:
    """`retry: {maxAttempts, delay, backoff, maxDelay}` (Kestra's `maxAttempt`/`interval`/`type` too).

    `retry: 3` is short for `maxAttempts: 3`; `backoff` is a multiplier (1 = fixed delay)
    or `constant`/`exponential`.
    """
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"maxAttempts": value}
    if not isinstance(value, dict):
        problems.add(path, f"retry must be a mapping, not {type_name(value)}", "invalid_type")
        return None
    raw = {key_text(key): item for key, item in value.items()}
    unknown_keys(problems, raw, _RETRY_KEYS, path, "retry")
    policy = RetryPolicy()
    key = "maxAttempts" if "maxAttempts" in raw else "maxAttempt"
    attempts = raw.get(key, 1)
    if isinstance(attempts, int) and not isinstance(attempts, bool) and attempts >= 1:
        policy.max_attempts = attempts
    else:
        problems.add((*path, key), f"{key} must be a whole number of at least 1", "invalid_value")
    delay_key = "delay" if "delay" in raw else "interval"
    policy.delay = duration(problems, raw.get(delay_key), (*path, delay_key), allow_zero=True) or 0
    max_key = "maxDelay" if "maxDelay" in raw else "maxInterval"
    policy.max_delay = duration(problems, raw.get(max_key), (*path, max_key), allow_zero=True)
    kind = raw.get("type")
    if kind is not None and kind not in _BACKOFF_WORDS:
        problems.add((*path, "type"), f"retry type must be one of {', '.join(_BACKOFF_WORDS)}", "invalid_value")
    backoff = raw.get("backoff", kind if kind in _BACKOFF_WORDS else 1.0)
    if isinstance(backoff, str) and backoff in _BACKOFF_WORDS:
        policy.backoff = _BACKOFF_WORDS[backoff]
    elif isinstance(backoff, int | float) and not isinstance(backoff, bool) and backoff >= 1:
        policy.backoff = float(backoff)
    else:
        problems.add(
            (*path, "backoff"),
            "backoff must be a multiplier of at least 1, 'constant' or 'exponential'",
            "invalid_value",
        )
    return policy


def _trigger_type(value: Any) -> TriggerType | None:
    # Kestra writes class names (`io.kestra.plugin.core.trigger.Schedule`): keep the last part.
    if not isinstance(value, str):
        return None
    word = value.rsplit(".", 1)[-1].lower()
    return TriggerType(word) if word in TriggerType._value2member_map_ else None


def _schedule(problems: Problems, raw: dict[str, Any], path: Path, trigger: Trigger) -> None:
    cron = raw.get("cron")
    if cron is None:
        problems.add((*path, "cron"), "a schedule trigger needs a 'cron' expression", "missing")
    elif not isinstance(cron, str) or not croniter.is_valid(cron):
        problems.add((*path, "cron"), f"invalid cron expression {cron!r}", "invalid_cron")
    else:
        trigger.cron = cron
    zone = raw.get("timezone", "UTC")
    try:
        if not isinstance(zone, str) or not zone:
            raise ValueError
        zoneinfo.ZoneInfo(zone)
        trigger.timezone = zone
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        problems.add((*path, "timezone"), f"unknown timezone {zone!r}", "invalid_timezone")
    recover = raw.get("recoverMissedSchedules", "LAST")
    if isinstance(recover, str) and recover.upper() in RECOVER_MISSED:
        trigger.recover_missed = recover.upper()
    else:
        problems.add(
            (*path, "recoverMissedSchedules"),
            f"recoverMissedSchedules {recover!r} is not one of {', '.join(RECOVER_MISSED)}",
            "invalid_value",
        )


def _watch(problems: Problems, raw: dict[str, Any], path: Path, trigger: Trigger) -> None:
    flow_id = raw.get("sourceFlowId")
    if flow_id is not None:
        try:
            trigger.source_flow_id = str(uuid.UUID(str(flow_id)))
        except ValueError:
            problems.add((*path, "sourceFlowId"), f"sourceFlowId {flow_id!r} is not a flow id (UUID)", "invalid_value")
    trigger.source_flow = text(problems, raw, "flow", path) or None
    trigger.source_namespace = text(problems, raw, "namespace", path) or None
    if flow_id is None and trigger.source_flow is None:
        problems.add(path, "a flow trigger needs 'sourceFlowId' or 'flow' (the watched flow's name)", "missing")
    statuses = raw.get("statuses", ["SUCCESS"])
    if not isinstance(statuses, list) or not statuses:
        problems.add((*path, "statuses"), "statuses must be a non-empty list", "invalid_type")
        return
    for index, status in enumerate(statuses):
        word = status.upper() if isinstance(status, str) else status
        if word in TERMINAL_STATUSES:
            trigger.statuses.append(word)
        else:
            problems.add(
                (*path, "statuses", index),
                f"status {status!r} is not one of {', '.join(TERMINAL_STATUSES)}",
                "invalid_value",
            )


def triggers(problems: Problems, value: Any, path: Path) -> list[Trigger]:
    """`triggers: [{name, type: schedule|webhook|flow, enabled, inputs, ...type's fields}]`."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, f"triggers must be a list, not {type_name(value)}", "invalid_type")
        return []
    found: list[Trigger] = []
    names: set[str] = set()
    for index, item in enumerate(value):
        item_path = (*path, index)
        if not isinstance(item, dict):
            problems.add(item_path, "a trigger must be a mapping with a 'type'", "invalid_type")
            continue
        raw = {key_text(key): entry for key, entry in item.items()}
        kind = _trigger_type(raw.get("type"))
        if kind is None:
            problems.add(
                (*item_path, "type"),
                f"unknown trigger type {raw.get('type')!r}; use schedule, webhook or flow",
                "invalid_value",
            )
            continue
        unknown_keys(problems, raw, _TRIGGER_COMMON | _TRIGGER_KEYS[kind], item_path, f"a {kind} trigger")
        name = text(problems, raw, "name" if "name" in raw else "id", item_path) or f"{kind}-{index + 1}"
        if name in names:
            problems.add(item_path, f"duplicate trigger name '{name}'", "duplicate_name")
        names.add(name)
        trigger = Trigger(name, kind, source=item_path)
        enabled = raw.get("enabled", True)
        if isinstance(enabled, bool):
            trigger.enabled = enabled
        else:
            problems.add((*item_path, "enabled"), "'enabled' must be true or false", "invalid_type")
        trigger.inputs = mapping(problems, raw.get("inputs"), (*item_path, "inputs"), "trigger inputs")
        if kind == TriggerType.SCHEDULE:
            _schedule(problems, raw, item_path, trigger)
        elif kind == TriggerType.WEBHOOK:
            key = raw.get("key")
            if key is not None and not (isinstance(key, str) and _WEBHOOK_KEY.match(key)):
                problems.add(
                    (*item_path, "key"),
                    "a webhook key is 1-200 URL-safe characters (A-Z a-z 0-9 . _ ~ -)",
                    "invalid_value",
                )
            else:
                trigger.key = key
        else:
            _watch(problems, raw, item_path, trigger)
        found.append(trigger)
    return found
