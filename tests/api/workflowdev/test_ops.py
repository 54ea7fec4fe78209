"""Health, readiness, metrics and the audit log."""

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import audit_record
from tests.api.workflowdev.test_auth import assert_error
from tests.factories import AccountFactory, ExecutionFactory, MembershipFactory, NamespaceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", ["", "/workflowdev"])
def test_health_and_readiness_are_open(prefix):
    assert APIClient().get(f"{prefix}/healthz").json() == {"status": "ok"}
    ready = APIClient().get(f"{prefix}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "channelLayer": "ok"}


def test_readiness_reports_a_failing_check(monkeypatch):
    def broken() -> None:
        raise RuntimeError("down")

    monkeypatch.setitem(__import__("core.health", fromlist=["CHECKS"]).CHECKS, "broker", broken)
    response = APIClient().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")


def test_metrics_expose_requests_and_executions():
    ExecutionFactory.create_batch(2)
    APIClient().get("/healthz")
    text = APIClient().get("/metrics").content.decode()
    assert 'millrace_http_requests_total{dialect="workflowdev",method="GET",status="200"}' in text
    assert 'millrace_executions{status="QUEUED"} 2.0' in text


def test_audit_lists_for_admins_with_filters(admin_account, client_for):
    audit_record(actor=admin_account, action="flow.create", resource_type="flow", namespace="production")
    audit_record(actor=admin_account, action="flow.delete", resource_type="flow", namespace="other")
    client = client_for(admin_account)
    response = client.get("/api/v1/audit")
    assert response.status_code == 200
    assert isinstance(response.json(), list) and int(response["X-Total-Count"]) == 2
    entry = client.get("/api/v1/audit?action=flow.delete").json()
    assert [e["action"] for e in entry] == ["flow.delete"]
    assert {
        "id",
        "actor",
        "actorId",
        "action",
        "resourceType",
        "resourceId",
        "namespace",
        "summary",
        "createdAt",
    } == set(entry[0])
    assert len(client.get("/api/v1/audit?namespace=production").json()) == 1
    assert len(client.get("/api/v1/audit?actor=root").json()) == 2
    assert len(client.get("/api/v1/audit?limit=1").json()) == 1
    assert_error(client.get("/api/v1/audit?limit=x"), 400, "invalid_request")


def test_audit_is_scoped_to_administered_namespaces(client_for):
    ns = NamespaceFactory(name="mine")
    ns_admin = AccountFactory(role=Role.VIEWER)
    MembershipFactory(account=ns_admin, namespace=ns, role=Role.ADMIN)
    audit_record(actor=None, action="a", resource_type="x", namespace="mine")
    audit_record(actor=None, action="b", resource_type="x", namespace="theirs")
    assert [e["action"] for e in client_for(ns_admin).get("/api/v1/audit").json()] == ["a"]
    assert_error(client_for(AccountFactory(role=Role.EDITOR)).get("/api/v1/audit"), 403, "forbidden")
    assert_error(APIClient().get("/api/v1/audit"), 401, "unauthorized")
