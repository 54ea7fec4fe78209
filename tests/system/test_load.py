"""A few seconds of `make load` (bench/load.py) against a real server and workers: the script
works end to end, and nothing fails under a small steady load with WebSocket subscribers."""

import asyncio
import secrets

import pytest

from accounts.roles import Role
from bench.load import MemoryWatch, Plan, drive, prepare, settle, table
from executions.models import Execution, ExecutionStatus
from tests.conftest import token_for
from tests.factories import AccountFactory

pytestmark = pytest.mark.services


def test_a_short_load_run_has_no_errors_and_reports_every_figure(live_server_process, workers, namespace):
    processes = {"server": live_server_process.process, "worker 1": workers.start(), "worker 2": workers.start()}
    actor = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    plan = Plan(seconds=3, rate=5, subscribers=10, watched=2, tick_seconds=0.5)
    key = f"load-smoke-{secrets.token_urlsafe(24)}"  # a chosen webhook key must be long and random
    watched, pair = prepare(actor, namespace, plan, key=key)
    with MemoryWatch(processes, every=1.0) as watch:
        found = asyncio.run(drive(live_server_process.url, key, token_for(actor), watched, plan))
    result = {"plan": plan.__dict__, **settle(found, watched, actor), "memory_mib": watch.report()}

    assert result["errors"] == 0, result["error_samples"]
    assert result["executions"] == 15
    assert Execution.objects.filter(flow=pair, status=ExecutionStatus.SUCCESS).count() == 15
    assert Execution.objects.filter(pk__in=watched, status=ExecutionStatus.CANCELLED).count() == 2
    assert result["executions_per_s"] > 0 and 0 < result["latency_s"]["p50"] <= result["latency_s"]["p99"]
    assert result["ws"]["subscribers"] == 10 and result["ws"]["messages"] > 0
    assert 0 < result["ws"]["p50"] <= result["ws"]["p99"]
    for name in processes:
        assert result["memory_mib"]["end"][name]["rss"] > 0 and result["memory_mib"]["end"][name]["pss"] > 0
    assert len(result["memory_mib"]["samples"]) >= 3  # sampled through the run
    assert set(result["memory_mib"]["second_half_rss_growth"]) == set(processes)
    assert "sustained executions/s" in table(result)
