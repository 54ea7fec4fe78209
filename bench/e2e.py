"""The benchmark scenarios through the public API, as a user meets them.

A real `manage.py serve` (uvicorn and the default workers, as `make run` serves) runs on the
backend the environment picks; an asyncio client (aiohttp, websockets) drives it:

- light: a 40-step flow created through FlowRunner, `POST /api/v1/flows/{id}/run`, then the
  execution's WebSocket until its terminal message (`execution_completed`); also the time to
  the first message, and the same flow fired through a webhook with `?wait=true` (what n8n's
  figure measures, see bench/n8n/).
- webhook: BENCH_WEBHOOKS executions of a two-step flow, each a `POST /api/v1/webhook/{key}
  ?wait=true`, at each concurrency of BENCH_CONCURRENCY: executions/s and latency percentiles.
- CPU: the CPU time of every process of the server's session (uvicorn, the worker cluster and
  their children) over each batch, divided by its executions.

`bench/__main__.py` calls `measure_backend` with the environment of a fresh database; with
BENCH_N8N=1 it passes a running n8n, and each run of each scenario alternates Millrace, n8n.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import httpx
from websockets.asyncio.client import connect

from bench.flows import light_flow, pair_flow

ROOT = Path(__file__).resolve().parent.parent
TERMINAL = {"execution_completed", "execution_failed"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Plan:
    runs: int = 5
    steps: int = 40
    webhooks: int = 500
    concurrencies: tuple[int, ...] = (20, 100)
    warmup: int = 3
    light_repeats: int = 5  # light executions per run, their median the run's figure

    @classmethod
    def from_env(cls) -> Plan:
        return cls(
            runs=int(os.environ.get("BENCH_RUNS", "5")),
            webhooks=int(os.environ.get("BENCH_WEBHOOKS", "500")),
            concurrencies=tuple(int(c) for c in os.environ.get("BENCH_CONCURRENCY", "20,100").split(",")),
            light_repeats=int(os.environ.get("BENCH_LIGHT_REPEATS", "5")),
        )


class Target(Protocol):
    """A system under test as the scenarios drive it: Millrace here, n8n in bench/n8n/."""

    name: str
    service: Service
    light_executions: int  # executions one `light()` starts

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def light(self) -> dict[str, float]: ...
    async def fire(self) -> None: ...


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def session_cpu_seconds(session: int) -> float:
    """User and system CPU of every live process in `session`, plus what they reaped from their
    children: a process that ends between two readings is counted in its parent's figures."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session:  # fields[0] is the state, the 3rd field of /proc/<pid>/stat
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / CLOCK_TICKS


