"""Coverage-guided fuzzing (atheris) of the definition loader/validator and the template renderer.

    python tests/reliability/fuzz_atheris.py definitions -runs=20000
    python tests/reliability/fuzz_atheris.py templates -runs=20000

`make fuzz` installs atheris and runs both, bounded. Any exception other than the documented
ones (`DefinitionError`; `TemplateRenderError`) is a finding: atheris stops and saves the input.
The hypothesis suites next to this file check the same properties in every CI run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import atheris
import django

django.setup()  # imports the apps, the definitions package among them

from executions.engine.templating import RenderContext, TemplateRenderer, TemplateRenderError  # noqa: E402
from flows.definitions import DefinitionError, YamlLimits, compile_definition, validate_definition  # noqa: E402

atheris.instrument_all()  # what is loaded by now, Django and the project alike

LIMITS = YamlLimits(max_bytes=64 * 1024, max_depth=32, max_aliases=50, max_nodes=5_000)
CONTEXT = RenderContext(inputs={"name": "Ada", "items": [1, 2, 3]}, outputs={"a": {"body": {"ok": True}}})


class Vault:
    def secret(self, name: str) -> str:
        if name == "KEY":
            return "s3cret-value"
        raise LookupError(name)

    def kv(self, key: str) -> Any:
        raise LookupError(key)


def definitions(data: bytes) -> None:
    problems = validate_definition(data, known_secrets=set(), limits=LIMITS)
    try:
        compile_definition(data, known_secrets=set(), limits=LIMITS)
    except DefinitionError:
        assert problems, "compile refused what validate accepted"


def templates(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(4096)
    try:
        value = TemplateRenderer(CONTEXT, Vault()).render(text, "value")
    except TemplateRenderError as error:
        assert "s3cret-value" not in str(error)
        return
    assert "<class " not in str(value) and "__globals__" not in str(value)


TARGETS = {"definitions": definitions, "templates": templates}

if __name__ == "__main__":
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
