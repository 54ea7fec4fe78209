"""Property: any Kestra flow made of the mapped types converts to a task list and back unchanged.

Flows are generated from a fixed seed (every mapped type, nested control constructs, retry,
timeout, allowFailure, errors, finally, inputs, triggers, labels, outputs); each is compiled,
converted along a chain of formats, compiled again and compared step by step with the original.
"""

import random

import pytest
import yaml

from flows.definitions import compile_definition
from flows.definitions.convert import convert
from tests.flows.definitions.test_convert import shape

pytestmark = pytest.mark.registry
CORE = "io.kestra.plugin.core."
SCRIPTS = "io.kestra.plugin.scripts."
LEAVES = [
    {"type": f"{CORE}log.Log", "message": "{{ taskrun.value }} in {{ flow.id }}", "level": "WARN"},
    {"type": f"{CORE}debug.Return", "format": "{{ inputs.x }}"},
    {"type": f"{CORE}output.OutputValues", "values": {"a": 1}},
    {
        "type": f"{CORE}http.Request",
        "uri": "https://example.com",
        "method": "POST",
        "body": "x",
        "contentType": "text/plain",
    },
    {"type": f"{CORE}http.Request", "uri": "https://example.com", "formData": {"a": "b"}, "allowFailed": True},
    {
        "type": f"{CORE}http.Request",
        "uri": "https://example.com",
        "auth": {"type": "BASIC", "username": "u", "password": "p"},
    },
    {"type": f"{CORE}kv.Set", "key": "k", "value": 1, "ttl": "PT1M"},
    {"type": f"{CORE}kv.Get", "key": "k"},
    {"type": f"{CORE}kv.Delete", "key": "k"},
    {"type": f"{CORE}flow.Pause"},
    {"type": f"{CORE}flow.Sleep", "duration": "PT2S"},
    {"type": f"{CORE}flow.Fail", "errorMessage": "stop"},
    {"type": f"{CORE}flow.Subflow", "namespace": "n", "flowId": "other", "inputs": {"a": 1}, "wait": False},
    {"type": f"{SCRIPTS}python.Script", "script": "print(1)\nprint(2)\n", "containerImage": "python:3.12"},
    {"type": f"{SCRIPTS}python.Commands", "beforeCommands": ["pip --version"], "commands": ["python -V"]},
    {"type": f"{SCRIPTS}shell.Commands", "commands": ["echo 1"], "failFast": True},
    {"type": f"{SCRIPTS}shell.Script", "script": "echo 1"},
    {"type": "io.kestra.plugin.jdbc.postgresql.Query", "url": "jdbc:postgresql://db/app", "sql": "SELECT 1"},
]
RETRIES = [
    {"type": "constant", "maxAttempt": 2, "interval": "PT1S"},
    {"type": "exponential", "maxAttempt": 3, "interval": "PT1S", "maxInterval": "PT10S"},
    {"type": "exponential", "maxAttempt": 3, "interval": "PT1S", "delayFactor": 3},
]


class Generator:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.count = 0

    def task(self, depth: int) -> dict:
        self.count += 1
        task: dict = {"id": f"t{self.count}"}
        pick = self.random.random
        if depth < 2 and pick() < 0.3:
            kind = self.random.choice(["If", "Switch", "Parallel", "Sequential", "ForEach"])
            task["type"] = f"{CORE}flow.{kind}"
            children = lambda: [self.task(depth + 1) for _ in range(self.random.randint(1, 2))]  # noqa: E731
            if kind == "If":
                task.update(
                    condition="{{ inputs.x == 'v' }}", then=children(), **({"else": children()} if pick() < 0.5 else {})
                )
            elif kind == "Switch":
                task.update(value="{{ inputs.x }}", cases={"v": children(), "1": children()})
                task.update({"defaults": children()} if pick() < 0.5 else {})
            elif kind == "ForEach":
                task.update(values=[1, 2], tasks=children(), **({"concurrencyLimit": 3} if pick() < 0.5 else {}))
            else:
                task.update(tasks=children(), **({"concurrent": 2} if kind == "Parallel" and pick() < 0.5 else {}))
        else:
            task.update(self.random.choice(LEAVES))
        for key, value in (("retry", self.random.choice(RETRIES)), ("timeout", "PT5M"), ("allowFailure", True)):
            if pick() < 0.2:
                task[key] = value
        return task

    def flow(self) -> str:
        pick = self.random.random
        document: dict = {"id": "generated", "namespace": "n"}
        document["tasks"] = [self.task(0) for _ in range(self.random.randint(1, 4))]
        if pick() < 0.3:
            document["errors"] = [self.task(1)]
        if pick() < 0.3:
            document["finally"] = [self.task(1)]
        if pick() < 0.5:
            document["inputs"] = [
                {"id": "x", "type": "STRING", "defaults": "v"},
                {"id": "y", "type": "INT", "required": False},
            ]
        if pick() < 0.3:
            document["triggers"] = [
                {"id": "hourly", "type": f"{CORE}trigger.Schedule", "cron": "0 * * * *", "timezone": "Europe/Paris"},
                {"id": "hook", "type": f"{CORE}trigger.Webhook", "key": "a-long-enough-webhook-key-0123456789"},
            ]
        if pick() < 0.3:
            document.update(labels={"team": "data"}, concurrency={"limit": 2, "behavior": "CANCEL"})
        if pick() < 0.3:
            document["outputs"] = [{"id": "out", "type": "STRING", "value": "{{ inputs.x }}"}]
        return yaml.safe_dump(document, sort_keys=False)


@pytest.mark.parametrize(
    "chain", [("kestra",), ("tasks",), ("tasks", "kestra"), ("tasks", "kestra", "tasks")], ids="-".join
)
def test_generated_kestra_flows_convert_without_change(chain):
    generator = Generator(seed=21)
    for _ in range(100):
        original = compile_definition(generator.flow())
        converted = original
        for target in chain:
            converted = compile_definition(convert(converted, target, namespace="n"))
        assert converted.format == chain[-1]
        assert shape(converted) == shape(original)
