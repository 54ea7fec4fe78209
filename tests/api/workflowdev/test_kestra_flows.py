"""Kestra YAML through the workflowdev API: saved and validated like any flow, refused with lines."""

from flows.models import Flow
from tests.api.workflowdev.conftest import WD, assert_error

GOOD = """\
id: kestra-hello
namespace: production
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: Hello
"""
UNKNOWN_TYPE = GOOD + "  - id: later\n    type: io.kestra.plugin.core.made.Up\n"
UNKNOWN_PROPERTY = GOOD + "    colour: blue\n"


def test_a_kestra_flow_is_saved_and_read_back_as_written(api):
    response = api.post(f"{WD}/flows", {"yamlContent": GOOD}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["namespace"], body["yamlContent"]) == ("kestra-hello", "production", GOOD)
    assert Flow.objects.get(pk=body["id"]).format == "kestra"


def test_an_unknown_type_is_a_422_naming_it_and_its_line(api):
    error = assert_error(api.post(f"{WD}/flows", {"yamlContent": UNKNOWN_TYPE}, format="json"), 422, "validation_error")
    assert error["details"]["errors"] == [
        {
            "path": "tasks[1].type",
            "line": 8,
            "message": "unknown Kestra type 'io.kestra.plugin.core.made.Up' (docs/kestra.md lists the mapped types)",
        }
    ]
    assert not Flow.objects.exists()


def test_an_unknown_property_is_a_422_naming_it_and_its_line(api):
    error = assert_error(
        api.post(f"{WD}/flows", {"yamlContent": UNKNOWN_PROPERTY}, format="json"), 422, "validation_error"
    )
    assert error["details"]["errors"] == [
        {"path": "tasks[0].colour", "line": 7, "message": "unknown property 'colour' for io.kestra.plugin.core.log.Log"}
    ]
    assert not Flow.objects.exists()


def test_validate_lists_the_same_problems(api):
    response = api.post(f"{WD}/flows/validate", {"yamlContent": UNKNOWN_PROPERTY}, format="json")
    assert response.json() == {
        "valid": False,
        "errors": [
            {
                "path": "tasks[0].colour",
                "line": 7,
                "message": "unknown property 'colour' for io.kestra.plugin.core.log.Log",
            }
        ],
    }
    assert api.post(f"{WD}/flows/validate", {"yamlContent": GOOD}, format="json").json() == {
        "valid": True,
        "errors": [],
    }


def test_a_kestra_flow_naming_another_namespace_is_refused(api, other_namespace):
    source = GOOD.replace("namespace: production", "namespace: elsewhere")
    response = api.post(f"{WD}/flows", {"yamlContent": source}, format="json")
    assert_error(response, 404, "not_found")  # as a namespace that does not exist
    assert not Flow.objects.exists()
