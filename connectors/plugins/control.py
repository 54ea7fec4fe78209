"""Flow-control constructs: manifests only. The engine interprets them; they never run as plugins.

They are in the catalog so that the plugin list, flow validation and the editor know their
inputs. Their `run` raises: a control step reaching a worker as a plain plugin is an engine bug.
"""

from __future__ import annotations

from typing import Any

from connectors.registry import Plugin, PluginContext, Result, register

TASK = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "type": {"type": "string", "minLength": 1},
        "properties": {"type": "object"},
    },
    "required": ["name", "type"],
    "description": "A nested task: name, type and properties (plus retry and timeout).",
}
TASKS = {"type": "array", "items": TASK, "minItems": 1}
DURATION = {"type": ["number", "string"], "description": "Seconds, or an ISO 8601 duration such as PT1H."}


class ControlConstruct(Plugin):
    """Base of the constructs the engine interprets itself."""

    category = "flow"
    control = True

    def run(self, inputs: dict[str, Any], ctx: PluginContext) -> Result:
        raise NotImplementedError(f"{self.id} is interpreted by the engine, not run as a plugin.")


@register
class If(ControlConstruct):
    id = "flow.if"
    name = "If"
    description = "Runs `then` when the condition is true, else `else`; emits the outcome `true` or `false`."
    aliases = ("io.kestra.plugin.core.flow.If",)
    input_schema = {
        "type": "object",
        "properties": {
            "condition": {"description": "A value or expression; true, non-empty and non-zero count as true."},
            "then": {**TASKS, "description": "Tasks run when true. A FlowRunner node may route with `next` instead."},
            "else": {**TASKS, "description": "Tasks run when false."},
        },
        "required": ["condition"],
    }


@register
class Switch(ControlConstruct):
    id = "flow.switch"
    name = "Switch"
    description = "Runs the tasks of the case equal to `value`, else `default`; emits the matched case."
    input_schema = {
        "type": "object",
        "properties": {
            "value": {"type": ["string", "number", "boolean"], "description": "Compared to the case keys as text."},
            "cases": {
                "type": "object",
                "additionalProperties": TASKS,
                "minProperties": 1,
                "description": "Case value → tasks. A FlowRunner node may route with `next` instead.",
            },
            "default": {**TASKS, "description": "Tasks run when no case matches (Kestra: `defaults`)."},
        },
        "required": ["value"],
    }


@register
class Parallel(ControlConstruct):
    id = "flow.parallel"
    name = "Parallel"
    description = "Runs its tasks at the same time, on any workers; ends when all have ended."
    input_schema = {
        "type": "object",
        "properties": {
            "tasks": TASKS,
            "concurrency": {"type": "integer", "minimum": 0, "default": 0, "description": "0 means no limit."},
        },
        "required": ["tasks"],
    }


@register
class Sequential(ControlConstruct):
    id = "flow.sequential"
    name = "Sequential"
    description = "Runs its tasks one after another (a group, e.g. inside a parallel branch)."
    aliases = ("io.kestra.plugin.core.flow.Sequential",)
    input_schema = {"type": "object", "properties": {"tasks": TASKS}, "required": ["tasks"]}


@register
class ForEach(ControlConstruct):
    id = "flow.forEach"
    name = "For each"
    description = "Runs its tasks once per item, with `item` and `index` in scope, up to `concurrency` at a time."
    input_schema = {
        "type": "object",
        "properties": {
            "items": {"type": ["array", "string"], "description": "A list, or JSON text of a list."},
            "concurrency": {"type": "integer", "minimum": 1, "default": 1},
            "tasks": TASKS,
        },
        "required": ["items", "tasks"],
    }


@register
class Subflow(ControlConstruct):
    id = "flow.subflow"
    name = "Subflow"
    description = "Starts another flow with inputs; by default waits for it and outputs its result."
    input_schema = {
        "type": "object",
        "properties": {
            "flowId": {"type": "string", "minLength": 1},
            "flowName": {"type": "string", "minLength": 1},
            "flow": {"type": "string", "minLength": 1, "description": "Same as flowName."},
            "namespace": {
                "type": "string",
                "minLength": 1,
                "description": "The flow's namespace; subflows run in the parent's own namespace.",
            },
            "inputs": {"type": "object"},
            "wait": {"type": "boolean", "default": True, "description": "Wait for the subflow to end."},
        },
        "anyOf": [{"required": ["flowId"]}, {"required": ["flowName"]}, {"required": ["flow"]}],
    }
    output_schema = {
        "type": "object",
        "properties": {
            "executionId": {"type": "string"},
            "outputs": {"description": "The subflow's outputs."},
        },
        "required": ["executionId"],
    }


@register
class Pause(ControlConstruct):
    id = "flow.pause"
    name = "Approval gate"
    description = "Waits for a person to approve or reject; a rejection fails the step. `timeout` bounds the wait."
    input_schema = {
        "type": "object",
        "properties": {
            "message": {"type": "string", "description": "What the approver is asked."},
            "approvers": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Usernames who may decide.",
            },
            "timeout": DURATION,
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "approved": {"type": "boolean"},
            "decidedBy": {"type": "string"},
            "comment": {"type": ["string", "null"]},
        },
        "required": ["approved", "decidedBy"],
    }


@register
class Fail(ControlConstruct):
    id = "flow.fail"
    name = "Fail"
    description = "Fails the execution with a message (its error handlers then run)."
    input_schema = {
        "type": "object",
        "properties": {"message": {"type": "string", "default": "Flow failed."}},
    }
