"""ActiveWorkflow paths: /api/v1/agents, /api/v1/messages, /api/v1/workflows."""

from django.urls import path

from api.activeworkflow import views

app_name = "activeworkflow"
urlpatterns = [
    path("api/v1/agents", views.AgentListView.as_view(), name="agents"),
    path("api/v1/agents/<str:agent_id>", views.AgentDetailView.as_view(), name="agent"),
    path("api/v1/agents/<str:agent_id>/messages", views.AgentMessagesView.as_view(), name="agent-messages"),
    path("api/v1/agents/<str:agent_id>/run", views.AgentRunView.as_view(), name="agent-run"),
    path("api/v1/agents/<str:agent_id>/webhook/<str:secret>", views.AgentWebhookView.as_view(), name="agent-webhook"),
    path("api/v1/messages/<str:message_id>", views.MessageDetailView.as_view(), name="message"),
    path("api/v1/workflows", views.WorkflowListView.as_view(), name="workflows"),
    path("api/v1/workflows/import", views.WorkflowImportView.as_view(), name="workflow-import"),
    path("api/v1/workflows/<str:workflow_id>", views.WorkflowDetailView.as_view(), name="workflow"),
    path("api/v1/workflows/<str:workflow_id>/export", views.WorkflowExportView.as_view(), name="workflow-export"),
]
