"""The listing costs a fixed number of SQL queries, whatever the page and its size (10,000 runs)."""

import functools
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus, TaskRun
from tests.api.workflowsvc.conftest import url
from tests.factories import ExecutionFactory, MembershipFactory, NamespaceFactory, TaskRunFactory

pytestmark = pytest.mark.django_db
RUNS = 10_000


@pytest.fixture
def many_runs(seed_ns, caller, make_flow, make_account) -> None:
    """10,000 runs by several creators, every fifth with top-level and loop task runs."""
    other = NamespaceFactory(name="team-b")
    MembershipFactory(account=caller, namespace=other, role=Role.VIEWER)
    creators = [caller, make_account(Role.ADMIN), make_account(Role.EDITOR, namespace=seed_ns), None]
    flows = [make_flow(name="alpha"), make_flow(name="beta"), make_flow(name="gamma", namespace=other)]
    statuses = list(ExecutionStatus.values)
    chance = random.Random(7)
    executions = []
    for index in range(RUNS):
        flow, creator = flows[index % 3], creators[index % 4]
        executions.append(
            ExecutionFactory.build(
                flow=flow,
                source="",
                status=chance.choice(statuses),
                inputs={"n": index},
                created_by=creator,
                updated_by=creator,
            )
        )
    Execution.objects.bulk_create(executions, batch_size=1000)  # built by the factory, saved in bulk for speed
    tasks = []
    for execution in executions[::5]:
        run = functools.partial(TaskRunFactory.build, execution=execution)
        tasks.append(run(step_id="a", name="a", plugin_type="REST_CONNECTOR", sequence=1))
        tasks.append(run(step_id="l", name="l", plugin_type="flow.forEach", sequence=2))
        tasks.append(run(step_id="c", name="c", plugin_type="util.echo", sequence=3, loop_index=0))
    TaskRun.objects.bulk_create(tasks, batch_size=1000)


def queries_for(api, **query: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url(**query))
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), response.json()


def test_query_count_is_the_same_for_any_page_and_page_size(api, many_runs):
    both = "first_tchgt1VU,team-b"
    first, body = queries_for(api, nsfilter=both, _pageSize="10", _offset="0")
    assert body["_total"] == RUNS and len(body["_list"]) == 10
    assert any(item["_tasks"] for item in body["_list"])
    assert {item["_userType"] for item in body["_list"]} >= {"executor", "admin", None}

    page_50, body = queries_for(api, nsfilter=both, _pageSize="10", _offset="490")
    assert len(body["_list"]) == 10
    big, body = queries_for(api, nsfilter=both, _pageSize="100")
    assert len(body["_list"]) == 100
    assert all(len(item["_tasks"]) in (0, 2) for item in body["_list"])  # loop tasks are not listed
    assert first == page_50 == big
    assert first <= 10  # with the namespaces named by nsfilter read first, and the page's by a prefetch

    sort = '{"_updatedAt":-1,"_name":1}'
    filtered, body = queries_for(api, nsfilter=both, _pageSize="100", _status="RUNNING", _name="alp", sort=sort)
    assert filtered == first
    assert body["_total"] and all(item["_name"] == "alpha" for item in body["_list"])
    assert all(item["_status"] == "RUNNING" for item in body["_list"])