class Service:
    """A server started in its own session (so its CPU and its stop cover all its children)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.name = name
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            self.process = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True, stdout=out, stderr=out)
        self.log = log

    def cpu_seconds(self) -> float:
        return session_cpu_seconds(self.process.pid)

    def wait_ready(self, url: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}); see {self.log}")
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # children the leader left behind
            os.killpg(self.process.pid, signal.SIGKILL)


def millrace_serve(env: dict[str, str]) -> tuple[Service, str]:
    """Migrate and bootstrap (MILLRACE_ADMIN_PASSWORD) the database `env` names, then
    `manage.py serve` on a free port."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = env | {"MILLRACE_PUBLIC_URL": base}
    for command in (["migrate", "-v0"], ["bootstrap"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    log = ROOT / "var" / "bench" / f"serve-{'services' if env.get('DATABASE_URL') else 'embedded'}.log"
    service = Service("millrace", [sys.executable, "manage.py", "serve", "--port", str(port)], env, ROOT, log)
    service.wait_ready(f"{base}/healthz")
    time.sleep(3)  # let the cluster fork its workers
    return service, base


# --- the client ------------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    cut = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return {"p50": cut[49], "p95": cut[94], "p99": cut[98]}


def client_session(base: str) -> aiohttp.ClientSession:
    """The HTTP client both targets are driven with. It runs on the cores the servers share, so
    its own CPU is taken from theirs: httpx's pool spent 2.9 ms per webhook at concurrency 20
    and 12 ms at 100 (encode/httpx#3215), as much as a server; aiohttp spends about 0.7.
    Idle connections close before a server's keep-alive ends them (5 s in uvicorn and Node), so
    a request never goes out on a connection the server is closing."""
    connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=3)
    return aiohttp.ClientSession(base_url=base, connector=connector, timeout=aiohttp.ClientTimeout(total=60))


async def request_json(
    session: aiohttp.ClientSession, method: str, path: str, expected: int, **kwargs: Any
) -> dict[str, Any]:
    """The JSON answer of a request that must answer `expected`."""
    async with session.request(method, path, **kwargs) as response:
        if response.status != expected:
            raise RuntimeError(f"{method} {path}: {response.status} {(await response.text())[:500]}")
        return await response.json()


class Millrace:
    """One Millrace server as the client sees it: a token, the two flows and their webhooks."""

    name = "millrace"
    light_executions = 2

    def __init__(self, base: str, service: Service, password: str, steps: int) -> None:
        self.base, self.service, self.password, self.steps = base, service, password, steps

    async def open(self) -> None:
        """Log in, create both flows and a webhook trigger for each."""
        self.client = client_session(self.base)
        login = {"username": "admin", "password": self.password}
        self.token = (await request_json(self.client, "POST", "/api/v1/auth/login", 200, json=login))["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.light_flow = await self._flow("bench-light", light_flow(self.steps))
        self.light_key = await self._webhook(self.light_flow)
        self.pair_key = await self._webhook(await self._flow("bench-pair", pair_flow()))

    async def call(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> dict[str, Any]:
        """An authenticated request that must answer `expected`; its JSON."""
        return await request_json(self.client, method, path, expected, headers=self.auth, **kwargs)

    async def _flow(self, name: str, definition: str) -> str:
        return (await self.call("POST", "/api/v1/flows", 201, json={"name": name, "definition": definition}))["id"]

    async def _webhook(self, flow: str) -> str:
        return (await self.call("POST", "/api/v1/triggers", 201, json={"flowId": flow, "type": "webhook"}))["key"]

    async def light(self) -> dict[str, float]:
        """POST run, then the WebSocket from its first message to the terminal one; then the same
        flow through its webhook."""
        started = time.perf_counter()
        execution = await self.call("POST", f"/api/v1/flows/{self.light_flow}/run", 201, json={"input": {}})
        url = f"{self.base.replace('http', 'ws', 1)}/ws/executions/{execution['execution_id']}?token={self.token}"
        first = None
        async with connect(url, max_size=2**24) as stream:
            async for text in stream:
                first = first or time.perf_counter()
                message = json.loads(text)
                if message["type"] in TERMINAL:
                    break
        ended = time.perf_counter()
        if first is None or message["type"] != "execution_completed":
            raise RuntimeError(f"light flow did not complete: {message if first else 'no message'}")
        sent = time.perf_counter()
        await self.fire(self.light_key)
        return {
            "first_event_s": first - started,
            "terminal_s": ended - started,
            "webhook_s": time.perf_counter() - sent,
        }

    async def fire(self, key: str | None = None) -> None:
        path = f"/api/v1/webhook/{key or self.pair_key}?wait=true"
        answer = await request_json(self.client, "POST", path, 201, json={})
        if answer["status"] != "SUCCESS":
            raise RuntimeError(f"webhook execution ended {answer['status']}")

    async def close(self) -> None:
        await self.client.close()


async def batch(target: Target, count: int, concurrency: int) -> dict[str, Any]:
    """`count` webhook executions, at most `concurrency` in flight: rate, latencies, CPU."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors: list[str] = []

    async def one() -> None:
        async with gate:
            sent = time.perf_counter()
            try:
                await target.fire()
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}"[:300])
                return
            latencies.append(time.perf_counter() - sent)

    cpu = target.service.cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    wall = time.perf_counter() - started
    cpu = target.service.cpu_seconds() - cpu
    return {
        "per_s": len(latencies) / wall,
        **percentiles(latencies),
        "cpu_ms_per_execution": cpu / count * 1000,
        "errors": len(errors),
        "error_samples": errors[:5],
    }


# --- the scenarios, alternating targets --------------------------------------------------------


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs (None where no run had it: every request failed); the
    errors summed."""
    merged: dict[str, Any] = {}
    for key in runs[0]:
        if key == "errors":
            merged[key] = sum(run[key] for run in runs)
        elif key == "error_samples":
            merged[key] = [sample for run in runs for sample in run[key]][:5]
        else:
            values = [run[key] for run in runs if run[key] is not None]
            merged[key] = statistics.median(values) if values else None
    merged["runs"] = runs
    return merged


async def alternate(targets: list[Target], runs: int, measure: Callable[[Target], Awaitable[dict]]) -> dict[str, dict]:
    """`measure` each target in turn, `runs` times over: medians per target."""
    found: dict[str, list[dict]] = {target.name: [] for target in targets}
    for _ in range(runs):
        for target in targets:
            found[target.name].append(await measure(target))
    return {name: median_of(values) for name, values in found.items()}


async def light(target: Target, repeats: int = 1) -> dict[str, float]:
    """The target's light figures, each the median of `repeats` light executions (one is at
    the mercy of whatever else the machine did in its 0.1 s), and its CPU per execution."""
    cpu = target.service.cpu_seconds()
    found = [await target.light() for _ in range(repeats)]
    figures = {key: statistics.median(one[key] for one in found) for key in found[0]}
    figures["cpu_ms_per_execution"] = (target.service.cpu_seconds() - cpu) / (target.light_executions * repeats) * 1000
    return figures


async def scenarios(targets: list[Target], plan: Plan) -> dict[str, dict]:
    for target in targets:  # warm every worker process (imports, caches, connections)
        for _ in range(plan.warmup):
            await light(target)
        await batch(target, 2 * max(plan.concurrencies), max(plan.concurrencies))
    results: dict[str, dict] = {target.name: {} for target in targets}
    for name, figures in (await alternate(targets, plan.runs, partial(light, repeats=plan.light_repeats))).items():
        results[name]["light"] = figures
    for concurrency in plan.concurrencies:

        async def webhooks(target: Target, concurrency: int = concurrency) -> dict[str, Any]:
            return await batch(target, plan.webhooks, concurrency)

        for name, figures in (await alternate(targets, plan.runs, webhooks)).items():
            results[name][f"webhook_c{concurrency}"] = figures
    return results


def ratios(millrace: dict[str, Any], n8n: dict[str, Any]) -> dict[str, float | None]:
    """Millrace / n8n for each compared figure (below 1 is better for times, above 1 for rates)."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    found = {
        "light_ws_vs_webhook": ratio(millrace["light"]["terminal_s"], n8n["light"]["webhook_s"]),
        "light_webhook": ratio(millrace["light"]["webhook_s"], n8n["light"]["webhook_s"]),
        "light_cpu_ms_per_execution": ratio(
            millrace["light"]["cpu_ms_per_execution"], n8n["light"]["cpu_ms_per_execution"]
        ),
    }
    for key in millrace:
        if key.startswith("webhook_c") and key in n8n:
            for field in ("per_s", "p50", "p95", "p99", "cpu_ms_per_execution"):
                found[f"{key}_{field}"] = ratio(millrace[key][field], n8n[key][field])
    return found


def measure_backend(env: dict[str, str], plan: Plan, n8n: Target | None = None) -> dict[str, Any]:
    """Serve Millrace on the (fresh, empty) database `env` names and run the scenarios against it,
    alternating with `n8n` when given. Returns the figures, and the ratios with n8n."""
    password = secrets.token_urlsafe(16)
    service, base = millrace_serve(env | {"MILLRACE_ADMIN_PASSWORD": password})
    targets = [Millrace(base, service, password, plan.steps), *([n8n] if n8n else [])]
    try:

        async def drive() -> dict[str, Any]:
            opened = []
            try:
                for target in targets:
                    await target.open()
                    opened.append(target)
                return await scenarios(targets, plan)
            finally:
                for target in opened:
                    await target.close()

        results = asyncio.run(drive())
    finally:
        service.stop()
    if n8n is not None:
        results["ratios"] = ratios(results["millrace"], results["n8n"])
    return results


def table(results: dict[str, dict[str, Any]]) -> str:
    """One block per backend: a row per figure, a column per system, and the ratio to n8n."""

    def cell(value: float | None, unit: str) -> str:
        if value is None:
            return "-"
        formats = {"s": f"{value:.3f} s", "ms": f"{value * 1000:.0f} ms", "cpu": f"{value:.1f} ms"}
        return formats.get(unit) or {"x": f"{value:.2f}", "n": f"{value:.0f}"}.get(unit, f"{value:.1f}")

    lines = []
    for backend, data in results.items():
        systems = [name for name in ("millrace", "n8n") if name in data]
        rows: list[tuple[str, str, str, str, str | None]] = [
            ("light, run -> WebSocket end (*)", "light", "terminal_s", "s", "light_ws_vs_webhook"),
            ("light, run -> first message", "light", "first_event_s", "s", None),
            ("light, webhook ?wait=true", "light", "webhook_s", "s", "light_webhook"),
            ("light, CPU per execution", "light", "cpu_ms_per_execution", "cpu", "light_cpu_ms_per_execution"),
        ]
        for key in sorted((k for k in data["millrace"] if k.startswith("webhook_c")), key=lambda k: int(k[9:])):
            label = f"webhook c{key[9:]}"
            rows += [
                (f"{label} executions/s", key, "per_s", "", f"{key}_per_s"),
                (f"{label} p50", key, "p50", "ms", f"{key}_p50"),
                (f"{label} p95", key, "p95", "ms", f"{key}_p95"),
                (f"{label} p99", key, "p99", "ms", f"{key}_p99"),
                (f"{label} CPU per execution", key, "cpu_ms_per_execution", "cpu", f"{key}_cpu_ms_per_execution"),
                (f"{label} errors", key, "errors", "n", None),
            ]
        header = f"{backend + ', through the API':<34}" + "".join(f"{name:>12}" for name in systems)
        lines.append(header + ("  Millrace/n8n" if "ratios" in data else ""))
        for label, scenario, field, unit, ratio in rows:
            values = [data[name].get(scenario, {}).get(field) for name in systems]
            line = f"{label:<34}" + "".join(f"{cell(value, unit):>12}" for value in values)
            if "ratios" in data and ratio:
                line += f"  {cell(data['ratios'].get(ratio), 'x'):>12}"
            lines.append(line)
        if "ratios" in data:
            lines.append("(*) ratio to n8n's webhook answered when the last node finished: n8n has no event stream")
    return "\n".join(lines)
