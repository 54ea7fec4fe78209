"""Every response carries X-Content-Type-Options and X-Frame-Options, the error responses the
dialects render outside their views included; the console, the docs and `/` carry the CSP."""

import re
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from api.middleware import BodySizeLimitMiddleware
from api.registry import DIALECTS
from tests.api.test_error_shapes import UNKNOWN_PATHS

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def assert_secure_headers(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.parametrize("dialect", sorted(UNKNOWN_PATHS))
def test_unknown_paths_carry_the_headers(dialect):
    response = APIClient().get(UNKNOWN_PATHS[dialect])
    assert response.status_code == 404
    assert_secure_headers(response)


@pytest.mark.parametrize("dialect", sorted(UNKNOWN_PATHS))
def test_oversize_bodies_carry_the_headers(settings, dialect):
    settings.MILLRACE_MAX_BODY_BYTES = 1000
    response = APIClient().post(UNKNOWN_PATHS[dialect], "x" * 2000, content_type="application/json")
    assert response.status_code == 413
    assert_secure_headers(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [("delete", "/api/v1/auth/login"), ("get", "/auth/login"), ("post", "/v1/liveness")],
)
def test_wrong_methods_carry_the_headers(method, path):
    response = getattr(APIClient(), method)(path)
    assert response.status_code == 405
    assert_secure_headers(response)


@pytest.mark.parametrize("dialect", sorted(UNKNOWN_PATHS))
def test_crashes_outside_the_views_carry_the_headers(monkeypatch, dialect):
    def crash(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(BodySizeLimitMiddleware, "_too_big", staticmethod(crash))
    response = APIClient(raise_request_exception=False).post(UNKNOWN_PATHS[dialect], {}, format="json")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")  # rendered by DialectErrorMiddleware
    assert_secure_headers(response)


def test_every_dialect_is_covered():
    assert set(UNKNOWN_PATHS) == set(DIALECTS)


@pytest.mark.parametrize(
    "path", ["/", "/api/docs/", "/api/docs/flowrunner/", "/api/redoc/workflowdev/", "/admin/login/"]
)
def test_pages_carry_the_content_security_policy(path):
    response = APIClient().get(path)
    assert response.status_code == 200
    assert_secure_headers(response)


def test_console_pages_carry_the_content_security_policy(client, admin_account):
    client.force_login(admin_account)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert_secure_headers(response)


def test_swagger_page_runs_no_inline_script():
    page = APIClient().get("/api/docs/flowrunner/").content.decode()
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and all("src=" in attributes for attributes in scripts), scripts
    script = APIClient().get("/api/docs/flowrunner/?script")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_have_no_inline_script_or_event_handler(template):
    """The policy allows scripts from this origin only: an inline one would not run."""
    text = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>: serve it as a static file"
    assert not re.search(r"\son[a-z]+\s*=", text), "event-handler attribute: bind it in a static script"
