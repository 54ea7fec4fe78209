"""ASGI entry point: HTTP through Django (behind the body cap), WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

from config.startup import stop_on_setting_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
with stop_on_setting_error():  # a missing setting: one line on stderr and exit 2, no traceback
    django_asgi_app = get_asgi_application()

# Imported once Django is set up: the routing imports models.
from channels.routing import ProtocolTypeRouter, URLRouter

from api.asgi_limits import BodySizeLimit
from api.flowrunner.routing import websocket_urlpatterns as flowrunner_ws
from api.workflowdev.routing import websocket_urlpatterns as workflowdev_ws

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app),  # chunked bodies are capped before Django spools them
        "websocket": URLRouter(flowrunner_ws + workflowdev_ws),
    }
)
