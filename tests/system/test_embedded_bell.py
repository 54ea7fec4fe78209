"""`manage.py serve` on the embedded default (SQLite, the in-memory channel layer, the database
queue): the worker processes ring the server and the pusher by the bell, so a webhook waiting
for its execution answers when it ends rather than at its next read, and a stream follows."""

import asyncio
import json
import secrets
import statistics
import time

import pytest
from websockets.asyncio.client import connect

from bench.__main__ import backend_env, drop
from bench.e2e import Millrace, millrace_serve
from core.bell import bell_root
from executions.listening import WAIT_READ_SECONDS

SLEEPY = "name: sleepy\ntasks:\n  - name: nap\n    type: util.sleep\n    properties: {seconds: 0.2}\n" + (
    "  - name: after\n    type: util.echo\n    properties: {value: awake}\n"
)


@pytest.fixture
def served():
    stamp = f"bell_{int(time.time())}_{secrets.token_hex(4)}"
    env = backend_env("embedded", stamp)
    password = secrets.token_urlsafe(16)
    service, base = millrace_serve(env | {"MILLRACE_ADMIN_PASSWORD": password, "MILLRACE_WORKERS": "1"})
    try:
        yield Millrace(base, service, password, steps=3), env
    finally:
        service.stop()
        drop("embedded", stamp)


def test_webhook_waits_and_streams_hear_the_workers(served):
    target, env = served

    async def run() -> tuple[list[float], list[dict], list[str]]:
        await target.open()
        try:
            flow = await target._flow("sleepy", SLEEPY)
            key = await target._webhook(flow)
            waits = []
            for _ in range(3):
                started = time.perf_counter()
                answer = await target.call("POST", f"/api/v1/webhook/{key}?wait=true", 201, json={})
                waits.append(time.perf_counter() - started)
                assert answer["status"] == "SUCCESS" and answer["outputs"] is not None
            run = await target.call("POST", f"/api/v1/flows/{flow}/run", 201, json={"input": {}})
            url = f"{target.base.replace('http', 'ws', 1)}/ws/executions/{run['execution_id']}?token={target.token}"
            async with connect(url) as stream:
                messages = [json.loads(text) async for text in stream]
            files = [path.name for path in bell_root("sqlite", {"NAME": env["MILLRACE_SQLITE_PATH"]}).rglob("*.*")]
            return waits, messages, files
        finally:
            await target.close()

    waits, messages, registered = asyncio.run(run())

    # without rings a wait reads again only after WAIT_READ_SECONDS: each would take longer
    assert statistics.median(waits) < WAIT_READ_SECONDS - 0.1, waits
    assert messages[-1]["type"] == "execution_completed"
    assert len(registered) == 2  # the server's port for executions, the pusher's for the queue
