"""workflowsvc paths, mounted at /workflowsvc/api/v1/.

The seed prints the status path without a slash (`workflows{id}/status`); the slashed
form is served, as DIALECTS.md settles.
"""

from django.urls import path

from api.workflowsvc.views import WorkflowDetailView, WorkflowListView, WorkflowStatusView

app_name = "workflowsvc"
urlpatterns = [
    path("workflows", WorkflowListView.as_view(), name="workflows"),
    path("workflows/<str:workflow_id>", WorkflowDetailView.as_view(), name="workflow"),
    path("workflows/<str:workflow_id>/status", WorkflowStatusView.as_view(), name="workflow-status"),
]
