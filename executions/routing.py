"""WebSocket routes: FlowRunner's execution stream and workflowdev's log stream, at the root
and under each dialect's prefix (DIALECTS.md, "Mounting")."""

from django.urls import re_path

from executions.consumers import FlowRunnerExecutionConsumer, WorkflowdevLogConsumer

_ID = r"(?P<execution_id>[^/]+)"

websocket_urlpatterns = [
    re_path(rf"^(?:flowrunner/)?ws/executions/{_ID}/?$", FlowRunnerExecutionConsumer.as_asgi()),
    re_path(rf"^(?:workflowdev/)?api/v1/executions/{_ID}/logs/?$", WorkflowdevLogConsumer.as_asgi()),
]
