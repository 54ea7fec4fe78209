"""Approval gates driven through the API, and namespaces with their members."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership, Namespace
from accounts.roles import Role
from tests.api.workflowdev.conftest import API, WD, assert_error
from tests.factories import AccountFactory, MembershipFactory, NamespaceFactory

GATE = """name: gated
tasks:
  - name: ask
    type: flow.pause
    properties:
      message: "Ship it?"
  - name: ship
    type: util.echo
    properties:
      value: "{{ outputs.ask.decidedBy }}"
"""
APPROVAL_FIELDS = {
    "id",
    "executionId",
    "taskName",
    "message",
    "status",
    "decidedBy",
    "comment",
    "createdAt",
    "decidedAt",
}


def _start_gate(api, create_flow) -> tuple[str, dict]:
    flow = create_flow(GATE)
    run = api.post(f"{WD}/flows/{flow['id']}/execute").json()["executionId"]
    detail = api.get(f"{WD}/executions/{run}").json()
    return run, detail


def test_an_approved_gate_ends_in_success(eager, api, create_flow, as_role, editor):
    run, detail = _start_gate(api, create_flow)
    assert detail["execution"]["status"] == "WAITING"
    gate = detail["tasks"][0]
    assert gate["taskName"] == "ask" and gate["status"] == "WAITING" and gate["approvalId"]
    pending = api.get(f"{API}/approvals?executionId={run}&status=pending")
    assert pending.status_code == 200 and pending["X-Total-Count"] == "1"
    approval = pending.json()[0]
    assert set(approval) == APPROVAL_FIELDS
    assert approval["id"] == gate["approvalId"] and approval["executionId"] == run
    assert approval["taskName"] == "ask" and approval["status"] == "pending" and approval["decidedBy"] is None
    assert approval["message"] == "Ship it?"
    assert api.get(f"{API}/approvals/{approval['id']}").json() == approval
    viewer = as_role(Role.VIEWER)
    assert_error(viewer.post(f"{API}/approvals/{approval['id']}/approve"), 403, "forbidden")
    decided = api.post(f"{API}/approvals/{approval['id']}/approve", {"comment": "go"}, format="json")
    assert decided.status_code == 200
    assert decided.json()["status"] == "approved" and decided.json()["decidedBy"] == editor.username
    assert decided.json()["comment"] == "go" and decided.json()["decidedAt"].endswith("Z")
    final = api.get(f"{WD}/executions/{run}").json()
    assert final["execution"]["status"] == "SUCCESS"
    assert final["tasks"][1]["outputs"] == f'"{editor.username}"'
    assert_error(api.post(f"{API}/approvals/{approval['id']}/reject"), 409, "conflict")
    assert api.get(f"{API}/approvals?status=pending").json() == []


def test_a_rejected_gate_fails_the_execution(eager, api, create_flow, as_role):
    run, detail = _start_gate(api, create_flow)
    executor = as_role(Role.EXECUTOR)
    rejected = executor.post(
        f"{API}/approvals/{detail['tasks'][0]['approvalId']}/reject", {"comment": "no"}, format="json"
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    execution = api.get(f"{WD}/executions/{run}").json()["execution"]
    assert execution["status"] == "FAILED" and "no" in execution["error"]


@pytest.mark.django_db
def test_approval_errors(api, other_namespace):
    assert_error(api.get(f"{API}/approvals/00000000-0000-0000-0000-000000000000"), 404, "not_found")
    assert_error(api.get(f"{API}/approvals?status=maybe"), 400, "invalid_request")
    assert_error(APIClient().get(f"{API}/approvals"), 401, "unauthorized")


@pytest.mark.django_db
def test_namespaces_for_global_and_namespace_admins(client_for, make_account, admin_account):
    root = client_for(admin_account)
    created = root.post(f"{API}/namespaces", {"name": "team-a", "description": "A"}, format="json")
    assert created.status_code == 201
    assert set(created.json()) == {"id", "name", "description", "createdAt", "updatedAt"}
    assert_error(root.post(f"{API}/namespaces", {"name": "team-a"}, format="json"), 409, "conflict")
    assert_error(root.post(f"{API}/namespaces", {"name": "bad name!"}, format="json"), 422, "validation_error")
    lead = make_account(Role.VIEWER, namespace=Namespace.objects.get(name="team-a"))
    member = AccountFactory(role=Role.VIEWER)
    lead_client = client_for(lead)
    assert_error(lead_client.post(f"{API}/namespaces", {"name": "mine"}, format="json"), 403, "forbidden")
    assert_error(
        lead_client.put(f"{API}/namespaces/team-a/members/{member.pk}", {"role": "editor"}, format="json"),
        403,
        "forbidden",
    )
    MembershipFactory(account=lead, namespace=Namespace.objects.get(name="team-a"), role=Role.ADMIN)
    lead_client = client_for(lead)
    put = lead_client.put(f"{API}/namespaces/team-a/members/{member.pk}", {"role": "editor"}, format="json")
    assert put.status_code == 200
    assert put.json() == {
        "accountId": str(member.pk),
        "username": member.username,
        "role": "editor",
        "source": "membership",
    }
    members = lead_client.get(f"{API}/namespaces/team-a/members").json()
    assert {(m["username"], m["role"]) for m in members} >= {(lead.username, "admin"), (member.username, "editor")}
    patched = lead_client.patch(f"{API}/namespaces/team-a", {"description": "B"}, format="json")
    assert patched.status_code == 200 and patched.json()["description"] == "B"
    assert lead_client.delete(f"{API}/namespaces/team-a/members/{member.pk}").status_code == 204
    assert not Membership.objects.filter(account=member).exists()
    assert_error(lead_client.delete(f"{API}/namespaces/team-a/members/{member.pk}"), 404, "not_found")
    bogus = lead_client.put(
        f"{API}/namespaces/team-a/members/00000000-0000-0000-0000-000000000000", {"role": "viewer"}, format="json"
    )
    assert_error(bogus, 404, "not_found")
    assert_error(
        lead_client.put(f"{API}/namespaces/team-a/members/{member.pk}", {"role": "god"}, format="json"),
        422,
        "validation_error",
    )
    assert_error(lead_client.delete(f"{API}/namespaces/team-a"), 403, "forbidden")
    assert root.delete(f"{API}/namespaces/team-a").status_code == 204
    assert not Namespace.objects.filter(name="team-a").exists()


@pytest.mark.django_db
def test_namespace_visibility(api, other_namespace):
    NamespaceFactory(name="zzz")
    listed = api.get(f"{API}/namespaces")
    assert [n["name"] for n in listed.json()] == ["production"] and listed["X-Total-Count"] == "1"
    assert api.get(f"{API}/namespaces/production").json()["name"] == "production"
    assert_error(api.get(f"{API}/namespaces/{other_namespace.name}"), 404, "not_found")
    assert_error(api.get(f"{API}/namespaces/{other_namespace.name}/members"), 404, "not_found")
    assert_error(api.patch(f"{API}/namespaces/production", {"description": "x"}, format="json"), 403, "forbidden")
