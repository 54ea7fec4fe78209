"""`execution.labels`: labels set on the running execution, a construct the engine interprets.

A plugin knows no execution row, so the engine itself merges the labels into the execution,
within the walk that holds its lock (`executions.engine.labels.labels_merge`), and checks them
there against the same limits as labels given at start.
"""

from __future__ import annotations

from connectors.plugins.control import ControlConstruct
from connectors.registry import register

#: As `executions.engine.labels`: a label row's column width, and the labels one execution keeps.
MAX_LABEL_LENGTH = 100
MAX_LABELS = 50
_TEXT = {"type": ["string", "number", "boolean"], "maxLength": MAX_LABEL_LENGTH}
LABELS_SCHEMA = {
    "description": "The labels to set: a map of key → value, or a list of {key, value}.",
    "type": ["object", "array"],
    # if/then/else rather than oneOf: a problem then names the label, not "any of the schemas"
    "if": {"type": "object"},
    "then": {
        "minProperties": 1,
        "maxProperties": MAX_LABELS,
        "propertyNames": {"minLength": 1, "maxLength": MAX_LABEL_LENGTH},
        "additionalProperties": _TEXT,
    },
    "else": {
        "minItems": 1,
        "maxItems": MAX_LABELS,
        "items": {
            "type": "object",
            "properties": {"key": {"type": "string", "minLength": 1, "maxLength": MAX_LABEL_LENGTH}, "value": _TEXT},
            "required": ["key", "value"],
            "additionalProperties": False,
        },
    },
}


@register
class ExecutionLabels(ControlConstruct):
    id = "execution.labels"
    name = "Set labels"
    category = "execution"
    description = "Adds labels to the running execution (a key it already has takes the new value)."
    input_schema = {"type": "object", "properties": {"labels": LABELS_SCHEMA}, "required": ["labels"]}
    output_schema = {
        "type": "object",
        "properties": {"labels": {"type": "object", "additionalProperties": {"type": "string"}}},
        "required": ["labels"],
    }
    documentation = f"""\
Adds labels to the execution that runs it, as Kestra's `io.kestra.plugin.core.execution.Labels`
does: a label computed during the run (a customer, a row count, the outcome of a check) can then
filter the execution lists (`labels=key:value`) like the flow's own labels and those given at
start. A key the execution already has takes the new value; the others are kept.

- `labels`: a map of key → value, or a list of `{{key, value}}`; values may be expressions,
  and so may the whole (an expression giving a map, a list or the JSON text of one). Numbers
  and booleans are written as their text (`3`, `true`).

Keys and values have 1 to {MAX_LABEL_LENGTH} characters and an execution carries at most
{MAX_LABELS} labels. Labels that break these rules, or that are neither a map nor a list, fail
the step with the reason (`allowFailure` lets the flow go on). Labels are shown in clear: an
expression here cannot read a secret.

Outputs `labels`: the labels the step set.
"""
    example = """\
- name: tag-run
  type: execution.labels
  properties:
    labels:
      source: "{{ execution.flow }}"
      stage: loaded
"""
