"""Secret references in a flow: `${NAME}` (a plain lookup) and `{{ secret('NAME') }}`.

Saving a flow checks that every secret it names exists in its namespace (tenant
isolation: a flow cannot name another namespace's secret and learn whether it exists
at run time only). Only values the engine renders are scanned — task inputs, variables,
trigger inputs and input defaults — not descriptions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from flows.definitions.ir import CompiledFlow
from flows.definitions.problems import Path, Problems, key_text

#: `${NAME}`: replaced by the secret/credential NAME at run time, never evaluated.
SECRET_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")
#: `secret('NAME')` with a literal name inside a Jinja expression.
SECRET_CALL = re.compile(r"""\bsecret\(\s*(['"])([^'"\s]+)\1\s*\)""")


def names_in(text: str) -> list[str]:
    """Secret names a string refers to, in order of appearance (repeats kept)."""
    found = [(match.start(), match.group(1)) for match in SECRET_REFERENCE.finditer(text)]
    if "{{" in text or "{%" in text:
        found += [(match.start(), match.group(2)) for match in SECRET_CALL.finditer(text)]
    return [name for _, name in sorted(found)]


def _strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key_text(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def rendered_strings(flow: CompiledFlow) -> Iterator[tuple[Path, str]]:
    """Every string the engine renders, with its source path."""
    for step in flow.steps():
        for key, value in step.inputs.items():
            yield from _strings(value, step.input_sources.get(key, (*step.inputs_source, key)))
    yield from _strings(flow.variables, ("variables",))
    for trigger in flow.triggers:
        yield from _strings(trigger.inputs, (*trigger.source, "inputs"))
    for declared in flow.inputs:
        if declared.has_default:
            yield from _strings(declared.default, (*declared.source, "defaults"))


def secret_references(flow: CompiledFlow) -> set[str]:
    """All secret names the flow refers to (`${NAME}` and literal `secret('NAME')`)."""
    return {name for _, text in rendered_strings(flow) for name in names_in(text)}


def check_secrets(flow: CompiledFlow, known: set[str], problems: Problems) -> None:
    """One problem per reference (per place it is written) to a secret not in `known`."""
    for path, text in rendered_strings(flow):
        for name in dict.fromkeys(names_in(text)):
            if name not in known:
                problems.add(path, f"unknown secret '{name}'", "unknown_secret")


#: The inputs of a `flow.subflow` step that name the flow it starts.
SUBFLOW_TARGETS = ("flowId", "flowName", "flow")


def subflow_targets(flow: CompiledFlow) -> Iterator[tuple[Path, str, str]]:
    """Literal subflow references: (path, input, value) for `namespace`, `flowId`, `flowName`, `flow`.

    Templated values are known only at run time, where the engine checks them again.
    """
    for step in flow.steps():
        if step.type != "flow.subflow":
            continue
        for key in ("namespace", *SUBFLOW_TARGETS):
            value = step.inputs.get(key)
            if isinstance(value, str) and value and not ("{{" in value or "{%" in value or "${" in value):
                yield step.input_sources.get(key, (*step.inputs_source, key)), key, value


def check_subflows(flow: CompiledFlow, namespace: str, exists: Callable[[str, str], bool], problems: Problems) -> None:
    """One problem per subflow reference outside `namespace`: another namespace named, or a flow
    id or name that `exists(input, value)` does not find in it (subflows run in their parent's
    namespace, so a reference elsewhere could only probe another tenant)."""
    for path, key, value in subflow_targets(flow):
        if key == "namespace" and value != namespace:
            problems.add(path, f"subflows run in the flow's own namespace '{namespace}', not '{value}'", "namespace")
        elif key != "namespace" and not exists(key, value):
            problems.add(path, f"no flow {value!r} in namespace '{namespace}'", "unknown_flow")
