"""`make bench`: the engine's three scenarios and the public API's on the embedded default and on
PostgreSQL + Redis.

Engine: each backend gets a fresh database, a real `manage.py worker` (django-q2 cluster with
MILLRACE_WORKERS worker processes, default 2) and the scenario runner in its own process.
API (bench/e2e.py): another fresh database, `manage.py serve` and an HTTP/WebSocket client;
with BENCH_N8N=1 alternating with n8n 2.8.4 (bench/n8n/).
Results: tables on stdout and `bench/results/latest.json`. Not a test: nothing asserts a time.

Environment: BENCH_RUNS (default 5), BENCH_THROUGHPUT (default 500), BENCH_BACKENDS
(`embedded,services`), BENCH_KINDS (`engine,e2e`), BENCH_PG (default
postgres://postgres@127.0.0.1:5432), BENCH_REDIS (default redis://127.0.0.1:6379/14), and those
of bench/e2e.py and bench/n8n/.
"""

import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from bench import e2e, n8n

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"


def reachable(url: str, port: int) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or port), timeout=2).close()
        return True
    except OSError:
        return False


def backend_env(name: str, stamp: str) -> dict[str, str] | None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LOG_LEVEL": "WARNING",
            "MILLRACE_QUEUE_NAME": f"bench-{stamp}",
            "MILLRACE_WORKERS": env.get("MILLRACE_WORKERS", "2"),
        }
    )
    if name == "embedded":
        path = ROOT / "var" / f"bench-{stamp}.sqlite3"
        env["MILLRACE_SQLITE_PATH"] = str(path)
        return env
    pg = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    redis = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
    if not (reachable(pg, 5432) and reachable(redis, 6379)):
        return None
    subprocess.run(["psql", pg + "/postgres", "-qc", f"CREATE DATABASE bench_{stamp}"], check=True)
    env.update(
        {
            "DATABASE_URL": f"{pg}/bench_{stamp}",
            "REDIS_URL": redis,
            "SECRET_KEY": "bench-only",
            "MILLRACE_CREDENTIALS_KEY": "YmVuY2gtb25seS1jcmVkZW50aWFscy1rZXktMzJieXQ=",  # bench-only, 32 bytes
        }
    )
    return env


def drop(name: str, stamp: str) -> None:
    if name == "embedded":
        for suffix in ("", "-wal", "-shm"):
            (ROOT / "var" / f"bench-{stamp}.sqlite3{suffix}").unlink(missing_ok=True)
    else:
        pg = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
        subprocess.run(
            ["psql", pg + "/postgres", "-qc", f"DROP DATABASE IF EXISTS bench_{stamp} WITH (FORCE)"], check=False
        )


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
    found = {}
    try:
        for name in backends:
            stamp = f"e2e_{int(time.time())}_{os.getpid()}"
            env = backend_env(name, stamp)
            if env is None:
                print(f"-- {name}: services unreachable, skipped", file=sys.stderr)
                continue
            try:
                found[name] = e2e.measure_backend(env, plan, rival)
            finally:
                drop(name, stamp)
    finally:
        if rival is not None:
            rival.stop()
    return found


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
    print(f"(median of {runs} runs; written to {RESULTS.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
