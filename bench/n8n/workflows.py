"""The n8n workflows the side-by-side mode imports, built like bench/flows.py builds Millrace's.

- light: a Webhook node answering "when last node finishes" (`responseMode: lastNode`), then
  `steps` Code nodes in a chain, each computing fibo(10) like Millrace's `fibo` task.
- pair: two steps behind a webhook, like Millrace's two-task flow. `lastnode`: Webhook
  (`lastNode`) → Set → Set, answered when the execution has run its last node, as Millrace's
  `?wait=true` answers when the execution has ended. `respond`: Webhook (`responseNode`) → Set
  → Respond to Webhook, answered by the last node while n8n still finishes the execution.
"""

import itertools
import uuid
from typing import Any

FIBO = (
    "const fibo = (n) => { let a = 0, b = 1; for (let i = 0; i < n; i++) [a, b] = [b, a + b]; return a; };\n"
    "return [{ json: { value: fibo(10), step: STEP } }];"
)


def _node(name: str, kind: str, version: float, x: int, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "type": f"n8n-nodes-base.{kind}",
        "typeVersion": version,
        "position": [x, 0],
        "parameters": parameters,
    }


def _webhook(path: str, mode: str) -> dict[str, Any]:
    parameters = {"httpMethod": "POST", "path": path, "responseMode": mode, "options": {}}
    node = _node("Webhook", "webhook", 2.1, 0, parameters)
    node["webhookId"] = path
    return node


def _set(name: str, x: int, field: str) -> dict[str, Any]:
    assignment = {"id": field, "name": field, "value": "done", "type": "string"}
    return _node(name, "set", 3.4, x, {"assignments": {"assignments": [assignment]}, "options": {}})


def _workflow(workflow_id: str, name: str, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """A workflow whose nodes run in the order given, each feeding the next."""
    for node in nodes:
        node["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"millrace-bench/{workflow_id}/{node['name']}"))
    connections = {
        node["name"]: {"main": [[{"node": after["name"], "type": "main", "index": 0}]]}
        for node, after in itertools.pairwise(nodes)
    }
    return {
        "id": workflow_id,
        "name": name,
        "active": False,
        "nodes": nodes,
        "connections": connections,
        "settings": {"executionOrder": "v1"},
    }


def light_workflow(path: str, steps: int = 40) -> dict[str, Any]:
    code = [
        _node(f"Code {n}", "code", 2, 200 * n, {"jsCode": FIBO.replace("STEP", str(n))}) for n in range(1, steps + 1)
    ]
    return _workflow("benchLight000001", "bench-light", [_webhook(path, "lastNode"), *code])


def pair_workflow(path: str, variant: str = "lastnode") -> dict[str, Any]:
    if variant == "respond":
        respond = _node("Respond to Webhook", "respondToWebhook", 1.5, 400, {"respondWith": "firstIncomingItem"})
        nodes = [_webhook(path, "responseNode"), _set("Set", 200, "a"), respond]
    elif variant == "lastnode":
        nodes = [_webhook(path, "lastNode"), _set("Set", 200, "a"), _set("Set 2", 400, "b")]
    else:
        raise ValueError(f"BENCH_N8N_PAIR must be lastnode or respond, not {variant!r}")
    return _workflow("benchPair0000001", "bench-pair", nodes)
