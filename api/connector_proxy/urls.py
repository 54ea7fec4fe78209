"""Connector proxy endpoints."""

from django.urls import path

from api.connector_proxy.views import (
    CallbackView,
    CommandListView,
    CommandRunView,
    FlowCommandRunView,
    LivenessView,
)

app_name = "connector"
urlpatterns = [
    path("liveness", LivenessView.as_view(), name="liveness"),
    path("commands", CommandListView.as_view(), name="commands"),
    path("do/<str:plugin>/<str:command>", CommandRunView.as_view(), name="do"),
    path("do/flows/<str:namespace>/<path:name>", FlowCommandRunView.as_view(), name="do-flow"),
    path("callbacks/<str:token>", CallbackView.as_view(), name="callback"),
]
