"""Each dialect answers every error in its own shape: from DRF views, Django itself and the body cap."""

import pytest
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.test import APIClient

from api.registry import DIALECTS
from core.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.django_db

CASES = [
    (drf.ParseError("bad json"), 400, "invalid_request"),
    (drf.NotAuthenticated(), 401, "unauthorized"),
    (drf.AuthenticationFailed("bad token"), 401, "unauthorized"),
    (drf.PermissionDenied(), 403, "forbidden"),
    (Http404(), 404, "not_found"),
    (drf.MethodNotAllowed("PATCH"), 405, "method_not_allowed"),
    (Conflict("exists"), 409, "conflict"),
    (RequestDataTooBig(), 413, "payload_too_large"),
    (drf.ValidationError({"name": ["required"]}), 422, "validation_error"),
    (ValidationFailed("bad", details=[{"field": "x", "reason": "y"}]), 422, "validation_error"),
    (RuntimeError("boom"), 500, "internal_error"),
    (OperationalError("server closed the connection unexpectedly"), 503, "service_unavailable"),
    (InterfaceError("connection already closed"), 503, "service_unavailable"),
]


def shape_of(dialect: str, body: dict) -> tuple[str, str]:
    """(code, message) read from a dialect's error body, asserting its exact shape."""
    if dialect in ("flowrunner", "workflowdev"):
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
        return body["error"]["code"], body["error"]["message"]
    if dialect == "workflowsvc":
        assert set(body) == {"_error"} and set(body["_error"]) == {"_code", "_message", "_details"}
        return body["_error"]["_code"], body["_error"]["_message"]
    if dialect == "activeworkflow":
        assert set(body) == {"error"} and isinstance(body["error"], str)
        return "", body["error"]
    assert set(body) == {"command_response", "command_response_version", "error", "spiff__logs"}
    assert body["command_response"]["mimetype"] == "application/json"
    assert set(body["error"]) == {"message", "error_code"}
    return body["error"]["error_code"], body["error"]["message"]


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize(("exc", "status", "code"), CASES, ids=[c[2] + str(c[1]) for c in CASES])
def test_exception_handlers_render_each_status(dialect, exc, status, code):
    response = DIALECTS[dialect].exception_handler(exc, {})
    assert response.status_code == status
    got_code, message = shape_of(dialect, response.data)
    assert message
    if dialect != "activeworkflow":
        assert got_code == code
    if dialect == "connector":
        assert response.data["command_response"]["http_status"] == status
    if status >= 500:
        assert "boom" not in message and "connection" not in message


def test_validation_details_list_every_problem():
    response = DIALECTS["flowrunner"].exception_handler(drf.ValidationError({"a": ["x"], "b": {"c": ["y"]}}), {})
    details = response.data["error"]["details"]
    assert details["field"] == "a" and details["reason"] == "x"
    assert details["errors"] == [{"field": "a", "reason": "x"}, {"field": "b.c", "reason": "y"}]


UNKNOWN_PATHS = {
    "flowrunner": "/flowrunner/api/v1/nothing-here",
    "workflowdev": "/api/v1/nothing-here",
    "workflowsvc": "/workflowsvc/api/v1/nothing-here",
    "activeworkflow": "/api/v1/agents/nothing/here/at/all",
    "connector": "/v1/nothing-here",
}


@pytest.mark.parametrize("dialect", sorted(UNKNOWN_PATHS))
def test_unknown_paths_are_404_in_the_dialect_shape(dialect):
    response = APIClient().get(UNKNOWN_PATHS[dialect])
    assert response.status_code == 404
    code, _ = shape_of(dialect, response.json())
    assert code in ("not_found", "")


@pytest.mark.parametrize("dialect", sorted(UNKNOWN_PATHS))
def test_oversize_bodies_are_413_in_the_dialect_shape(settings, dialect):
    settings.MILLRACE_MAX_BODY_BYTES = 1000
    response = APIClient().post(UNKNOWN_PATHS[dialect], "x" * 2000, content_type="application/json")
    assert response.status_code == 413
    code, message = shape_of(dialect, response.json())
    assert code in ("payload_too_large", "")
    assert "1000" in message


def test_oversize_body_is_refused_before_login_is_attempted(settings, make_account):
    settings.MILLRACE_MAX_BODY_BYTES = 100
    make_account(username="u")
    response = APIClient().post("/api/v1/auth/login", {"username": "u", "password": "p" * 200}, format="json")
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("dialect", "method", "path"),
    [
        ("flowrunner", "delete", "/api/v1/auth/login"),
        ("workflowdev", "get", "/auth/login"),
        ("connector", "post", "/v1/liveness"),
    ],
)
def test_wrong_method_is_405_in_the_dialect_shape(dialect, method, path):
    response = getattr(APIClient(), method)(path)
    assert response.status_code == 405
    assert shape_of(dialect, response.json())[0] == "method_not_allowed"


def test_connector_liveness_is_open():
    assert APIClient().get("/v1/liveness").json() == {"ok": True}
