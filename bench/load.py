"""`make load`: a steady webhook load plus WebSocket subscribers against a real server and workers.

`python -m bench.load` runs on each backend of LOAD_BACKENDS (`embedded,services`): a fresh
database (SQLite with the in-memory channel layer, or PostgreSQL with Redis), `manage.py serve
--no-workers` (uvicorn as `make run` starts it) and LOAD_WORKERS `manage.py worker` processes
on it; then for LOAD_SECONDS it fires a webhook that starts a two-task execution LOAD_RATE
times a second, while LOAD_SUBSCRIBERS WebSockets
(half FlowRunner's execution stream, half workflowdev's log stream) follow LOAD_WATCHED
long-running executions that tick every LOAD_TICK_SECONDS. It reports sustained executions/s,
start-to-end latency (webhook sent to `finished_at`), WebSocket delivery latency (message
received to its event's timestamp), errors (they must be 0; a FlowRunner stream that skipped,
repeated or reordered an event is one) and the RSS of the server and of each worker at start
and end. Results: a table per backend on stdout and `bench/results/load.json` (by backend); the
processes' logs in `var/load/<backend>/`. The WebSocket latency is that of each message the
client received after connecting: its arrival less its event's `created_at`, which the writing
transaction sets just before its commit, so it is the commit-to-arrival time plus that
transaction's last statements.

The client is bounded: at most LOAD_CONCURRENCY webhook requests in flight, a fixed number of
sockets, a fixed duration. Not a test: `tests/system/test_load.py` runs a few seconds of it.
Environment: the knobs above, LOAD_BACKENDS, LOAD_PG (postgres://postgres@127.0.0.1:5432),
LOAD_REDIS (redis://127.0.0.1:6379/13), MILLRACE_WORKERS (processes per worker, default 1).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import django
import httpx
import requests
from django.db import connections
from websockets.asyncio.client import connect

from bench.backends import backend_env, drop

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "load.json"


@dataclass(frozen=True)
class Plan:
    seconds: float = 60.0
    rate: float = 20.0  # webhook-started executions per second
    subscribers: int = 200
    watched: int = 10  # long-running executions the subscribers follow
    tick_seconds: float = 2.0
    concurrency: int = 16  # webhook requests in flight at most

    @classmethod
    def from_env(cls) -> Plan:
        knobs = {"seconds": "LOAD_SECONDS", "rate": "LOAD_RATE", "tick_seconds": "LOAD_TICK_SECONDS"}
        counts = {"subscribers": "LOAD_SUBSCRIBERS", "watched": "LOAD_WATCHED", "concurrency": "LOAD_CONCURRENCY"}
        values: dict[str, Any] = {name: float(os.environ[var]) for name, var in knobs.items() if var in os.environ}
        values |= {name: int(os.environ[var]) for name, var in counts.items() if var in os.environ}
        return cls(**values)


@dataclass
class Measurements:
    sent: dict[str, float] = field(default_factory=dict)  # execution id -> wall time the webhook was sent
    ws_latencies: list[float] = field(default_factory=list)
    ws_messages: int = 0
    ws_connected: int = 0
    ws_event_ids: list[tuple[str, list[int]]] = field(default_factory=list)  # FlowRunner stream url, ids received
    errors: list[str] = field(default_factory=list)


def pair_flow(key: str) -> str:
    """The webhook-triggered two-task flow."""
    return (
        "name: load-pair\ntasks:\n"
        "  - name: a\n    type: util.echo\n    properties: {value: '{{ trigger.body.n }}'}\n"
        "  - name: b\n    type: util.echo\n    properties: {value: '{{ outputs.a }}-done'}\n"
        f"triggers:\n  - {{name: hook, type: webhook, key: {key}}}\n"
    )


def ticker_flow(ticks: int, seconds: float) -> str:
    """A flow that waits `seconds` `ticks` times: a steady trickle of events to subscribe to."""
    return (
        "name: load-ticker\ntasks:\n"
        f"  - name: ticks\n    type: flow.forEach\n    properties: {{items: '{{{{ range({ticks}) | list }}}}', "
        "concurrency: 1}\n    tasks:\n"
        f"      - name: tick\n        type: util.sleep\n        properties: {{seconds: {seconds}}}\n"
    )


# --- the client ------------------------------------------------------------------------------


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def _fire(client: Any, url: str, n: int, gate: asyncio.Semaphore, found: Measurements) -> None:
    async with gate:
        sent = time.time()
        try:
            response = await client.post(url, json={"n": n})
        except Exception as error:
            found.errors.append(f"webhook {n}: {type(error).__name__}: {error}")
            return
        if response.status_code != 201:
            found.errors.append(f"webhook {n}: {response.status_code} {response.text[:200]}")
            return
        found.sent[response.json()["executionId"]] = sent


async def _webhooks(base: str, key: str, plan: Plan, found: Measurements) -> None:
    url = f"{base}/api/v1/webhook/{key}"
    gate = asyncio.Semaphore(plan.concurrency)
    limits = httpx.Limits(max_connections=plan.concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        began = time.monotonic()
        pending = []
        for n in range(int(plan.seconds * plan.rate)):
            await asyncio.sleep(max(0.0, began + n / plan.rate - time.monotonic()))
            pending.append(asyncio.create_task(_fire(client, url, n, gate, found)))
        await asyncio.gather(*pending)


async def _subscribe(url: str, stop: asyncio.Event, gate: asyncio.Semaphore, found: Measurements) -> None:
    """Follow one stream until `stop`; replayed messages (older than the connection) are not timed."""
    try:
        async with gate:
            socket = await connect(url, open_timeout=30, close_timeout=5, max_size=2**22)
    except Exception as error:
        found.errors.append(f"subscribe: {type(error).__name__}: {error}")
        return
    found.ws_connected += 1
    connected = time.time()
    received: list[int] | None = None
    if "event_ids=true" in url:
        found.ws_event_ids.append((url, received := []))
    reader = asyncio.ensure_future(socket.recv())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            done, _ = await asyncio.wait({reader, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping in done:
                return
            try:
                message = json.loads(reader.result())
            except Exception as error:
                found.errors.append(f"stream closed early: {type(error).__name__}: {error}")
                return
            found.ws_messages += 1
            if received is not None:
                received.append(message["event_id"])
            stamp = message.get("timestamp")
            if stamp and _epoch(stamp) >= connected:
                found.ws_latencies.append(time.time() - _epoch(stamp))
            reader = asyncio.ensure_future(socket.recv())
    finally:
        reader.cancel()
        stopping.cancel()
        await socket.close()


def stream_urls(base: str, token: str, watched: list[str], subscribers: int) -> list[str]:
    """Half FlowRunner execution streams (with event ids, to check them), half workflowdev log
    streams, spread over `watched`."""
    ws = base.replace("http://", "ws://", 1)
    urls = []
    for n in range(subscribers):
        execution = watched[n % len(watched)]
        path = f"/ws/executions/{execution}?event_ids=true&" if n % 2 == 0 else f"/api/v1/executions/{execution}/logs?"
        urls.append(f"{ws}{path}token={token}")
    return urls


def stream_gaps(found: Measurements) -> list[str]:
    """Every FlowRunner stream must have received its execution's events from the first, each
    once and in order, up to where it hung up."""
    # models import once Django is set up, in main() or the test, on the database it picked
    from executions.models import ExecutionEvent

    problems = []
    for url, received in found.ws_event_ids:
        execution = url.split("/ws/executions/", 1)[1].split("?", 1)[0]
        table = list(ExecutionEvent.objects.filter(execution_id=execution).order_by("id").values_list("id", flat=True))
        if received != table[: len(received)]:
            problems.append(f"stream of {execution} skipped, repeated or reordered events")
    return problems


async def drive(base: str, key: str, token: str, watched: list[str], plan: Plan) -> Measurements:
    """Connect the subscribers, fire the webhooks for `plan.seconds`, then hang up."""
    found = Measurements()
    stop = asyncio.Event()
    gate = asyncio.Semaphore(20)  # handshakes at once
    urls = stream_urls(base, token, watched, plan.subscribers) if watched else []
    subscribers = [asyncio.create_task(_subscribe(url, stop, gate, found)) for url in urls]
    deadline = time.monotonic() + 60
    while found.ws_connected + len(found.errors) < len(urls) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await _webhooks(base, key, plan, found)
    stop.set()
    await asyncio.gather(*subscribers)
    return found


# --- around the client: data, results, memory --------------------------------------------------


def prepare(actor: Any, namespace: Any, plan: Plan, key: str) -> tuple[list[str], Any]:
    """Save both flows (Django must be set up) and start the watched executions; returns their
    ids and the pair flow."""
    # models import once Django is set up, in main() or the test, on the database it picked
    from executions.services import execution_start
    from flows.services import flow_create

    pair = flow_create(actor=actor, namespace=namespace, source=pair_flow(key))
    ticks = math.ceil((plan.seconds + 120) / plan.tick_seconds)
    ticker = flow_create(actor=actor, namespace=namespace, source=ticker_flow(ticks, plan.tick_seconds))
    watched = [str(execution_start(actor=actor, flow=ticker).pk) for _ in range(plan.watched)]
    return watched, pair


def settle(found: Measurements, watched: list[str], actor: Any, timeout: float = 300) -> dict[str, Any]:
    """Wait for every started execution to end, cancel the watched ones, and compute the figures."""
    # models import once Django is set up, in main() or the test, on the database it picked
    from executions.models import TERMINAL_EXECUTION_STATUSES, Execution
    from executions.services import execution_cancel

    ids = list(found.sent)
    deadline = time.monotonic() + timeout
    while Execution.objects.filter(pk__in=ids).exclude(status__in=TERMINAL_EXECUTION_STATUSES).exists():
        if time.monotonic() > deadline:
            found.errors.append("executions still unfinished after the run")
            break
        time.sleep(0.2)
    found.errors.extend(stream_gaps(found))  # before the cancels below add events
    for execution in Execution.objects.filter(pk__in=watched).exclude(status__in=TERMINAL_EXECUTION_STATUSES):
        execution_cancel(actor=actor, execution=execution)
    rows = list(Execution.objects.filter(pk__in=ids).values_list("pk", "status", "finished_at"))
    latencies = []
    for pk, status, finished in rows:
        if status != "SUCCESS" or finished is None:
            found.errors.append(f"execution {pk} ended {status}")
            continue
        latencies.append(finished.timestamp() - found.sent[str(pk)])
    ends = [finished.timestamp() for _, status, finished in rows if finished is not None]
    span = (max(ends) - min(found.sent.values())) if ends else 0.0
    return {
        "executions": len(rows),
        "executions_per_s": len(latencies) / span if span else 0.0,
        "latency_s": percentiles(latencies),
        "ws": {"subscribers": found.ws_connected, "messages": found.ws_messages, **percentiles(found.ws_latencies)},
        "errors": len(found.errors),
        "error_samples": found.errors[:10],
    }


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50": cut[49], "p95": cut[94], "p99": cut[98], "max": ordered[-1]}


def group_memory_mib(leader: int) -> dict[str, float]:
    """RSS and PSS of every process in `leader`'s process group (a cluster and its forks). RSS
    counts the pages forks share once per process; PSS splits them, so it adds up."""
    totals = {"rss": 0, "pss": 0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) != leader:
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                name, _, value = line.partition(":")
                if name in ("Rss", "Pss"):
                    totals[name.lower()] += int(value.split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return {name: round(kib / 1024, 1) for name, kib in totals.items()}


def memory(processes: dict[str, subprocess.Popen]) -> dict[str, dict[str, float]]:
    return {name: group_memory_mib(process.pid) for name, process in processes.items()}


class MemoryWatch:
    """Samples `memory(processes)` every `every` seconds in a thread, for the trend over the run."""

    def __init__(self, processes: dict[str, subprocess.Popen], every: float = 5.0) -> None:
        self.processes, self.every = processes, every
        self.samples: list[tuple[float, dict[str, dict[str, float]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._began = time.monotonic()

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((round(time.monotonic() - self._began, 1), memory(self.processes)))

    def _run(self) -> None:
        while True:
            self.samples.append((round(time.monotonic() - self._began, 1), memory(self.processes)))
            if self._stop.wait(self.every):
                return

    def report(self) -> dict[str, Any]:
        """First and last sample, each series, and the RSS growth over the second half of the run
        (after warm-up), per process, in MiB. RSS, not PSS: a sibling process exiting moves
        shared pages into the others' PSS without any memory being allocated."""
        first, last = self.samples[0][1], self.samples[-1][1]
        half = self.samples[len(self.samples) // 2][1]
        return {
            "start": first,
            "end": last,
            "second_half_rss_growth": {name: round(last[name]["rss"] - half[name]["rss"], 1) for name in last},
            "samples": self.samples,
        }


def table(result: dict[str, Any]) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.0f} ms"

    lat, ws = result["latency_s"], result["ws"]
    plan = result["plan"]
    lines = [
        f"offered: {plan['rate']:g} executions/s for {plan['seconds']:g} s, {plan['subscribers']} subscribers",
        f"{'executions':<28}{result['executions']}",
        f"{'sustained executions/s':<28}{result['executions_per_s']:.1f}",
        f"{'start-to-end p50/p95/p99':<28}{ms(lat['p50'])} / {ms(lat['p95'])} / {ms(lat['p99'])}",
        f"{'WebSocket subscribers':<28}{ws['subscribers']} ({ws['messages']} messages)",
        f"{'WebSocket p50/p95/p99':<28}{ms(ws['p50'])} / {ms(ws['p95'])} / {ms(ws['p99'])}",
        f"{'errors':<28}{result['errors']}",
    ]
    growth = result["memory_mib"].get("second_half_rss_growth", {})
    for name, start in result["memory_mib"]["start"].items():
        end = result["memory_mib"]["end"][name]
        lines.append(
            f"{'RSS (PSS) ' + name:<28}{start['rss']:.0f} ({start['pss']:.0f}) MiB -> "
            f"{end['rss']:.0f} ({end['pss']:.0f}) MiB"
            + (f", RSS {growth[name]:+.1f} MiB in the second half" if name in growth else "")
        )
    return "\n".join(lines)


