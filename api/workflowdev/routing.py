"""workflowdev's log stream: the WebSocket twin of `GET /api/v1/executions/{id}/logs`."""

from django.urls import re_path

from api.workflowdev.consumers import WorkflowdevLogConsumer

websocket_urlpatterns = [
    re_path(r"^(?:workflowdev/)?api/v1/executions/(?P<execution_id>[^/]+)/logs/?$", WorkflowdevLogConsumer.as_asgi()),
]
