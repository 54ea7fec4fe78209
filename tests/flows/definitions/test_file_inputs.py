"""FILE inputs: their declaration (no default, an id that names a directory) and the value they
hold once stored (a well-formed `millrace:///` URI)."""

import pytest

from flows.definitions import InputType
from flows.definitions.input_types import convert
from flows.definitions.ir import FlowInput
from tests.flows.definitions.support import compile_yaml, found, problems_of

URI = "millrace:///production/executions/0b5e2c1a-4f7e-4d1b-9a7c-2f1e0d9c8b7a/inputs/data/rows.csv"


def test_a_file_input_is_declared_like_kestras():
    flow = compile_yaml(
        """
        inputs:
          - {id: data, type: FILE, required: true, description: the rows to load}
          - {id: extra, type: file}
        tasks:
          - {name: a, type: util.echo}
        """
    )
    data, extra = flow.inputs
    assert (data.type, data.required, data.has_default, data.description) == (
        InputType.FILE,
        True,
        False,
        "the rows to load",
    )
    assert (extra.type, extra.required) == (InputType.FILE, False)


def test_bad_file_declarations_are_reported_with_their_lines():
    problems = problems_of(
        """
        inputs:
          - {id: a, type: FILE, defaults: a.txt}
          - {id: b/c, type: FILE}
          - {id: "..", type: FILE}
          - {id: l, type: ARRAY, itemType: FILE}
          - {id: ok/fine, type: STRING}
        tasks:
          - {name: a, type: util.echo}
        """
    )
    assert found(problems) == [
        ("inputs[0].defaults", 2, "invalid_input_declaration"),
        ("inputs[1].id", 3, "invalid_input_declaration"),
        ("inputs[2].id", 4, "invalid_input_declaration"),
        ("inputs[3].itemType", 5, "invalid_input_declaration"),
    ]


def test_a_stored_files_uri_is_its_value():
    assert convert(FlowInput("data", InputType.FILE), URI) == URI


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("rows.csv", "expected an uploaded file"),
        ("https://example.com/rows.csv", "expected an uploaded file"),
        ({"uri": URI}, "expected an uploaded file"),
        (12, "expected an uploaded file"),
        ("millrace:///production/../elsewhere/a.txt", "may not contain '..'"),
        ("millrace:///production/a\x00b", "control characters"),
        ("millrace:///", "A file path is required"),
    ],
    ids=["a-name", "a-url", "an-object", "a-number", "dots", "control-character", "empty"],
)
def test_anything_else_is_refused_saying_how_to_give_a_file(given, says):
    with pytest.raises(ValueError, match=says):
        convert(FlowInput("data", InputType.FILE), given)
