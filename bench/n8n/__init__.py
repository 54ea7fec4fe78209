"""Side by side with n8n 2.8.4: install it, import the benchmark's workflows, serve it.

`python -m bench.n8n` (bench/n8n/__main__.py) installs n8n with npm into BENCH_N8N_HOME (default
`~/.cache/millrace-bench/n8n`, outside the repository) if it is not there yet;
`BENCH_N8N=1 make bench` (or `make bench-n8n`) then calls `start()`, which for each benchmark
run makes a fresh user folder (SQLite) under that home, imports the two workflows of
`bench/n8n/workflows.py` with `n8n import:workflow`, publishes them with
`n8n publish:workflow` (2.x's activation) and runs `n8n start` in regular mode on a free port,
with telemetry, version checks and personalisation off. The JS task runner is n8n's default
(internal mode, a child process); it is counted in n8n's CPU like Millrace's workers in its.

n8n-nodes-base depends on `xlsx` from a URL that may not be reachable, so the package.json
overrides it with the same version from the npm registry.

Environment: BENCH_N8N_HOME, BENCH_N8N_PAIR (`lastnode`, default, or `respond`: see
workflows.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.e2e import ROOT, Service, client_session, free_port
from bench.n8n.workflows import light_workflow, pair_workflow

VERSION = "2.8.4"
PACKAGE = {
    "name": "millrace-bench-n8n",
    "private": True,
    "dependencies": {"n8n": VERSION},
    "overrides": {"xlsx": "npm:xlsx@0.18.5"},
}
LIGHT_PATH, PAIR_PATH = "bench-light", "bench-pair"


def home() -> Path:
    if os.environ.get("BENCH_N8N_HOME"):
        return Path(os.environ["BENCH_N8N_HOME"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "millrace-bench" / "n8n"


def cli(folder: Path) -> Path:
    return folder / "node_modules" / "n8n" / "bin" / "n8n"


def installed(folder: Path) -> bool:
    manifest = folder / "node_modules" / "n8n" / "package.json"
    return manifest.exists() and json.loads(manifest.read_text())["version"] == VERSION


def install(folder: Path) -> None:
    """npm install n8n into `folder` unless this version is there (several minutes the first time)."""
    if installed(folder):
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps(PACKAGE, indent=2) + "\n")
    print(f"-- installing n8n {VERSION} into {folder} (npm; several minutes)", file=sys.stderr)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, check=True)
    if not installed(folder):
        raise RuntimeError(f"npm install did not leave n8n {VERSION} in {folder}")


def environment(user_folder: Path, port: int) -> dict[str, str]:
    """n8n's settings: only what the run needs, nothing of Millrace's environment."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    return {name: os.environ[name] for name in keep if name in os.environ} | {
        "N8N_USER_FOLDER": str(user_folder),
        "DB_TYPE": "sqlite",
        "EXECUTIONS_MODE": "regular",
        "N8N_LISTEN_ADDRESS": "127.0.0.1",
        "N8N_PORT": str(port),
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/",
        "N8N_RUNNERS_MODE": "internal",
        "N8N_RUNNERS_BROKER_PORT": str(free_port()),
        "N8N_DIAGNOSTICS_ENABLED": "false",
        "N8N_PERSONALIZATION_ENABLED": "false",
        "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
        "N8N_TEMPLATES_ENABLED": "false",
        "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "true",
        "N8N_LOG_LEVEL": "warn",
    }


class N8n:
    """A running n8n as the benchmark's client sees it (a `bench.e2e.Target`)."""

    name = "n8n"
    light_executions = 1

    def __init__(self, base: str, service: Service, user_folder: Path) -> None:
        self.base, self.service, self.user_folder = base, service, user_folder

    async def open(self) -> None:
        self.client = client_session(self.base)

    async def close(self) -> None:
        await self.client.close()

    async def light(self) -> dict[str, float]:
        """The 40-node chain through its webhook, answered when the last node finished."""
        started = time.perf_counter()
        await self.fire(LIGHT_PATH)
        return {"webhook_s": time.perf_counter() - started}

    async def fire(self, path: str = PAIR_PATH) -> None:
        async with self.client.post(f"/webhook/{path}", json={}) as response:
            if response.status != 200:  # a failed execution answers 500
                raise RuntimeError(f"n8n webhook {path}: {response.status} {(await response.text())[:200]}")
            await response.read()

    def stop(self) -> None:
        self.service.stop()
        logs = ROOT / "var" / "bench"
        logs.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.service.log, logs / "n8n.log")
        shutil.rmtree(self.user_folder, ignore_errors=True)


def start() -> N8n:
    """Install if needed, then a fresh n8n with the benchmark's workflows published, serving."""
    folder = home()
    install(folder)
    user_folder = Path(tempfile.mkdtemp(prefix="run-", dir=folder))
    port = free_port()
    env = environment(user_folder, port)
    workflows = user_folder / "workflows"
    workflows.mkdir()
    light = light_workflow(LIGHT_PATH)
    pair = pair_workflow(PAIR_PATH, os.environ.get("BENCH_N8N_PAIR", "lastnode"))
    for name, workflow in (("light", light), ("pair", pair)):
        (workflows / f"{name}.json").write_text(json.dumps(workflow, indent=1))
    commands = [["import:workflow", "--separate", f"--input={workflows}"]]
    commands += [["publish:workflow", f"--id={workflow['id']}"] for workflow in (light, pair)]
    for command in commands:
        done = subprocess.run(["node", cli(folder), *command], cwd=user_folder, env=env, capture_output=True, text=True)
        if done.returncode != 0 or "GOT ERROR" in done.stdout + done.stderr:
            raise RuntimeError(f"n8n {command[0]} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    base = f"http://127.0.0.1:{port}"
    service = Service("n8n", ["node", str(cli(folder)), "start"], env, user_folder, user_folder / "n8n.log")
    try:
        service.wait_ready(f"{base}/healthz/readiness")
        rival = N8n(base, service, user_folder)
        deadline = time.monotonic() + 60
        while httpx.post(f"{base}/webhook/{PAIR_PATH}", json={}, timeout=30).status_code != 200:
            if time.monotonic() > deadline:  # the workflows are activated after the server answers
                raise RuntimeError(f"n8n's webhooks did not answer; see {service.log}")
            time.sleep(0.5)
    except BaseException:
        service.stop()
        raise
    return rival
