"""List totals (core/counting.py): exact up to a bound, PostgreSQL's estimate beyond it."""

import pytest
from django.db import connection

from core.counting import bounded_count, planner_rows
from executions.models import Execution
from tests.factories import ExecutionFactory, FlowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def executions():
    flow = FlowFactory()
    return [ExecutionFactory(flow=flow, namespace=flow.namespace) for _ in range(6)]


def test_under_the_bound_the_total_is_exact(executions):
    assert bounded_count(Execution.objects.all(), exact_up_to=10) == 6
    assert bounded_count(Execution.objects.all(), exact_up_to=6) == 6
    assert bounded_count(Execution.objects.filter(status="RUNNING"), exact_up_to=10) == 0


def test_a_bound_of_zero_always_counts(executions):
    assert bounded_count(Execution.objects.all(), exact_up_to=0) == 6


def test_past_the_bound_the_total_is_never_below_it(executions):
    total = bounded_count(Execution.objects.all(), exact_up_to=3)
    if connection.vendor == "postgresql":
        assert total >= 4  # the planner's estimate, at least what was seen
    else:
        assert total == 6  # SQLite keeps no estimate: it counts


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate is PostgreSQL's")
def test_the_estimate_follows_the_statistics(executions):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE executions_execution")
    assert planner_rows(Execution.objects.values("pk")) == 6
    assert bounded_count(Execution.objects.all(), exact_up_to=2) == 6
