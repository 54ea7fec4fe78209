"""Keeping the schemas honest: every served API path is in its dialect's schema, and every
DRF view names its permission classes itself (what `test_schemas.py` checks answers against)."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from api.docs import DOCUMENTED
from api.routing import dialect_for_path
from tests.reliability.test_access_matrix import _served_routes
from tests.reliability.test_schemas import MOUNTS, _documented, _schema_json


def _schema_routes() -> dict[str, set[tuple[str, str]]]:
    return {
        slug: {(method, template) for method, template, _ in _documented(_schema_json(slug))} for slug in DOCUMENTED
    }


@pytest.mark.django_db
def test_every_served_api_path_is_in_its_dialects_schema() -> None:
    schemas = _schema_routes()
    missing = []
    for method, route in sorted(_served_routes()):
        slug = dialect_for_path(route.replace("{}", "x"))
        assert slug is not None, f"{route} belongs to no dialect"
        mount = MOUNTS[slug]
        path = route[len(mount) :] if mount and route.startswith(mount + "/") else route
        if (method, path) not in schemas[slug]:
            missing.append(f"{method} {route} (not in the {slug} schema)")
    assert missing == []


def _views() -> Iterator[tuple[str, type]]:
    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, type]]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and getattr(pattern.callback, "cls", None) is not None:
                yield route, pattern.callback.cls

    yield from walk(get_resolver().url_patterns, "")


def test_every_api_view_names_its_permission_classes() -> None:
    """Not the settings' default: a view's access is read in the code, and no default change opens it."""
    for route, view in _views():
        if not issubclass(view, APIView) or route.startswith(("api/schema/", "api/docs/", "api/redoc/")):
            continue
        owner = next(cls for cls in view.__mro__ if "permission_classes" in vars(cls))
        assert not owner.__module__.startswith("rest_framework"), f"{route}: {view.__name__} relies on the default"
        assert view.permission_classes, f"{route}: {view.__name__} has no permission class"
