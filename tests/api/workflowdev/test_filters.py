"""workflowdev's list filters (api/workflowdev/filters.py): lists, words, messages, the caller's scope."""

from executions.models import ExecutionStatus as E
from tests.api.workflowdev.conftest import API, WD, assert_error
from tests.factories import ExecutionFactory, FlowFactory


def test_statuses_and_namespaces_comma_separated_or_repeated(api, namespace, other_namespace):
    flow = FlowFactory(namespace=namespace)
    for status in (E.FAILED, E.SUCCESS, E.RUNNING):
        ExecutionFactory(flow=flow, status=status)
    ExecutionFactory(flow=FlowFactory(namespace=other_namespace), status=E.FAILED)  # not the caller's
    assert api.get(f"{WD}/executions?status=failed,success")["X-Total-Count"] == "2"
    assert api.get(f"{WD}/executions?status=FAILED&status=RUNNING&limit=1")["X-Total-Count"] == "2"
    assert api.get(f"{WD}/executions?namespace=production,elsewhere")["X-Total-Count"] == "3"
    assert api.get(f"{WD}/executions?namespace=elsewhere&namespace=")["X-Total-Count"] == "0"
    assert api.get(f"{WD}/executions?namespace=,")["X-Total-Count"] == "3"


def test_bad_values_keep_their_status_and_message(api):
    error = assert_error(api.get(f"{WD}/executions?status=done,RUNNING,nope&flowId=x"), 400, "invalid_request")
    assert error["message"].startswith("Unknown status DONE, NOPE; use QUEUED,")
    assert error["details"] == {"field": "status", "reason": "unknown status"}
    assert_error(api.get(f"{WD}/executions?flowId=not-a-uuid"), 404, "not_found")
    assert_error(api.get(f"{API}/triggers?flowId=not-a-uuid"), 404, "not_found")
    assert_error(api.get(f"{API}/approvals?executionId=not-a-uuid"), 404, "not_found")
    error = assert_error(api.get(f"{API}/approvals?status=MAYBE"), 400, "invalid_request")
    assert error["message"] == "Unknown approval status 'maybe'; use pending, approved, rejected."


def test_text_filters_match_as_given(api, namespace):
    FlowFactory(namespace=namespace, name="wf-one")
    assert len(api.get(f"{WD}/flows?q=WF-").json()) == 1  # contains, any case
    assert api.get(f"{WD}/flows?q=%20wf").json() == []  # not stripped
    assert api.get(f"{WD}/flows?namespace=production,elsewhere").json() == []  # one name, not a list
