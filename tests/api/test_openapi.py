"""The OpenAPI schemas a user fetches: valid documents whose "Try it out" reaches the API, with
real operation descriptions, generated without drf-spectacular warnings."""

import importlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import clear_url_caches, resolve
from drf_spectacular.drainage import GENERATOR_STATS
from openapi_spec_validator import validate
from rest_framework.test import APIClient

import config.urls
from api.docs import DOCUMENTED
from api.routing import dialect_for_path

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


def _schema(slug: str) -> dict[str, Any]:
    response = APIClient().get(f"/api/schema/{slug}/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _view_of(match: Any) -> tuple[Any, Any]:
    return getattr(match.func, "cls", match.func), getattr(match.func, "actions", None)


@pytest.mark.parametrize("slug", sorted(DOCUMENTED))
def test_each_schema_is_a_valid_openapi_document(slug: str) -> None:
    validate(_schema(slug))  # raises with the first violation, e.g. a default its own schema refuses


@pytest.fixture(params=["flowrunner", "workflowdev"])
def root(request: pytest.FixtureRequest, settings) -> Iterator[str]:
    """MILLRACE_ROOT_DIALECT, with the URL conf rebuilt for it (it is read when the URL conf loads)."""
    configured = settings.MILLRACE_ROOT_DIALECT
    settings.MILLRACE_ROOT_DIALECT = request.param
    importlib.reload(config.urls)
    clear_url_caches()
    yield request.param
    settings.MILLRACE_ROOT_DIALECT = configured
    importlib.reload(config.urls)
    clear_url_caches()


@pytest.mark.parametrize("slug", sorted(DOCUMENTED))
def test_server_url_and_path_reach_the_documented_view(slug: str, root: str) -> None:
    schema = _schema(slug)
    server = schema["servers"][0]["url"]
    # FlowRunner and workflowdev: the root when they own it, else their prefix; the others: as written
    assert server == (f"/{slug}" if slug in ("flowrunner", "workflowdev") and slug != root else "/")
    for path, _method, _operation in _operations(schema):
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        url = server.rstrip("/") + concrete
        served, documented = resolve(url), resolve(concrete, urlconf=DOCUMENTED[slug][1])
        assert _view_of(served) == _view_of(documented), url
        assert dialect_for_path(url) == slug, url


@pytest.mark.parametrize("slug", sorted(DOCUMENTED))
def test_every_operation_says_what_it_does(slug: str) -> None:
    for path, method, operation in _operations(_schema(slug)):
        where = f"{method.upper()} {path}"
        assert operation.get("summary", "").strip(), f"{where} has no summary"
        description = operation.get("description", "").strip()
        assert description, f"{where} has no description"
        assert "exception handler" not in description and "DRF" not in description, f"{where}: {description}"


@pytest.mark.parametrize("slug", sorted(DOCUMENTED))
def test_each_schema_generates_without_warnings(slug: str) -> None:
    GENERATOR_STATS.reset()
    _schema(slug)
    assert not GENERATOR_STATS, dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)


def test_the_whole_server_schema_generates_without_warnings(tmp_path) -> None:
    """`manage.py spectacular` without a URL conf: every dialect at once, so no two components,
    enums or operation ids may share a name."""
    GENERATOR_STATS.reset()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
