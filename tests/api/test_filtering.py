"""The dialects' list filters are django-filter FilterSets: declared next to each dialect's views,
documented in its schema, refused in its own error shape, and never wider than the selector."""

import pytest
from django.http import QueryDict
from django_filters import FilterSet

from api.activeworkflow import views as activeworkflow
from api.filtering import DialectFilterBackend, FilteredListMixin
from api.flowrunner.views import accounts as fr_accounts
from api.flowrunner.views import executions as fr_executions
from api.flowrunner.views import flows as fr_flows
from api.workflowdev.filters import ExecutionFilterSet
from api.workflowdev.views import catalog, ops, triggers
from api.workflowdev.views import executions as wd_executions
from api.workflowdev.views import flows as wd_flows
from core.errors import BadRequest
from executions.models import Execution, ExecutionStatus

#: (view, its dialect's filter parameters, schema slug, schema path)
LISTS = [
    (fr_executions.ExecutionListView, {"flow_id", "status", "labels"}, "flowrunner", "/api/v1/executions"),
    (fr_flows.FlowListView, {"tag"}, "flowrunner", "/api/v1/flows"),
    (fr_accounts.AccountViewSet, {"role"}, "flowrunner", "/api/v1/accounts"),
    (wd_executions.ExecutionListView, {"namespace", "flowId", "status", "labels"}, "workflowdev", "/api/v1/executions"),
    (wd_executions.ApprovalListView, {"executionId", "status"}, "workflowdev", "/api/v1/approvals"),
    (wd_flows.FlowListView, {"namespace", "q"}, "workflowdev", "/api/v1/flows"),
    (triggers.TriggerListView, {"flowId", "type"}, "workflowdev", "/api/v1/triggers"),
    (catalog.CredentialListView, {"namespace"}, "workflowdev", "/api/v1/credentials"),
    (ops.AuditViewSet, {"namespace", "actor", "action"}, "workflowdev", "/api/v1/audit"),
    (activeworkflow.AgentMessagesView, {"after"}, "activeworkflow", "/api/v1/agents/{agent_id}/messages"),
]


@pytest.mark.parametrize(("view", "names", "slug", "path"), LISTS)
def test_each_list_view_filters_with_a_filterset_of_its_dialects_parameters(view, names, slug, path) -> None:
    assert issubclass(view.filterset_class, FilterSet)
    assert set(view.filterset_class.base_filters) == names
    assert list(view.filter_backends) == [DialectFilterBackend]
    assert view.filterset_class.__module__ == view.__module__.split(".views")[0] + ".filters"


@pytest.mark.django_db
@pytest.mark.parametrize(("view", "names", "slug", "path"), LISTS)
def test_the_schema_documents_each_filter(client, view, names, slug, path) -> None:
    schema = client.get(f"/api/schema/{slug}/", HTTP_ACCEPT="application/json").json()
    documented = {p["name"] for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}
    assert names <= documented


def test_an_invalid_value_is_the_dialects_bad_request_not_django_filters_body() -> None:
    class View(FilteredListMixin):
        filterset_class = ExecutionFilterSet

    view = View()
    view.request = type("R", (), {"query_params": QueryDict("status=DONE,nope")})()
    with pytest.raises(BadRequest) as refused:
        view.filter_queryset(Execution.objects.none())
    assert refused.value.message == f"Unknown status DONE, NOPE; use {', '.join(ExecutionStatus.values)}."
    assert refused.value.details == {"field": "status", "reason": "unknown status"}
