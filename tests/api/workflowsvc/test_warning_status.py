"""workflowsvc shows a WARNING execution (an `allowFailure` step failed) as COMPLETED."""

import pytest

from executions.models import ExecutionStatus as E
from tests.api.workflowsvc.conftest import url
from tests.factories import ExecutionFactory

pytestmark = pytest.mark.django_db


def test_warning_reads_completed_and_the_completed_filter_finds_it(api, make_flow):
    flow = make_flow()
    warned = ExecutionFactory(flow=flow, status=E.WARNING)
    ExecutionFactory(flow=flow, status=E.FAILED)
    assert api.get(url(f"/{warned.pk}")).json()["_status"] == "COMPLETED"
    listed = api.get(url(_status="COMPLETED")).json()["_list"]
    assert [item["_id"] for item in listed] == [str(warned.pk)]