# --- `make load` --------------------------------------------------------------------------------


LOGS = ROOT / "var" / "load"


def _start(name: str, command: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen:
    """Start a process group; its output goes to <logs>/<name>.log."""
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name.replace(' ', '-')}.log").open("w") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=log)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)


def _serve(env: dict[str, str], count: int, logs: Path) -> tuple[str, dict[str, subprocess.Popen]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env.update({"MILLRACE_PUBLIC_URL": base, "ALLOWED_HOSTS": "127.0.0.1,localhost"})
    serve = [sys.executable, "manage.py", "serve", "--no-workers", "--port", str(port)]  # as `make run` serves
    processes = {"server": _start("server", serve, env, logs)}
    for n in range(count):
        processes[f"worker {n + 1}"] = _start(f"worker {n + 1}", [sys.executable, "manage.py", "worker"], env, logs)
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=1).ok:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or processes["server"].poll() is not None:
            raise RuntimeError("the server did not start")
        time.sleep(0.2)
    time.sleep(3)  # let the clusters fork their workers
    return base, processes


def run_backend(name: str, plan: Plan) -> dict[str, Any] | None:
    """`plan` against a fresh database of backend `name` (None when its services are unreachable).

    The server, workers and this process's Django all use the database the backend's
    environment names; this process takes that environment for the run (Django is set up once,
    so a second backend runs in a child process: see `main`)."""
    stamp = f"load_{int(time.time())}_{os.getpid()}"
    env = backend_env(name, stamp)
    if env is None:
        print(f"-- {name}: services unreachable, skipped", file=sys.stderr)
        return None
    env["MILLRACE_WORKERS"] = os.environ.get("MILLRACE_WORKERS", "1")
    env["SECRET_KEY"] = f"load-only-{secrets.token_hex(16)}"
    processes: dict[str, subprocess.Popen] = {}
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        base, processes = _serve(env, int(os.environ.get("LOAD_WORKERS", "2")), LOGS / name)
        os.environ.update(env)
        django.setup()
        # these import models: only now that the environment above picked the database
        from rest_framework_simplejwt.tokens import SlidingToken

        from accounts.models import Account, Namespace

        namespace = Namespace.objects.create(name="load")
        actor = Account.objects.create(username="load", role="admin", default_namespace=namespace)
        key = f"load-{stamp}-{secrets.token_urlsafe(24)}"  # a chosen webhook key must be long and random
        watched, _ = prepare(actor, namespace, plan, key)
        with MemoryWatch(processes) as watch:
            found = asyncio.run(drive(base, key, str(SlidingToken.for_user(actor)), watched, plan))
        result = {"plan": asdict(plan), **settle(found, watched, actor), "memory_mib": watch.report()}
        connections.close_all()
    finally:
        for process in processes.values():
            _stop(process)
        drop(name, stamp)
    return result


def main() -> None:
    """Each backend of LOAD_BACKENDS in a child process of its own (`python -m bench.load <backend>`),
    since a process sets Django up on one database."""
    plan = Plan.from_env()
    if len(sys.argv) > 1:
        result = run_backend(sys.argv[1], plan)
        print(json.dumps(result))
        return
    os.environ.setdefault("BENCH_PG", os.environ.get("LOAD_PG", "postgres://postgres@127.0.0.1:5432"))
    os.environ.setdefault("BENCH_REDIS", os.environ.get("LOAD_REDIS", "redis://127.0.0.1:6379/13"))
    results: dict[str, Any] = {}
    for name in os.environ.get("LOAD_BACKENDS", "embedded,services").split(","):
        child = subprocess.run(
            [sys.executable, "-m", "bench.load", name], cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        if result is not None:
            results[name] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    for name, result in results.items():
        print(f"-- {name}")
        print(table(result))
    print(f"(written to {RESULTS.relative_to(ROOT)})")
    errors = {name: result["error_samples"] for name, result in results.items() if result["errors"]}
    if errors:
        sys.exit(f"errors: {errors}")


if __name__ == "__main__":
    main()
