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
#: What a step holding tasks outputs: the outputs of the tasks it ran.
CHILD_OUTPUTS = {
    "type": "object",
    "description": "The outputs of the tasks it ran, by task name (a FlowRunner graph node: its `value`).",
}
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
    output_schema = CHILD_OUTPUTS
    documentation = """\
Runs one list of tasks or another depending on a condition: the tasks of `then` when it is
true, those of `else` (optional) when it is false. The step's outcome is `true` or `false`.

- `condition`: a value or a template such as `{{ outputs.check.value > 10 }}`. A text is true
  when it is `true`, `1`, `yes` or `on` (in any case); otherwise `true`, a non-zero number and a
  non-empty list or object are true.
- `then`, `else`: lists of tasks; they may be written on the task itself (Kestra's style) or
  under `properties`.
"""
    example = """\
- name: big-order
  type: flow.if
  properties:
    condition: "{{ inputs.total > 100 }}"
  then:
    - name: notify-sales
      type: util.log
      properties:
        message: A big order came in
  else:
    - name: note
      type: util.log
      properties:
        message: A regular order
"""


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
    output_schema = CHILD_OUTPUTS
    documentation = """\
Runs the tasks of the case whose key equals `value` (compared as text), or the `default` tasks
when none does. The step's outcome is the matched case.

- `value`: a text, number or boolean, usually a template (`{{ inputs.region }}`).
- `cases`: case value → list of tasks.
- `default` (Kestra: `defaults`): tasks run when no case matches; without it nothing runs.
"""
    example = """\
- name: by-region
  type: flow.switch
  properties:
    value: "{{ inputs.region }}"
  cases:
    eu:
      - name: eu-report
        type: util.log
        properties:
          message: Europe
    us:
      - name: us-report
        type: util.log
        properties:
          message: Americas
  default:
    - name: other-regions
      type: util.log
      properties:
        message: Another region
"""


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
    output_schema = CHILD_OUTPUTS
    documentation = """\
Runs its tasks at the same time, each on any free worker, and ends when all have ended; a
failed task fails the group once the others are done. Use `flow.sequential` inside it for a
branch of several steps.

- `tasks`: the tasks to run in parallel.
- `concurrency`: how many run at once (0, the default, means all).
"""
    example = """\
- name: fan-out
  type: flow.parallel
  properties:
    concurrency: 2
  tasks:
    - name: left
      type: util.echo
      properties:
        value: L
    - name: right
      type: util.echo
      properties:
        value: R
"""


@register
class Sequential(ControlConstruct):
    id = "flow.sequential"
    name = "Sequential"
    description = "Runs its tasks one after another (a group, e.g. inside a parallel branch)."
    aliases = ("io.kestra.plugin.core.flow.Sequential",)
    input_schema = {"type": "object", "properties": {"tasks": TASKS}, "required": ["tasks"]}
    output_schema = CHILD_OUTPUTS
    documentation = """\
Runs its tasks one after another, as a group: a branch of several steps in a `flow.parallel`,
or a set of steps kept together.

- `tasks`: the tasks, in order.
"""
    example = """\
- name: prepare
  type: flow.sequential
  tasks:
    - name: first
      type: util.log
      properties:
        message: step one
    - name: second
      type: util.log
      properties:
        message: step two
"""


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
    output_schema = {
        "type": "object",
        "properties": {
            "iterations": {
                "type": "array",
                "items": {"type": "object"},
                "description": "Per item, in order, the outputs of its tasks by task name.",
            },
        },
        "required": ["iterations"],
    }
    documentation = """\
Runs its tasks once per item of a list, with `{{ item }}` and `{{ index }}` (from 0) in their
templates. The step outputs `iterations`: per item, the outputs of the tasks by name.

- `items`: a list, or JSON text of a list, usually a template (`{{ outputs.rows.rows }}`).
- `concurrency`: how many items run at once (default 1: one after another).
- `tasks`: the tasks run for each item.
"""
    example = """\
- name: each-region
  type: flow.forEach
  properties:
    items: ["eu", "us", "apac"]
    concurrency: 2
  tasks:
    - name: greet
      type: util.log
      properties:
        message: "Region {{ item }} is number {{ index }}"
"""


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
    documentation = """\
Starts another flow of the same namespace with inputs. By default the step waits for it (holding
no worker) and outputs its `executionId` and `outputs`; a failed subflow fails the step.

- `flowName` (or `flow`), or `flowId`: the flow to start.
- `namespace`: the flow's namespace; subflows run in the parent's own namespace.
- `inputs`: the subflow's inputs, checked against its declared inputs.
- `wait`: false to start it and go on at once (the output then holds the `executionId` only).

Subflows nest up to `MILLRACE_SUBFLOW_MAX_DEPTH` levels (10 by default).
"""
    example = """\
- name: nightly-report
  type: flow.subflow
  properties:
    flowName: build-report
    inputs:
      region: eu
    wait: true
"""


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
    documentation = """\
An approval gate: the step waits until a person approves or rejects it, from the console, the
API or the notification they received. Approval continues the flow; rejection fails the step
with who rejected it and why. No worker is held while it waits.

- `message`: the question the approver sees.
- `approvers`: usernames shown as the expected approvers. Any account with the executor role
  (or above) in the namespace may decide.
- `timeout`: how long to wait (seconds or ISO 8601, e.g. `P1D`).

Outputs `approved`, `decidedBy` and `comment`.
"""
    example = """\
- name: approve-release
  type: flow.pause
  properties:
    message: Ship version 42 to production?
    timeout: P1D
"""


@register
class Fail(ControlConstruct):
    id = "flow.fail"
    name = "Fail"
    description = "Fails the execution with a message (its error handlers then run)."
    input_schema = {
        "type": "object",
        "properties": {"message": {"type": "string", "default": "Flow failed."}},
    }
    output_schema = {"not": {}, "description": "None: the step fails the execution."}
    documentation = """\
Fails the execution on purpose with a message, e.g. in a branch of `flow.if` that finds bad data.
The flow's `errors` tasks then run.

- `message`: the error the execution ends with (default: `Flow failed at '<task name>'.`).
"""
    example = """\
- name: stop
  type: flow.fail
  properties:
    message: The export was empty
"""
