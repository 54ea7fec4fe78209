"""Flow definitions: the YAML formats (FlowRunner `nodes`, workflowdev `tasks`, `kestra`) → one IR.

    flow = compile_definition(yaml_text, known_secrets={"API_KEY"})   # or DefinitionError
    problems = validate_definition(yaml_text)                          # [] when valid
    flow.entry(); flow.successor(step_id, outcome); flow.step(step_id); flow.tasks_total

See `ir` for the shape the engine walks, `validate` for what is checked, `loader` for
the YAML limits, `kestra` for Kestra's format and `convert` for writing a flow in any format.
"""

from flows.definitions.durations import parse_duration
from flows.definitions.formats import detect_format
from flows.definitions.ir import (
    CONTROL_TYPES,
    DEFAULT,
    ERROR,
    Block,
    CompiledFlow,
    FlowFormat,
    FlowInput,
    InputType,
    RetryPolicy,
    Step,
    TimeoutPolicy,
    Trigger,
    TriggerType,
)
from flows.definitions.loader import YamlLimits, load_yaml
from flows.definitions.problems import DefinitionError, Problem
from flows.definitions.references import SECRET_REFERENCE, secret_references
from flows.definitions.validate import PluginLookup, compile_definition, validate_definition

__all__ = [
    "CONTROL_TYPES",
    "DEFAULT",
    "ERROR",
    "SECRET_REFERENCE",
    "Block",
    "CompiledFlow",
    "DefinitionError",
    "FlowFormat",
    "FlowInput",
    "InputType",
    "PluginLookup",
    "Problem",
    "RetryPolicy",
    "Step",
    "TimeoutPolicy",
    "Trigger",
    "TriggerType",
    "YamlLimits",
    "compile_definition",
    "detect_format",
    "load_yaml",
    "parse_duration",
    "secret_references",
    "validate_definition",
]
