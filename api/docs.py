"""One OpenAPI schema and Swagger/Redoc page per dialect, served offline, and an index page."""

from functools import lru_cache
from pathlib import Path
from typing import Any

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

DOCUMENTED = {
    "flowrunner": ("FlowRunner", "api.flowrunner.urls"),
    "workflowdev": ("workflowdev", "api.workflowdev.urls"),
    "workflowsvc": ("workflowsvc", "api.workflowsvc.schema_urls"),
    "activeworkflow": ("ActiveWorkflow", "api.activeworkflow.urls"),
    "connector": ("Connector proxy", "api.connector_proxy.schema_urls"),
}


def index(request: HttpRequest) -> HttpResponse:
    dialects = [{"slug": slug, "title": title} for slug, (title, _) in DOCUMENTED.items()]
    return render(request, "api/index.html", {"dialects": dialects})


def home(request: HttpRequest) -> HttpResponse:
    """The landing page at `/` (and the console's "View site"): the console, the docs, health."""
    dialects = [{"slug": slug, "title": title} for slug, (title, _) in DOCUMENTED.items()]
    return render(request, "home.html", {"dialects": dialects})


REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
#: The one file Redoc's bundle loads from the network: the logo beside "API docs by Redocly".
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
FAVICON = "millrace/favicon.svg"


@lru_cache(maxsize=1)
def _redoc_bundle() -> bytes:
    source = Path(finders.find(REDOC_BUNDLE)).read_text(encoding="utf-8")
    return source.replace(REDOCLY_LOGO, static(FAVICON)).encode()


def redoc_bundle(request: HttpRequest) -> HttpResponse:
    """The sidecar's Redoc bundle with its attribution logo served from here, not Redocly's CDN:
    the docs load nothing from another origin (and the CSP would refuse it)."""
    response = HttpResponse(_redoc_bundle(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response


#: Errors every operation of a kind can answer, whatever its view declares: the platform's
#: own layers produce them (authentication, the JSON parser, the body-size cap, lookups).
COMMON_ERRORS = {
    401: "No credential, or one that is invalid, expired or revoked",
    400: "A malformed request body (not JSON, or not the JSON the operation takes)",
    404: "No such object, or one of a namespace the caller cannot read",
    413: "The request body is larger than MILLRACE_MAX_BODY_BYTES",
}


def document_common_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: add the COMMON_ERRORS an operation can produce to its responses.

    401 when the operation needs a credential (or checks one: the log-in paths), 400 and 413
    when it takes a body, 404 when its path names an object. Statuses a view declares itself
    are kept as declared.
    """
    for route, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            security = operation.get("security")
            anonymous = not security or {} in security  # absent or empty: the operation is open
            parameters = operation.get("parameters", [])
            body = "requestBody" in operation
            wanted = set()
            if not anonymous or route.endswith("/auth/login"):
                wanted.add(401)
            if body:
                wanted.add(400)
            if any(p.get("in") == "path" for p in parameters):
                wanted.add(404)
            if body:
                wanted.add(413)
            responses = operation.setdefault("responses", {})
            for status in sorted(wanted):
                responses.setdefault(str(status), {"description": COMMON_ERRORS[status]})
    return result


def _dialect_patterns(slug: str, title: str, urlconf: str) -> list[URLPattern | URLResolver]:
    schema_name = f"schema-{slug}"
    settings = {
        "TITLE": f"Millrace — {title} API",
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "api.docs.document_common_errors",
            "api.schema_hooks.add_servers",
        ],
    }
    return [
        path(
            f"api/schema/{slug}/",
            SpectacularAPIView.as_view(urlconf=urlconf, custom_settings=settings),
            name=schema_name,
        ),
        # The split view serves Swagger UI's start-up script as a file (`?script`), not inline: CSP.
        path(
            f"api/docs/{slug}/",
            SpectacularSwaggerSplitView.as_view(url_name=f"docs:{schema_name}"),
            name=f"swagger-{slug}",
        ),
        path(f"api/redoc/{slug}/", SpectacularRedocView.as_view(url_name=f"docs:{schema_name}"), name=f"redoc-{slug}"),
    ]


docs_patterns = [
    path("", home, name="home"),
    path("api/docs/", index, name="index"),
    path("api/redoc/redoc.standalone.js", redoc_bundle, name="redoc-bundle"),
    # browsers ask for /favicon.ico on pages that name no icon (Redoc's, Swagger's, JSON views)
    path("favicon.ico", RedirectView.as_view(url=static(FAVICON), permanent=True), name="favicon"),
]
for _slug, (_title, _urlconf) in DOCUMENTED.items():
    docs_patterns += _dialect_patterns(_slug, _title, _urlconf)

urlpatterns = [path("", include((docs_patterns, "docs")))]
