"""ASGI entry point: HTTP through Django (behind the body cap), WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from api.asgi_limits import BodySizeLimit  # noqa: E402
from api.flowrunner.routing import websocket_urlpatterns as flowrunner_ws  # noqa: E402
from api.workflowdev.routing import websocket_urlpatterns as workflowdev_ws  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app),  # chunked bodies are capped before Django spools them
        "websocket": URLRouter(flowrunner_ws + workflowdev_ws),
    }
)
