"""One OpenAPI schema and Swagger/Redoc page per dialect, served offline, and an index page."""

from django.shortcuts import render
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

DOCUMENTED = {
    "flowrunner": ("FlowRunner", "api.flowrunner.urls"),
    "workflowdev": ("workflowdev", "api.workflowdev.urls"),
    "workflowsvc": ("workflowsvc", "api.workflowsvc.schema_urls"),
    "activeworkflow": ("ActiveWorkflow", "api.activeworkflow.urls"),
    "connector": ("Connector proxy", "api.connector_proxy.schema_urls"),
}


def index(request):
    dialects = [{"slug": slug, "title": title} for slug, (title, _) in DOCUMENTED.items()]
    return render(request, "api/index.html", {"dialects": dialects})


def _dialect_patterns(slug: str, title: str, urlconf: str) -> list[URLPattern | URLResolver]:
    schema_name = f"schema-{slug}"
    settings = {"TITLE": f"Millrace — {title} API"}
    return [
        path(
            f"api/schema/{slug}/",
            SpectacularAPIView.as_view(urlconf=urlconf, custom_settings=settings),
            name=schema_name,
        ),
        path(
            f"api/docs/{slug}/", SpectacularSwaggerView.as_view(url_name=f"docs:{schema_name}"), name=f"swagger-{slug}"
        ),
        path(f"api/redoc/{slug}/", SpectacularRedocView.as_view(url_name=f"docs:{schema_name}"), name=f"redoc-{slug}"),
    ]


docs_patterns = [path("api/docs/", index, name="index")]
for _slug, (_title, _urlconf) in DOCUMENTED.items():
    docs_patterns += _dialect_patterns(_slug, _title, _urlconf)

urlpatterns = [path("", include((docs_patterns, "docs")))]
