"""FlowRunner create refuses a literal URL the network policy refuses, and a missing subflow, with lines."""

import pytest

from accounts.roles import Role
from flows.models import Flow
from tests.api.flowrunner.test_auth import assert_flowrunner_error

pytestmark = pytest.mark.django_db

DEFINITION = """metadata:
  name: "Leaky"
nodes:
  start:
    type: http.request
    params:
      url: "file:///etc/passwd"
    next: notify
  notify:
    type: webhook
    params:
      url: "http://[::ffff:10.0.0.1]/hook"
    next: child
  child:
    type: flow.subflow
    params:
      flowName: nowhere
"""


def test_create_refuses_them_with_422_and_lines(make_account, client_for):
    response = client_for(make_account(Role.EDITOR)).post("/api/v1/flows", {"definition": DEFINITION}, format="json")
    assert_flowrunner_error(response, 422, "validation_error")
    problems = response.json()["error"]["details"]["errors"]
    assert [(p["path"], p["line"]) for p in problems] == [
        ("nodes.start.params.url", 7),
        ("nodes.notify.params.url", 12),
        ("nodes.child.params.flowName", 17),
    ]
    assert "refused URL scheme 'file'" in problems[0]["message"]
    assert "a private address" in problems[1]["message"]
    assert problems[2]["message"] == "no flow 'nowhere' in namespace 'production'"
    assert not Flow.objects.exists()
