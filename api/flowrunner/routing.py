"""FlowRunner's WebSocket route, at the root and under its prefix."""

from django.urls import re_path

from api.flowrunner.consumers import FlowRunnerExecutionConsumer

websocket_urlpatterns = [
    re_path(r"^(?:flowrunner/)?ws/executions/(?P<execution_id>[^/]+)/?$", FlowRunnerExecutionConsumer.as_asgi()),
]
