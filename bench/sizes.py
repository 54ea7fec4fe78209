"""Cost with size (`BENCH_KINDS=sizes`): the list endpoints of every dialect at 1,000 and at
1,000,000 executions, and a 400-step flow against a 40-step one.

Per backend, on a fresh database, `manage.py serve` (as `make run` serves). One real execution
of a two-task flow is the template: a bulk SQL insert copies it (new ids, `created_at` spread
over the past) until the table holds BENCH_SIZES executions (`1000,1000000`), and copies as
many agent messages for ActiveWorkflow's lists (its messages list returns every message unless
given `limit`, as its reference says: the benchmark asks for 50). At each size, every list
below is requested BENCH_SIZE_REQUESTS times (after two warm-up requests) and the median kept.
Then the 40- and 400-step flows run BENCH_RUNS times each (run → the WebSocket's terminal
message).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
import statistics
import time
from typing import Any
from urllib.parse import quote

import psycopg

from bench.e2e import Millrace, millrace_serve
from bench.flows import light_flow, pair_flow

#: name -> path; `{flow}`, `{flow_name}` and `{agent}` are filled in.
LISTS = {
    "flowrunner executions": "/flowrunner/api/v1/executions",
    "flowrunner executions of a flow": "/flowrunner/api/v1/executions?flow_id={flow}&status=completed",
    "workflowdev executions": "/workflowdev/api/v1/executions",
    "workflowdev executions of a flow": "/workflowdev/api/v1/executions?namespace=default&flowId={flow}&status=SUCCESS",
    "workflowsvc workflows": "/workflowsvc/api/v1/workflows?nsfilter=default",
    "workflowsvc workflows, sorted": "/workflowsvc/api/v1/workflows?nsfilter=default&sort="
    + quote('{"_updatedAt":-1}'),
    "activeworkflow messages": "/api/v1/agents/{agent}/messages?limit=50",
    "activeworkflow agents": "/api/v1/agents",
}
TIMED = ("created_at", "started_at", "finished_at", "updated_at")


def sizes_from_env() -> list[int]:
    return sorted(int(size) for size in os.environ.get("BENCH_SIZES", "1000,1000000").split(","))


class Table:
    """Bulk copies of one row, in batches, on SQLite or PostgreSQL (the database `env` names)."""

    BATCH = 100_000

    def __init__(self, env: dict[str, str]) -> None:
        url = env.get("DATABASE_URL")
        self.postgres = bool(url)
        self.connection: Any = (
            psycopg.connect(url, autocommit=True) if url else sqlite3.connect(env["MILLRACE_SQLITE_PATH"])
        )

    def columns(self, table: str) -> list[str]:
        if self.postgres:
            rows = self.connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            return [row[0] for row in rows]
        return [row[1] for row in self.connection.execute(f"PRAGMA table_info({table})")]

    def count(self, table: str) -> int:
        return self.connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def copy(self, table: str, key: str, template: Any, count: int, fresh: dict[str, str]) -> None:
        """`count` copies of the row whose `key` is `template`; `fresh` gives new columns' SQL
        (`n` is the copy's number); the TIMED columns move back `n` seconds."""
        columns = [column for column in self.columns(table) if column != key or key in fresh]
        placeholder = "%s" if self.postgres else "?"
        done = 0
        while done < count:
            size = min(self.BATCH, count - done)
            select = ", ".join(fresh.get(column) or self._timed(column) or f"t.{column}" for column in columns)
            if self.postgres:
                series = f"generate_series({done + 1}, {done + size}) AS s(n)"
                sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {table} t, {series}"
                sql += f" WHERE t.{key} = {placeholder}"
            else:
                sql = (
                    f"WITH RECURSIVE s(n) AS (SELECT {done + 1} UNION ALL SELECT n + 1 FROM s WHERE n < {done + size}) "
                    f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {table} t, s WHERE t.{key} = ?"
                )
            self.connection.execute(sql, (template,))
            self.connection.commit()
            done += size

    def _timed(self, column: str) -> str | None:
        if column not in TIMED:
            return None
        if self.postgres:
            return f"t.{column} - make_interval(secs => s.n)"
        return f"strftime('%Y-%m-%d %H:%M:%f', t.{column}, '-' || s.n || ' seconds')"  # NULL stays NULL

    def new_uuid(self) -> str:
        """SQL for a fresh UUID as Django stores it (SQLite: 32 hex digits)."""
        return "gen_random_uuid()" if self.postgres else "lower(hex(randomblob(16)))"

    def add_message(self, agent: str) -> int:
        """A message of `agent` (its id as the API gives it), the template of the copies; returns its id."""
        placeholder = "%s" if self.postgres else "?"
        sql = (
            "INSERT INTO executions_message (uuid, agent_id, payload, depth, created_at) "
            f"VALUES ({self.new_uuid()}, {placeholder}, '{{\"n\": 1}}', 0, CURRENT_TIMESTAMP)"
        )
        self.connection.execute(sql, (agent if self.postgres else agent.replace("-", ""),))
        self.connection.commit()
        return self.connection.execute("SELECT max(id) FROM executions_message").fetchone()[0]

    def recount_messages(self) -> None:
        """The agents' message counters, which the copies (behind the runtime's back) left behind."""
        self.connection.execute(
            "UPDATE flows_agent SET messages_count = "
            "(SELECT count(*) FROM executions_message m WHERE m.agent_id = flows_agent.id)"
        )
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()


async def timed_get(millrace: Millrace, path: str, requests: int) -> float:
    for _ in range(2):
        await millrace.call("GET", path)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        await millrace.call("GET", path)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(base: str, service: Any, password: str, env: dict[str, str]) -> dict[str, Any]:
    requests = int(os.environ.get("BENCH_SIZE_REQUESTS", "20"))
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    millrace = Millrace(base, service, password, 40)
    await millrace.open()
    try:
        pair = await millrace.call(
            "POST", "/api/v1/flows", 201, json={"name": "bench-sizes", "definition": pair_flow()}
        )
        started = await millrace.call("POST", f"/api/v1/flows/{pair['id']}/run", 201, json={"input": {}})
        template = started["execution_id"]
        while (await millrace.call("GET", f"/flowrunner/api/v1/executions/{template}"))["status"] != "completed":
            await asyncio.sleep(0.1)
        agent = await millrace.call(
            "POST", "/api/v1/agents", 201, json={"name": "bench-sizes", "type": "Agents::ManualEventAgent"}
        )
        agent_id = agent["id"]
        table = Table(env)
        try:
            message = table.add_message(agent_id)
            key = template if table.postgres else template.replace("-", "")
            found: dict[str, Any] = {"lists": {}}
            for size in sizes_from_env():
                missing = size - table.count("executions_execution")
                table.copy("executions_execution", "id", key, missing, {"id": table.new_uuid()})
                missing = size - table.count("executions_message")
                table.copy("executions_message", "id", message, missing, {"uuid": table.new_uuid()})
                table.recount_messages()
                if table.postgres:
                    table.connection.execute("VACUUM ANALYZE executions_execution")
                    table.connection.execute("VACUUM ANALYZE executions_message")
                else:
                    table.connection.execute("ANALYZE")
                table.connection.commit()
                filled = {"flow": pair["id"], "agent": agent_id}
                found["lists"][size] = {
                    name: await timed_get(millrace, path.format(**filled), requests) for name, path in LISTS.items()
                }
        finally:
            table.close()
        found["steps"] = await steps(millrace, runs)
        return found
    finally:
        await millrace.close()


async def steps(millrace: Millrace, runs: int) -> dict[str, float]:
    """Median run → terminal message of the 40- and 400-step flows, alternating."""
    figures: dict[int, list[float]] = {40: [], 400: []}
    flows = {}
    for count in figures:
        body = {"name": f"bench-steps-{count}", "definition": light_flow(count).replace("bench-light", f"s{count}")}
        flows[count] = (await millrace.call("POST", "/api/v1/flows", 201, json=body))["id"]
    for _ in range(runs + 1):  # the first round warms up
        for count, flow in flows.items():
            millrace.light_flow = flow
            figures[count].append((await millrace.light())["terminal_s"])
    return {f"{count}_steps_s": statistics.median(values[1:]) for count, values in figures.items()}


def measure_backend(env: dict[str, str]) -> dict[str, Any]:
    password = secrets.token_urlsafe(16)
    service, base = millrace_serve(env | {"MILLRACE_ADMIN_PASSWORD": password})
    try:
        return asyncio.run(measure(base, service, password, env))
    finally:
        service.stop()


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = []
    for backend, data in results.items():
        sizes = sorted(data["lists"], key=int)
        head = f"{backend + ', list request (median)':<40}" + "".join(f"{int(s):>12,}" for s in sizes) + "       ratio"
        lines.append(head)
        for name in LISTS:
            values = [data["lists"][size][name] for size in sizes]
            ratio = values[-1] / values[0] if values[0] else float("nan")
            lines.append(f"{name:<40}" + "".join(f"{v * 1000:>9.1f} ms" for v in values) + f"{ratio:>12.2f}")
        forty, four_hundred = data["steps"]["40_steps_s"], data["steps"]["400_steps_s"]
        lines.append(
            f"{'40 / 400 steps, run -> WebSocket end':<40}{forty:>10.3f} s{four_hundred:>10.3f} s"
            f"{four_hundred / forty:>12.2f}"
        )
    return "\n".join(lines)
