"""Run the three scenarios against whatever database and broker the environment selects.

Started by `bench/__main__.py` in a process whose environment picks the backend, while
real `manage.py worker` processes run the steps. Prints one JSON object on stdout.
"""

import json
import os
import statistics
import sys
import time

import django
from django.utils import timezone

from bench.flows import light_flow, long_flow, pair_flow


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


def calibrate_fibo(target_seconds: float = 0.3) -> int:
    """The n whose naive recursive fibonacci takes closest to `target_seconds` here."""
    # the plugin library loads once Django is set up (`setup()` in main)
    from connectors.plugins.util import fibonacci_recursive

    timings = {}
    for n in range(24, 36):
        started = time.perf_counter()
        fibonacci_recursive(n)
        timings[n] = time.perf_counter() - started
        if timings[n] > target_seconds * 2:
            break
    return min(timings, key=lambda n: abs(timings[n] - target_seconds))


def wait_all(ids: list, timeout: float) -> float:
    """Poll until every execution is terminal; returns the monotonic time it happened."""
    # models import once Django is set up (`setup()` in main)
    from executions.models import TERMINAL_EXECUTION_STATUSES, Execution

    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} executions did not finish")
        done = set(
            Execution.objects.filter(pk__in=pending, status__in=TERMINAL_EXECUTION_STATUSES).values_list(
                "pk", flat=True
            )
        )
        pending -= done
        if pending:
            time.sleep(0.005 if len(pending) == 1 else 0.02)
    return time.monotonic()


def wait_flow(flow_id: object, since: object, count: int, timeout: float) -> float:
    """Poll until `count` executions of the flow created since `since` are terminal; returns the
    monotonic time it happened. One small count per poll: a list of hundreds of ids per poll
    would take the CPU the workers are being measured on."""
    # models import once Django is set up (`setup()` in main)
    from executions.models import TERMINAL_EXECUTION_STATUSES, Execution

    deadline = time.monotonic() + timeout
    ended = Execution.objects.filter(flow_id=flow_id, created_at__gte=since, status__in=TERMINAL_EXECUTION_STATUSES)
    while ended.count() < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count - ended.count()} executions did not finish")
        time.sleep(0.02)
    return time.monotonic()


def main() -> None:
    setup()
    # models import only now that Django is set up on the database the environment picked
    from accounts.models import Account, Namespace
    from executions.models import Execution
    from executions.services import execution_start
    from flows.models import Flow
    from flows.services import flow_create, flow_update

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    throughput_count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    namespace, _ = Namespace.objects.get_or_create(name="bench")
    actor = Account.objects.filter(username="bench").first()
    if actor is None:
        actor = Account.objects.create(username="bench", role="admin", default_namespace=namespace, is_staff=True)

    def flow_for(source: str) -> Flow:
        name = source.split("\n", 1)[0].split(": ", 1)[1]
        existing = Flow.objects.filter(namespace=namespace, name=name).first()
        if existing:
            return flow_update(actor=actor, flow=existing, source=source)
        return flow_create(actor=actor, namespace=namespace, source=source)

    def one(flow: Flow) -> tuple[float, Execution]:
        started = time.monotonic()
        execution = execution_start(actor=actor, flow=flow)
        ended = wait_all([execution.pk], 120)
        execution.refresh_from_db()
        if execution.status != "SUCCESS":
            raise RuntimeError(f"{flow.name} ended {execution.status}: {execution.error}")
        return ended - started, execution

    results: dict = {}
    light = flow_for(light_flow())
    for _ in range(3):  # warm every worker process (imports, caches, connections)
        one(light)
    light_times = [one(light)[0] for _ in range(runs)]
    results["light"] = {
        "median_s": statistics.median(light_times),
        "runs_s": light_times,
        "per_step_ms": statistics.median(light_times) / 40 * 1000,
    }

    n = calibrate_fibo()
    long = flow_for(long_flow(n))
    long_times = [one(long)[0] for _ in range(runs)]
    results["long"] = {"median_s": statistics.median(long_times), "runs_s": long_times, "fibo_n": n}

    pair = flow_for(pair_flow())
    one(pair)
    rates = []
    for _ in range(runs):
        since, started = timezone.now(), time.monotonic()
        for _ in range(throughput_count):
            execution_start(actor=actor, flow=pair)
        ended = wait_flow(pair.pk, since, throughput_count, 600)
        succeeded = Execution.objects.filter(flow=pair, created_at__gte=since, status="SUCCESS").count()
        if succeeded != throughput_count:
            raise RuntimeError(f"{throughput_count - succeeded} throughput executions did not succeed")
        rates.append(throughput_count / (ended - started))
    results["throughput"] = {
        "median_per_s": statistics.median(rates),
        "runs_per_s": rates,
        "executions": throughput_count,
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
