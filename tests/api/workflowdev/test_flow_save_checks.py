"""Saving a flow refuses what every run would refuse: literal URLs outside the network policy,
subflows outside the namespace; each problem with its path and line."""

import pytest

from flows.models import Flow
from tests.api.workflowdev.conftest import WD, assert_error

pytestmark = pytest.mark.django_db

URLS = """name: calls-out
tasks:
  - name: fine
    type: http.request
    properties:
      url: https://api.example.com/items
  - name: templated
    type: http.request
    properties:
      url: "{{ inputs.target }}"
  - name: local-file
    type: http.request
    properties:
      url: file:///etc/passwd
  - name: gopher
    type: webhook
    properties:
      url: gopher://example.com:70/_x
  - name: metadata
    type: REST_CONNECTOR
    properties:
      _url: http://169.254.169.254/latest/meta-data/
  - name: proxy
    type: connector.call
    properties:
      baseUrl: http://127.0.0.1:8200
      command: http/GetRequest
"""

REFUSED = {
    ("tasks[2].properties.url", 14, "refused URL scheme 'file'"),
    ("tasks[3].properties.url", 18, "refused URL scheme 'gopher'"),
    ("tasks[4].properties._url", 22, "cloud metadata address"),
    ("tasks[5].properties.baseUrl", 26, "loopback address"),
}


def refused(problems: list[dict]) -> set[tuple[str, int, str]]:
    found = set()
    for problem in problems:
        for path, line, words in REFUSED:
            if problem["path"] == path and problem["line"] == line and words in problem["message"]:
                found.add((path, line, words))
    return found


def test_validate_reports_each_refused_url_with_its_line(api):
    response = api.post(f"{WD}/flows/validate", {"yamlContent": URLS}, format="json")
    assert response.status_code == 200 and response.json()["valid"] is False
    problems = response.json()["errors"]
    assert refused(problems) == REFUSED and len(problems) == len(REFUSED), problems
    in_namespace = api.post(f"{WD}/flows/validate", {"yamlContent": URLS, "namespace": "production"}, format="json")
    assert refused(in_namespace.json()["errors"]) == REFUSED


def test_create_and_update_refuse_them_with_422(api, create_flow):
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": URLS}, format="json"), 422, "validation_error")
    assert refused(error["details"]["errors"]) == REFUSED
    assert not Flow.objects.exists()
    flow = create_flow()
    error = assert_error(
        api.put(f"{WD}/flows/{flow['id']}", {"yamlContent": URLS}, format="json"), 422, "validation_error"
    )
    assert refused(error["details"]["errors"]) == REFUSED


def test_allowed_networks_open_literal_addresses_at_save_time_too(api, create_flow, settings):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8", "169.254.169.254/32"]
    only_schemes = api.post(f"{WD}/flows/validate", {"yamlContent": URLS}, format="json").json()["errors"]
    assert {problem["path"] for problem in only_schemes} == {"tasks[2].properties.url", "tasks[3].properties.url"}
    allowed = URLS.split("  - name: local-file")[0] + URLS.split("      url: gopher://example.com:70/_x\n")[1]
    assert create_flow(allowed)["name"] == "calls-out"


SUBFLOW = """name: parent
tasks:
  - name: hello
    type: util.log
    properties:
      message: hi
  - name: child
    type: flow.subflow
    properties:
      namespace: production
      flowName: no-such-flow
"""


def test_a_missing_subflow_is_refused_with_its_line(api):
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": SUBFLOW}, format="json"), 422, "validation_error")
    assert error["details"]["errors"] == [
        {
            "path": "tasks[1].properties.flowName",
            "line": 11,
            "message": "no flow 'no-such-flow' in namespace 'production'",
        }
    ]
    assert "line 11" in error["message"] and "line ?" not in error["message"]
    checked = api.post(f"{WD}/flows/validate", {"yamlContent": SUBFLOW, "namespace": "production"}, format="json")
    assert checked.json()["errors"] == error["details"]["errors"]
