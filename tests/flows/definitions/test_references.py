"""Secret references: `${NAME}` and literal `secret('NAME')`."""

import pytest

from flows.definitions import SECRET_REFERENCE, secret_references
from flows.definitions.references import names_in
from tests.flows.definitions.support import compile_yaml


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("${API_KEY}", ["API_KEY"]),
        ("Bearer ${token} for ${user_1}", ["token", "user_1"]),
        ("{{ secret('DB_PASSWORD') }} and ${API_KEY}", ["DB_PASSWORD", "API_KEY"]),
        ('{{ secret("double") | upper }}', ["double"]),
        ("secret('NOT_IN_A_TEMPLATE')", []),
        ("{{ secret(name) }}", []),  # not a literal: cannot be checked before run time
        ("$API_KEY ${} ${1ABC} {API_KEY}", []),
        ("price: $5", []),
    ],
)
def test_names_in(text: str, names: list[str]):
    assert names_in(text) == names


def test_secret_reference_pattern_is_shared_with_the_renderer():
    assert SECRET_REFERENCE.sub(lambda m: f"<{m.group(1)}>", "a ${X} b ${Y_2}") == "a <X> b <Y_2>"


def test_secret_references_of_a_flow_cover_every_rendered_value():
    flow = compile_yaml("""
        description: "mentions ${NOT_RENDERED} in prose"
        variables: {auth: "${FROM_VARIABLES}"}
        inputs:
          - {id: key, defaults: "${FROM_DEFAULT}"}
        tasks:
          - name: loop
            type: flow.forEach
            items: ["${FROM_ITEMS}"]
            tasks:
              - name: call
                type: http.request
                properties:
                  url: https://example.com
                  headers: {Authorization: "Bearer ${FROM_NESTED_TASK}"}
                  body: ["{{ secret('FROM_CALL') }}"]
        errors:
          - name: alert
            type: util.log
            properties: {message: "${FROM_ERRORS}"}
        triggers:
          - {type: webhook, inputs: {t: "${FROM_TRIGGER}"}}
        """)
    assert secret_references(flow) == {
        "FROM_VARIABLES",
        "FROM_DEFAULT",
        "FROM_ITEMS",
        "FROM_NESTED_TASK",
        "FROM_CALL",
        "FROM_ERRORS",
        "FROM_TRIGGER",
    }


def test_a_flow_without_secrets_references_none():
    assert (
        secret_references(compile_yaml("tasks:\n  - {name: a, type: util.log, properties: {message: hi}}\n")) == set()
    )
