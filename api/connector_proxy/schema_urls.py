"""Connector proxy paths as clients see them, for its OpenAPI schema."""

from django.urls import include, path

urlpatterns = [path("v1/", include("api.connector_proxy.urls"))]
