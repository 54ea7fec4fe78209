"""The benchmark's backends: a fresh database per run, on the embedded default (a SQLite file)
or on PostgreSQL + Redis (BENCH_PG, BENCH_REDIS) when they are reachable."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


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
    """Remove the database `backend_env` made for `stamp`."""
    if name == "embedded":
        for suffix in ("", "-wal", "-shm"):
            (ROOT / "var" / f"bench-{stamp}.sqlite3{suffix}").unlink(missing_ok=True)
    else:
        pg = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
        subprocess.run(
            ["psql", pg + "/postgres", "-qc", f"DROP DATABASE IF EXISTS bench_{stamp} WITH (FORCE)"], check=False
        )


def on_fresh_databases(kind: str, backends: list[str], measure: Callable[[dict[str, str]], Any]) -> dict[str, Any]:
    """`measure(env)` on each backend, each on a fresh database dropped afterwards; a backend
    whose services are unreachable is skipped, with a line on stderr."""
    found = {}
    for name in backends:
        stamp = f"{kind}_{int(time.time())}_{os.getpid()}"
        env = backend_env(name, stamp)
        if env is None:
            print(f"-- {name}: services unreachable, skipped", file=sys.stderr)
            continue
        try:
            found[name] = measure(env)
        finally:
            drop(name, stamp)
    return found
