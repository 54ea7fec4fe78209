"""Connector proxy paths, mounted at /v1/."""

from django.urls import path

from api.connector_proxy.views import LivenessView

app_name = "connector"
urlpatterns = [
    path("liveness", LivenessView.as_view(), name="liveness"),
]
