"""A RunFlow execution that ended WARNING (an `allowFailure` step failed) answers its outputs."""

import pytest

from api.connector_proxy.run_flow import flow_result
from executions.models import ExecutionStatus as E
from tests.factories import ExecutionFactory

pytestmark = pytest.mark.django_db


def test_a_warning_execution_is_a_success_for_the_caller():
    result = flow_result(ExecutionFactory(status=E.WARNING, outputs={"answer": 42}))
    assert (result.body, result.http_status, result.error) == ({"answer": 42}, 200, None)
