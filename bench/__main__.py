"""`make bench`: the engine's three scenarios and the public API's on the embedded default and on
PostgreSQL + Redis.

Engine: each backend gets a fresh database, a real `manage.py worker` (django-q2 cluster with
MILLRACE_WORKERS worker processes, default 2) and the scenario runner in its own process.
API (bench/e2e.py): another fresh database, `manage.py serve` and an HTTP/WebSocket client;
with BENCH_N8N=1 alternating with n8n 2.8.4 (bench/n8n/). Sizes (bench/sizes.py, only when
BENCH_KINDS names `sizes`): list requests at 1,000 and 1,000,000 executions, 40 and 400 steps.
Results: tables on stdout and `bench/results/latest.json`. Not a test: nothing asserts a time.

Environment: BENCH_RUNS (default 5), BENCH_THROUGHPUT (default 500), BENCH_BACKENDS
(`embedded,services`), BENCH_KINDS (`engine,e2e`; `sizes` too on request), BENCH_PG (default
postgres://postgres@127.0.0.1:5432), BENCH_REDIS (default redis://127.0.0.1:6379/14), and those
of bench/e2e.py, bench/sizes.py and bench/n8n/.
"""

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench import e2e, n8n, sizes
from bench.backends import backend_env, drop, on_fresh_databases

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"


def run_backend(name: str, runs: int, count: int) -> dict | None:
    stamp = f"{int(time.time())}_{os.getpid()}"
    env = backend_env(name, stamp)
    if env is None:
        print(f"-- {name}: services unreachable, skipped", file=sys.stderr)
        return None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3)  # let the cluster fork its workers
            out = subprocess.run(
                [sys.executable, "-m", "bench.scenarios", str(runs), str(count)],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        drop(name, stamp)


def run_e2e(backends: list[str], plan: e2e.Plan) -> dict:
    """The public API's scenarios, each backend on a fresh database of its own; alternating with
    n8n when BENCH_N8N=1 (never under CI: it installs n8n and takes minutes)."""
    rival = None
    if os.environ.get("BENCH_N8N") == "1":
        if os.environ.get("CI", "").lower() in ("1", "true"):
            print("-- n8n: not compared under CI", file=sys.stderr)
        else:
            rival = n8n.start()
    try:
        return on_fresh_databases("e2e", backends, lambda env: e2e.measure_backend(env, plan, rival))
    finally:
        if rival is not None:
            rival.stop()


def run_sizes(backends: list[str]) -> dict:
    """Cost with size (bench/sizes.py), each backend on a fresh database of its own."""
    return on_fresh_databases("sizes", backends, sizes.measure_backend)


def main() -> None:
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    count = int(os.environ.get("BENCH_THROUGHPUT", "500"))
    backends = os.environ.get("BENCH_BACKENDS", "embedded,services").split(",")
    kinds = os.environ.get("BENCH_KINDS", "engine,e2e").split(",")
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "runs": runs, "backends": {}}
    for name in backends if "engine" in kinds else []:
        data = run_backend(name, runs, count)
        if data is not None:
            results["backends"][name] = data
    results["e2e"] = run_e2e(backends, e2e.Plan.from_env()) if "e2e" in kinds else {}
    results["sizes"] = run_sizes(backends) if "sizes" in kinds else {}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    if results["backends"]:
        print(f"{'backend':<10} {'light 40 steps':>16} {'per step':>10} {'long 10 steps':>15} {'2-task exec/s':>15}")
    for name, data in results["backends"].items():
        print(
            f"{name:<10} {data['light']['median_s']:>15.3f}s {data['light']['per_step_ms']:>8.2f}ms "
            f"{data['long']['median_s']:>14.3f}s {data['throughput']['median_per_s']:>15.1f}"
        )
    if results["e2e"]:
        print(e2e.table(results["e2e"]))
    if results["sizes"]:
        print(sizes.table(results["sizes"]))
    print(f"(median of {runs} runs; written to {RESULTS.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
