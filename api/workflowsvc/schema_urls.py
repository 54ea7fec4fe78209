"""workflowsvc paths as clients see them, for its OpenAPI schema."""

from django.urls import include, path

urlpatterns = [path("workflowsvc/api/v1/", include("api.workflowsvc.urls"))]
