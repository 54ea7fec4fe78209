"""`manage.py serve` on the embedded default (SQLite, the in-memory channel layer, the database
queue, two server processes): the worker processes ring the servers and the pusher by the bell,
so a webhook waiting for its execution answers when it ends rather than at its next read, and a
stream follows, whichever server process it reached; `/metrics` sums every process."""

import asyncio
import json
import secrets
import statistics
import time
from pathlib import Path

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families
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


def server_processes(session: int) -> list[int]:
    """The uvicorn worker processes of the service's session (uvicorn spawns them)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session and b"spawn_main" in command and b"resource_tracker" not in command:
            found.append(int(entry.name))
    return found


def task_runs_counted(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "millrace_task_runs"
        for sample in family.samples
        if sample.name == "millrace_task_runs_total"
    )


def test_webhook_waits_and_streams_hear_the_workers(served):
    target, env = served

    async def stream(execution_id: str) -> list[dict]:
        url = f"{target.base.replace('http', 'ws', 1)}/ws/executions/{execution_id}?token={target.token}"
        async with connect(url) as socket:
            return [json.loads(text) async for text in socket]

    async def run() -> tuple[list[float], list[list[dict]], list[str], list[str]]:
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
            runs = [await target.call("POST", f"/api/v1/flows/{flow}/run", 201, json={"input": {}}) for _ in range(6)]
            streams = await asyncio.gather(*(stream(run["execution_id"]) for run in runs))
            files = [path.name for path in bell_root("sqlite", {"NAME": env["MILLRACE_SQLITE_PATH"]}).rglob("*.*")]
            scrapes = []
            for _ in range(6):  # on fresh connections, so both server processes answer some
                async with target.client.get("/metrics", headers={"Connection": "close"}) as response:
                    scrapes.append(await response.text())
            return waits, streams, files, scrapes
        finally:
            await target.close()

    servers = server_processes(target.service.process.pid)
    waits, streams, registered, scrapes = asyncio.run(run())

    assert len(servers) == 2, servers
    # without rings a wait reads again only after WAIT_READ_SECONDS: each would take longer
    assert statistics.median(waits) < WAIT_READ_SECONDS - 0.1, waits
    assert [messages[-1]["type"] for messages in streams] == ["execution_completed"] * 6
    # a port per server process that listened for executions, and the pusher's for the queue
    assert 2 <= len(registered) <= 3, registered
    # each scrape sums the files of every process: the task runs happened in the workers
    assert {task_runs_counted(text) for text in scrapes} == {18.0}

    metrics = Path(settings.VAR_DIR) / "metrics" / str(target.service.process.pid)
    assert metrics.is_dir()
    target.service.stop()
    assert not metrics.exists()
