"""`GET /flows/{id}/export?format=nodes|tasks|kestra`: the definition in another format."""

import pytest
import yaml

from accounts.roles import Role
from flows.definitions import FlowFormat, compile_definition
from tests.api.workflowdev.conftest import HELLO_YAML, WD, assert_error

GRAPH_YAML = """\
metadata:
  name: routed
nodes:
  start:
    type: flow.if
    condition: "{{ inputs.get('go', true) }}"
    next:
      "true": done
      "false": done
  done:
    type: util.log
    params:
      message: done
"""

LINEAR_GRAPH = """\
metadata:
  name: linear
nodes:
  first:
    type: util.log
    params:
      message: one
    next: second
  second:
    type: util.log
    params:
      message: two
"""


@pytest.mark.parametrize("target", ["nodes", "tasks", "kestra"])
def test_each_format_answers_yaml_that_compiles_in_that_format(api, create_flow, target):
    flow = create_flow(HELLO_YAML)
    response = api.get(f"{WD}/flows/{flow['id']}/export", {"format": target})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/x-yaml")
    assert response["Content-Disposition"] == f'attachment; filename="production.my-workflow.{target}.yaml"'
    compiled = compile_definition(response.content.decode())
    assert compiled.format == FlowFormat(target)
    assert [step.name for step in compiled.main.steps] == ["hello"]
    assert compiled.main.steps[0].inputs == {"message": "Hello world"}


def test_the_kestra_export_names_kestra_types_and_the_namespace(api, create_flow):
    flow = create_flow(HELLO_YAML)
    document = yaml.safe_load(api.get(f"{WD}/flows/{flow['id']}/export?format=kestra").content)
    assert document == {
        "id": "my-workflow",
        "namespace": "production",
        "tasks": [{"id": "hello", "type": "io.kestra.plugin.core.log.Log", "message": "Hello world"}],
    }


def test_without_a_format_the_export_is_still_the_json_import_file(api, create_flow):
    flow = create_flow(HELLO_YAML)
    for query in ("", "?format=json"):
        response = api.get(f"{WD}/flows/{flow['id']}/export{query}")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response.json()["flow"]["yamlContent"] == HELLO_YAML


def test_a_linear_graph_becomes_a_task_list(api, create_flow):
    flow = create_flow(LINEAR_GRAPH)
    response = api.get(f"{WD}/flows/{flow['id']}/export?format=tasks")
    assert response.status_code == 200, response.content
    assert [task["name"] for task in yaml.safe_load(response.content)["tasks"]] == ["first", "second"]


def test_a_graph_with_routes_is_not_a_task_list(api, create_flow):
    flow = create_flow(GRAPH_YAML)
    error = assert_error(api.get(f"{WD}/flows/{flow['id']}/export?format=tasks"), 422, "validation_error")
    assert "routes on false, true" in error["message"]
    assert any("node 'start'" in detail["message"] for detail in error["details"]["errors"])
    assert api.get(f"{WD}/flows/{flow['id']}/export?format=nodes").status_code == 200


def test_a_plugin_without_a_kestra_type_is_named(api, create_flow):
    source = "name: shaped\ntasks:\n  - name: reshape\n    type: data.transform\n"
    source += "    properties:\n      data: {a: 1}\n      expression: a\n"
    flow = create_flow(source)
    error = assert_error(api.get(f"{WD}/flows/{flow['id']}/export?format=kestra"), 422, "validation_error")
    assert error["details"]["errors"] == [
        {"path": "", "line": None, "message": "task 'reshape' (data.transform) has no Kestra type"}
    ]


def test_errors_tasks_have_no_place_in_a_graph(api, create_flow):
    flow = create_flow(HELLO_YAML + "errors:\n  - name: oops\n    type: util.log\n    properties:\n      message: x\n")
    error = assert_error(api.get(f"{WD}/flows/{flow['id']}/export?format=nodes"), 422, "validation_error")
    assert "'errors' tasks have no place in a graph" in error["message"]


@pytest.mark.parametrize("target", ["yaml", "KESTRA", "", "x" * 5000])
def test_an_unknown_format_is_a_400(api, create_flow, target):
    flow = create_flow(HELLO_YAML)
    error = assert_error(api.get(f"{WD}/flows/{flow['id']}/export", {"format": target}), 400, "invalid_request")
    assert error["details"]["errors"] == [{"field": "format", "reason": "unknown"}]
    assert len(error["message"]) < 200


def test_another_namespaces_flow_is_not_found(api, create_flow, make_account, client_for, other_namespace):
    stranger = client_for(make_account(Role.EDITOR, namespace=other_namespace))
    flow = create_flow(HELLO_YAML)
    for target in ("kestra", "tasks", "nodes"):
        assert_error(stranger.get(f"{WD}/flows/{flow['id']}/export?format={target}"), 404, "not_found")
    missing = "00000000-0000-0000-0000-000000000000"
    assert_error(api.get(f"{WD}/flows/{missing}/export?format=kestra"), 404, "not_found")


def test_a_viewer_may_export(as_role, create_flow):
    flow = create_flow(HELLO_YAML)
    response = as_role(Role.VIEWER).get(f"{WD}/flows/{flow['id']}/export?format=kestra")
    assert response.status_code == 200
    assert b"io.kestra.plugin.core.log.Log" in response.content
