"""FlowRunner create and update refuse a node's literal database URL or SMTP host the network
policy refuses (422, path and line, nothing saved); an allowed one is saved."""

import pytest

from accounts.roles import Role
from flows.models import Flow
from tests.api.flowrunner.test_auth import assert_flowrunner_error

pytestmark = pytest.mark.django_db

PASSWORD = "Fr-Pass-3a9d07"

DEFINITION = f"""metadata:
  name: "Servers"
nodes:
  query:
    type: sql.query
    params:
      url: "postgresql://app:{PASSWORD}@192.168.1.20/app"
      sql: SELECT 1
    next: mail
  mail:
    type: mail.send
    params:
      host: "[::1]"
      to: [ops@example.com]
      text: done
"""


def assert_refused(response) -> None:
    assert_flowrunner_error(response, 422, "validation_error")
    problems = response.json()["error"]["details"]["errors"]
    assert [(p["path"], p["line"]) for p in problems] == [("nodes.query.params.url", 7), ("nodes.mail.params.host", 13)]
    assert "url: refused host '192.168.1.20': a private address" in problems[0]["message"]
    assert "host: refused host '::1': a loopback address" in problems[1]["message"]
    assert PASSWORD not in response.content.decode()


def test_create_refuses_them_with_422_and_lines(make_account, client_for):
    response = client_for(make_account(Role.EDITOR)).post("/api/v1/flows", {"definition": DEFINITION}, format="json")
    assert_refused(response)
    assert not Flow.objects.exists()


def test_update_refuses_them_and_keeps_the_revision(make_account, client_for, make_flow):
    flow = make_flow()
    response = client_for(make_account(Role.EDITOR)).put(
        f"/api/v1/flows/{flow.id}", {"definition": DEFINITION}, format="json"
    )
    assert_refused(response)
    flow.refresh_from_db()
    assert flow.revision == 1 and "sql.query" not in flow.source


def test_allowed_networks_let_them_be_saved(make_account, client_for, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["192.168.1.0/24", "::1/128"]
    response = client_for(make_account(Role.EDITOR)).post("/api/v1/flows", {"definition": DEFINITION}, format="json")
    assert response.status_code == 201, response.content
    assert Flow.objects.get().source == DEFINITION
