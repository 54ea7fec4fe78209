"""The richer input types: their declaration (`values`, `itemType`, defaults) and conversion."""

import pytest

from flows.definitions import InputType
from flows.definitions.input_types import convert
from flows.definitions.ir import FlowInput
from tests.flows.definitions.support import compile_yaml, found, problems_of

ONE_TASK = "tasks:\n  - {name: a, type: util.echo}\n"


def test_every_new_type_is_declared_with_its_options():
    flow = compile_yaml(
        """
        inputs:
          - {id: env, type: SELECT, values: [dev, prod], defaults: dev}
          - {id: regions, type: MULTISELECT, values: [eu, us, 3]}
          - {id: at, type: DATETIME, defaults: "2026-01-31T09:30:00"}
          - {id: day, type: DATE, defaults: 2026-01-31}
          - {id: wait, type: DURATION, defaults: pt30m}
          - {id: ids, type: ARRAY, itemType: INT}
          - {id: any, type: array}
          - {id: site, type: URI}
          - {id: mail, type: EMAIL}
          - {id: token, type: SECRET}
        tasks:
          - {name: a, type: util.echo}
        """
    )
    kinds = {declared.id: declared.type for declared in flow.inputs}
    assert kinds["token"] == InputType.SECRET and kinds["any"] == InputType.ARRAY
    env, regions, at, day, wait, ids, anything = flow.inputs[:7]
    assert (env.values, env.default) == (["dev", "prod"], "dev")
    assert regions.values == ["eu", "us", "3"]
    assert at.default == "2026-01-31T09:30:00+00:00"  # no offset: UTC
    assert day.default == "2026-01-31"  # YAML's date, kept as ISO text
    assert wait.default == "PT30M"
    assert (ids.item_type, anything.item_type) == (InputType.INT, None)


def test_bad_declarations_are_reported_with_their_lines():
    problems = problems_of(
        """
        inputs:
          - {id: a, type: SELECT}
          - {id: b, type: MULTISELECT, values: [x, x]}
          - {id: c, type: STRING, values: [x]}
          - {id: d, type: ARRAY, itemType: SECRET}
          - {id: e, type: INT, itemType: INT}
          - {id: f, type: SELECT, values: [x], defaults: y}
          - {id: g, type: DATE, defaults: "31/01/2026"}
          - {id: h, type: SECRET, defaults: hunter22}
          - {id: i, type: SELECT, values: [{x: 1}]}
        tasks:
          - {name: a, type: util.echo}
        """
    )
    assert found(problems) == [
        ("inputs[0].values", 2, "invalid_input_declaration"),
        ("inputs[1].values", 3, "invalid_input_declaration"),
        ("inputs[2].values", 4, "invalid_input_declaration"),
        ("inputs[3].itemType", 5, "invalid_input_declaration"),
        ("inputs[4].itemType", 6, "invalid_input_declaration"),
        ("inputs[5].defaults", 7, "invalid_input_declaration"),
        ("inputs[6].defaults", 8, "invalid_input_declaration"),
        ("inputs[7].defaults", 9, "invalid_input_declaration"),
        ("inputs[8].values", 10, "invalid_input_declaration"),
    ]


@pytest.mark.parametrize(
    ("declared", "given", "expected"),
    [
        (FlowInput("s", InputType.SELECT, values=["a", "1"]), 1, "1"),
        (FlowInput("m", InputType.MULTISELECT, values=["a", "b"]), '["b", "a"]', ["b", "a"]),
        (FlowInput("t", InputType.DATETIME), "2026-01-31T09:30:00+02:00", "2026-01-31T09:30:00+02:00"),
        (FlowInput("t", InputType.DATETIME), "2026-01-31T09:30Z", "2026-01-31T09:30:00+00:00"),
        (FlowInput("d", InputType.DATE), " 2026-01-31", "2026-01-31"),
        (FlowInput("p", InputType.DURATION), "p1dt2h", "P1DT2H"),
        (FlowInput("l", InputType.ARRAY, item_type=InputType.INT), ["1", 2.0], [1, 2]),
        (FlowInput("l", InputType.ARRAY), '[1, {"a": 2}]', [1, {"a": 2}]),
        (FlowInput("u", InputType.URI), "https://example.com/a?b=1", "https://example.com/a?b=1"),
        (FlowInput("u", InputType.URI), "mailto:ada@example.com", "mailto:ada@example.com"),
        (FlowInput("e", InputType.EMAIL), "ada@example.com", "ada@example.com"),
        (FlowInput("k", InputType.SECRET), "hunter22", "hunter22"),
    ],
)
def test_values_convert_to_their_type(declared, given, expected):
    assert convert(declared, given) == expected


@pytest.mark.parametrize(
    ("declared", "given", "says"),
    [
        (FlowInput("s", InputType.SELECT, values=["a"]), "b", "'b' is not one of a"),
        (FlowInput("s", InputType.SELECT, values=["a"]), ["a"], "expected one of a"),
        (FlowInput("m", InputType.MULTISELECT, values=["a"]), ["a", "c"], "'c' is not one of a"),
        (FlowInput("m", InputType.MULTISELECT, values=["a"]), "a", "Expecting value"),
        (FlowInput("t", InputType.DATETIME), "yesterday", "ISO-8601 date and time"),
        (FlowInput("d", InputType.DATE), "2026-02-30", "ISO-8601 date"),
        (FlowInput("p", InputType.DURATION), "30", "ISO-8601 duration"),
        (FlowInput("p", InputType.DURATION), "P1Y", "years or months"),
        (FlowInput("l", InputType.ARRAY, item_type=InputType.INT), [1, "x"], "item 1: expected an integer"),
        (FlowInput("l", InputType.ARRAY), {"a": 1}, "expected a list"),
        (FlowInput("u", InputType.URI), "not a uri", "expected a URI"),
        (FlowInput("u", InputType.URI), "https:///path", "with a host"),
        (FlowInput("e", InputType.EMAIL), "ada@", "expected an email address"),
        (FlowInput("k", InputType.SECRET), {"a": 1}, "expected a string"),
    ],
)
def test_bad_values_say_what_was_expected(declared, given, says):
    with pytest.raises(ValueError, match=says):
        convert(declared, given)
