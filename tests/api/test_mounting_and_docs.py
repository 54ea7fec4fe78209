"""Which dialect owns which path, and the per-dialect OpenAPI pages."""

import re

import pytest
from rest_framework.test import APIClient

from api.docs import DOCUMENTED
from api.routing import dialect_for_path

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/api/v1/flows", "flowrunner", "flowrunner"),
        ("/api/v1/flows", "workflowdev", "workflowdev"),
        ("/api/v1/executions/1/logs", "workflowdev", "workflowdev"),
        ("/flowrunner/api/v1/flows", "workflowdev", "flowrunner"),
        ("/workflowdev/api/v1/flows", "flowrunner", "workflowdev"),
        ("/api/v1/auth/login", "workflowdev", "flowrunner"),
        ("/api/v1/accounts/x/secrets", "flowrunner", "flowrunner"),
        ("/auth/login", "flowrunner", "workflowdev"),
        ("/api/v1/credentials", "flowrunner", "workflowdev"),
        ("/api/v1/webhook/k", "flowrunner", "workflowdev"),
        ("/api/v1/agents/1/messages", "flowrunner", "activeworkflow"),
        ("/api/v1/workflows/1/export", "flowrunner", "activeworkflow"),
        ("/workflowsvc/api/v1/workflows", "flowrunner", "workflowsvc"),
        ("/v1/do/http/GetRequest", "flowrunner", "connector"),
        ("/healthz", "flowrunner", "workflowdev"),
        ("/admin/", "flowrunner", None),
        ("/api/docs/", "flowrunner", None),
    ],
)
def test_dialect_for_path(settings, path, root, expected):
    settings.MILLRACE_ROOT_DIALECT = root
    assert dialect_for_path(path) == expected


def test_both_shared_dialects_are_served_in_full_under_their_prefix(make_account):
    make_account(username="p")
    body = {"username": "p", "password": "correct-horse-battery"}
    assert APIClient().post("/flowrunner/api/v1/auth/login", body, format="json").status_code == 200
    assert APIClient().post("/workflowdev/auth/login", body, format="json").status_code == 200
    assert APIClient().get("/workflowdev/healthz").status_code == 200


def test_docs_index_lists_every_dialect():
    page = APIClient().get("/api/docs/").content.decode()
    for slug in DOCUMENTED:
        assert f"/api/docs/{slug}/" in page and f"/api/schema/{slug}/" in page


@pytest.mark.parametrize("slug", sorted(DOCUMENTED))
def test_each_dialect_has_a_schema_and_offline_docs(slug):
    schema = APIClient().get(f"/api/schema/{slug}/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    page = APIClient().get(f"/api/docs/{slug}/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "swagger-ui" in page and assets
    assert all(asset.startswith("/") for asset in assets), assets  # served here: no CDN


def test_flowrunner_schema_documents_its_paths():
    paths = APIClient().get("/api/schema/flowrunner/", HTTP_ACCEPT="application/json").json()["paths"]
    assert {"/api/v1/auth/login", "/api/v1/accounts", "/api/v1/accounts/{id}"} <= set(paths)
