"""The console's landing page: figures scoped to the caller's namespaces, the queue from django-q2."""

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.signing import SignedPackage
from django_q.status import Stat

from console.workers import queue_status
from executions.models import Execution, ExecutionStatus
from tests.admin.conftest import Tenant
from tests.factories import AgentFactory, ExecutionFactory, FlowFactory

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("admin:index")


def add_execution(tenant: Tenant, status: str, *, error: str = "", age: timedelta | None = None) -> Execution:
    execution = ExecutionFactory(flow=tenant.flow, status=status, error=error)
    if age is not None:  # created_at is auto_now_add: move it afterwards
        Execution.objects.filter(pk=execution.pk).update(created_at=timezone.now() - age)
    return execution


def dashboard(client, account):
    client.force_login(account)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    return response


def test_counts_by_status_cover_the_last_day_only(client, superuser, tenant_a, tenant_b) -> None:
    add_execution(tenant_a, ExecutionStatus.SUCCESS)
    add_execution(tenant_b, ExecutionStatus.SUCCESS)
    add_execution(tenant_a, ExecutionStatus.FAILED, error="boom")
    add_execution(tenant_a, ExecutionStatus.SUCCESS, age=timedelta(hours=30))

    board = dashboard(client, superuser).context["dashboard"]

    counts = {item.status: item.count for item in board.by_status}
    assert counts[ExecutionStatus.SUCCESS] == 2
    assert counts[ExecutionStatus.FAILED] == 1
    assert counts[ExecutionStatus.QUEUED] == 2  # the tenants' own executions, made just now
    assert set(counts) == set(ExecutionStatus.values)


def test_a_namespace_admin_sees_only_their_namespaces(client, ns_admin, tenant_a, tenant_b) -> None:
    add_execution(tenant_a, ExecutionStatus.RUNNING)
    add_execution(tenant_b, ExecutionStatus.RUNNING)
    add_execution(tenant_a, ExecutionStatus.FAILED, error="error-in-a")
    add_execution(tenant_b, ExecutionStatus.FAILED, error="error-in-b")
    AgentFactory(namespace=tenant_a.namespace, name="broken-agent-a", last_error="agent-error-in-a")
    AgentFactory(namespace=tenant_b.namespace, name="broken-agent-b", last_error="agent-error-in-b")

    response = dashboard(client, ns_admin)
    board = response.context["dashboard"]
    page = response.content.decode()

    assert {e.namespace_id for e in board.in_progress} == {tenant_a.namespace.pk}
    assert [e.error for e in board.failures] == ["error-in-a"]
    assert [row.agent.name for row in board.failing_agents] == ["broken-agent-a"]
    assert {item.status: item.count for item in board.by_status}[ExecutionStatus.RUNNING] == 1
    for leaked in ("error-in-b", "broken-agent-b", "agent-error-in-b", "space-b"):
        assert leaked not in page


def test_running_waiting_failures_and_agents_are_listed(client, superuser, tenant_a) -> None:
    running = add_execution(tenant_a, ExecutionStatus.RUNNING)
    waiting = add_execution(tenant_a, ExecutionStatus.WAITING)
    add_execution(tenant_a, ExecutionStatus.SUCCESS)
    failed = add_execution(tenant_a, ExecutionStatus.FAILED, error="Step 'fetch' failed: HTTP 503")
    AgentFactory(namespace=tenant_a.namespace, name="healthy-agent")
    AgentFactory(namespace=tenant_a.namespace, name="feed-reader", last_error="could not parse the feed")

    response = dashboard(client, superuser)
    board = response.context["dashboard"]
    page = response.content.decode()

    assert [e.pk for e in board.in_progress] == [running.pk, waiting.pk]
    assert [e.pk for e in board.failures] == [failed.pk]
    assert "Step &#x27;fetch&#x27; failed: HTTP 503" in page
    assert reverse("admin:executions_execution_change", args=[failed.pk]) in page
    assert [row.agent.name for row in board.failing_agents] == ["feed-reader"]
    assert "could not parse the feed" in page
    assert "healthy-agent" not in page
    failed_list = reverse("admin:executions_execution_changelist") + "?status__exact=FAILED"
    assert failed_list in page
    assert [row.pk for row in client.get(failed_list).context["cl"].result_list] == [failed.pk]


def test_the_queue_depth_is_the_brokers(settings) -> None:
    broker = get_broker(list_key=f"dashboard-test-{uuid.uuid4().hex}")
    try:
        assert queue_status(broker).depth == 0
        broker.enqueue(SignedPackage.dumps({"id": "t1", "func": "math.floor", "args": (1.5,)}))
        broker.enqueue(SignedPackage.dumps({"id": "t2", "func": "math.floor", "args": (2.5,)}))
        assert queue_status(broker).depth == 2
    finally:
        broker.purge_queue()


def test_live_clusters_are_listed_with_their_workers(client, superuser) -> None:
    """A cluster's sentinel saves its `Stat` through the broker; the dashboard lists what it finds."""
    broker = get_broker()
    sentinel = SimpleNamespace(
        parent_pid=None,
        pid=4242,
        cluster_id=uuid.uuid4(),
        broker=broker,
        tob=timezone.now() - timedelta(minutes=5),
        reincarnations=0,
        status=lambda: "Idle",
        monitor=None,
        pusher=None,
        pool=[SimpleNamespace(pid=1), SimpleNamespace(pid=2)],
        result_queue=SimpleNamespace(qsize=lambda: 0),
        task_queue=SimpleNamespace(qsize=lambda: 0),
    )
    stat = Stat(sentinel)
    broker.set_stat(stat.key, SignedPackage.dumps(stat, True), 60)
    try:
        board = dashboard(client, superuser).context["dashboard"]
        ours = [cluster for cluster in board.queue.clusters if cluster.cluster_id == str(sentinel.cluster_id)]
        assert len(ours) == 1
        assert ours[0].workers == 2
        assert ours[0].status == "Idle"
        assert ours[0].uptime_seconds >= 300
    finally:
        forget_stat(broker, stat.key)


def forget_stat(broker, key: str) -> None:
    if isinstance(broker, ORM):
        broker.cache.delete(key)
    else:
        broker.connection.delete(key)


def test_an_unreachable_broker_is_reported_not_raised() -> None:
    class Down:
        def queue_size(self) -> int:
            raise ConnectionError("connection refused")

    status = queue_status(Down())
    assert status.depth is None
    assert "connection refused" in status.error


def test_the_dashboard_costs_the_same_queries_for_few_and_many_rows(client, superuser, tenant_a) -> None:
    def count() -> int:
        client.force_login(superuser)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(DASHBOARD).status_code == 200
        return len(queries)

    def add(n: int) -> None:
        for status in (ExecutionStatus.RUNNING, ExecutionStatus.WAITING, ExecutionStatus.FAILED):
            for _ in range(n):
                ExecutionFactory(flow=FlowFactory(namespace=tenant_a.namespace), status=status, error="x")
        for _ in range(n):
            AgentFactory(namespace=tenant_a.namespace, last_error="x", last_run_at=timezone.now())

    add(1)
    few = count()
    add(8)
    assert count() == few
