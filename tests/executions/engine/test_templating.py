"""Task input templating: native values, text, context, secrets, errors, sandbox and limits."""

import pytest

from executions.engine import templating
from executions.engine.templating import RenderContext, TemplateRenderer, TemplateRenderError, render_value
from vault.masking import MASK


class FakeResolver:
    def __init__(self, secrets=None, kv=None):
        self.secrets = secrets or {}
        self.store = kv or {}
        self.asked = []

    def secret(self, name):
        self.asked.append(name)
        return self.secrets[name]

    def kv(self, key):
        return self.store[key]


@pytest.fixture
def resolver():
    return FakeResolver(
        secrets={
            "TOKEN": "tok-123456",
            "TEMPLATE_LIKE": "{{ 7 * 7 }}",
            "DOLLAR_LIKE": "${TOKEN}",
            "USER": "admin-user",
        },
        kv={"limits": {"max": 10}},
    )


@pytest.fixture
def context():
    return RenderContext(
        inputs={"count": 3, "name": "ada", "tags": ["a", "b"], "flag": True, "payload": "${TOKEN}"},
        outputs={"fetch": {"status": 200, "body": {"items": [1, 2]}}},
        vars={"base": "https://api.example.com"},
        execution={"id": "e-1", "namespace": "production", "flow": "sync", "startedAt": "2024-01-01T00:00:00Z"},
        trigger={"type": "webhook", "body": {"x": 1}},
        item={"id": 7},
        index=2,
        message={"payload": {"text": "hi"}},
    )


@pytest.fixture
def renderer(context, resolver):
    return TemplateRenderer(context, resolver)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.count }}", 3),
        ("  {{ inputs.count * 2 }}\n", 6),
        ("{{ inputs.tags }}", ["a", "b"]),
        ("{{ outputs.fetch.body }}", {"items": [1, 2]}),
        ("{{ inputs.flag }}", True),
        ("{{ none }}", None),
        ("{{ 1.5 }}", 1.5),
        ("{{ {'a': [1, (2, 3)]} }}", {"a": [1, [2, 3]]}),
        ("{{ range(3) }}", [0, 1, 2]),
        ("{{ inputs.name }}", "ada"),
    ],
)
def test_single_expression_renders_the_native_value(renderer, template, expected):
    result = renderer.render(template)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("count={{ inputs.count }}", "count=3"),
        ("{{ inputs.count }}{{ inputs.count }}", "33"),
        ("{{ vars.base }}/users/{{ inputs.name }}\n", "https://api.example.com/users/ada\n"),
        ("{% for t in inputs.tags %}[{{ loop.index }}:{{ t }}]{% endfor %}", "[1:a][2:b]"),
        ("{% if inputs.flag %}yes{% else %}no{% endif %}", "yes"),
        ("body: {{ outputs.fetch.body }} {{ inputs.flag }} {{ none }}", 'body: {"items": [1, 2]} true null'),
        ("{% raw %}{{ inputs.count }}{% endraw %}", "{{ inputs.count }}"),
        ("no template at all", "no template at all"),
    ],
)
def test_text_templates(renderer, template, expected):
    assert renderer.render(template) == expected


def test_nested_structures_are_walked_and_keys_and_scalars_kept(renderer):
    value = {"url": "{{ vars.base }}/x", "{{ key }}": [1, "{{ inputs.count }}", {"n": None, "b": False}]}
    assert renderer.render(value, "properties") == {
        "url": "https://api.example.com/x",
        "{{ key }}": [1, 3, {"n": None, "b": False}],
    }


def test_every_context_variable(renderer):
    template = (
        "{{ inputs.name }}|{{ outputs.fetch.status }}|{{ vars.base }}|{{ execution.id }}|{{ execution.namespace }}|"
        "{{ execution.flow }}|{{ execution.startedAt }}|{{ trigger.body.x }}|{{ item.id }}|{{ index }}|"
        "{{ message.payload.text }}"
    )
    assert renderer.render(template) == (
        "ada|200|https://api.example.com|e-1|production|sync|2024-01-01T00:00:00Z|1|7|2|hi"
    )


def test_a_plain_mapping_works_as_context():
    assert render_value("{{ inputs.a + 1 }}", {"inputs": {"a": 1}}) == 2


def test_secret_function_dollar_lookup_and_kv(renderer, resolver):
    assert renderer.render("{{ secret('TOKEN') }}") == "tok-123456"
    assert renderer.render("Bearer ${TOKEN}") == "Bearer tok-123456"
    assert renderer.render("${USER}:${TOKEN}") == "admin-user:tok-123456"
    assert renderer.render("{{ kv('limits').max }}") == 10
    assert renderer.render("{{ kv('missing', 'fallback') }}") == "fallback"
    assert renderer.used_secrets == {"tok-123456", "admin-user"}


def test_secret_contents_are_never_rendered_again(renderer):
    assert renderer.render("${TEMPLATE_LIKE}") == "{{ 7 * 7 }}"
    assert renderer.render("{{ secret('TEMPLATE_LIKE') }}") == "{{ 7 * 7 }}"
    assert renderer.render("x ${DOLLAR_LIKE} x") == "x ${TOKEN} x"
    assert "tok-123456" not in renderer.used_secrets


def test_dollar_in_data_is_not_a_lookup(renderer, resolver):
    assert renderer.render("{{ inputs.payload }}") == "${TOKEN}"
    assert renderer.render("got {{ inputs.payload }}") == "got ${TOKEN}"
    assert resolver.asked == []


def test_double_dollar_is_a_literal(renderer, resolver):
    assert renderer.render("echo $${HOME} ${USER}") == "echo ${HOME} admin-user"
    assert renderer.render("{{ 'echo $${HOME}' }}") == "echo ${HOME}"
    assert resolver.asked == ["USER"]


def test_dollar_inside_an_expression_is_refused_with_a_hint(renderer, resolver):
    with pytest.raises(TemplateRenderError, match=r"secret\('TOKEN'\)"):
        renderer.render("{{ 'Bearer ${TOKEN}' }}")
    assert resolver.asked == []


def test_only_secrets_of_the_branch_taken_are_looked_up(renderer, resolver):
    assert renderer.render("{% if inputs.flag %}${USER}{% else %}${TOKEN}{% endif %}") == "admin-user"
    assert resolver.asked == ["USER"]


def test_recorded_secrets_mask_rendered_inputs(renderer):
    rendered = renderer.render(
        {"headers": {"Authorization": "Bearer ${TOKEN}"}, "user": "{{ secret('USER') }}", "n": "{{ 5 }}"}
    )
    assert rendered["headers"]["Authorization"] == "Bearer tok-123456"
    assert renderer.used_secrets == {"tok-123456", "admin-user"}
    assert renderer.masker().mask(rendered) == {"headers": {"Authorization": f"Bearer {MASK}"}, "user": MASK, "n": 5}


def test_undefined_variable_names_the_field(renderer):
    with pytest.raises(TemplateRenderError) as raised:
        renderer.render({"url": "{{ vars.base }}/{{ inputs.nope }}"}, "properties")
    assert raised.value.field_path == "properties.url"
    assert str(raised.value).startswith("properties.url: undefined value")
    assert "nope" in raised.value.message


@pytest.mark.parametrize(
    "template", ["{{ 1.0e308 * 10 }}", "{{ [1, -1.0e308 * 10] }}", "{{ {'x': (1.0e308 * 10) - (1.0e308 * 10)} }}"]
)
def test_a_value_json_cannot_hold_names_the_field(renderer, template):
    """inf and nan render fine in Python but could never be written: the step fails instead."""
    with pytest.raises(TemplateRenderError) as raised:
        renderer.render({"n": template}, "properties")
    assert raised.value.field_path == "properties.n" and "JSON cannot hold" in raised.value.message


def test_field_path_of_list_items(renderer):
    with pytest.raises(TemplateRenderError) as raised:
        renderer.render({"args": ["ok", "{{ missing }}"]}, "properties")
    assert raised.value.field_path == "properties.args[1]"
    assert "'missing' is undefined" in raised.value.message


def test_syntax_error_names_the_line(renderer):
    with pytest.raises(TemplateRenderError, match="syntax error on line 2") as raised:
        renderer.render("first line\n{{ inputs.count }\n", "properties.body")
    assert raised.value.field_path == "properties.body"


@pytest.mark.parametrize("template", ["{{ secret('NOPE') }}", "x ${NOPE}"])
def test_missing_secret(renderer, template):
    with pytest.raises(TemplateRenderError, match="secret 'NOPE' is not defined"):
        renderer.render(template, "p")


def test_missing_kv_key_and_missing_resolver(context):
    with pytest.raises(TemplateRenderError, match="kv key 'k' is not defined"):
        TemplateRenderer(context).render("{{ kv('k') }}")
    with pytest.raises(TemplateRenderError, match="secret 'A' is not defined"):
        TemplateRenderer(context).render("${A}")


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ inputs[secret('TOKEN')] }}", "a secret cannot be a key"),
        ("${TOKEN}{{ inputs[secret('TOKEN')] }}", "a secret cannot be a key"),
        ("{{ inputs['tok-' ~ '123456'] }}", f"no attribute '{MASK}'"),
    ],
)
def test_errors_never_contain_secret_values(renderer, template, reason):
    renderer.render("${TOKEN}")  # a secret recorded earlier is masked in later errors too
    with pytest.raises(TemplateRenderError) as raised:
        renderer.render(template, "p")
    assert "tok-123456" not in str(raised.value)
    assert reason in raised.value.message
    # The original exception quoting the value is not chained onto the error.
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__ }}",
        "x {{ cycler.__init__.__globals__ }}",
        "{{ joiner }}",
        "{{ namespace() }}",
        "{{ dict(a=1) }}",
        "{{ self.__dict__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ request }}",
        "{{ config }}",
        "{{ '{0.__class__}'.format(inputs.name) }}",
        "{{ ('{0.__class__}' | attr('format'))(inputs.name) }}",
        "{{ inputs.name | attr('__class__') }}",
        "{{ inputs.tags.append(1) }}",
        "{{ secret.__globals__ }}",
        "{{ range.__self__ }}",
        "{{ inputs.name.__len__ }}",
        "{% include 'x' %}",
        "{% macro m() %}{% endmacro %}",
        "{% set s %}{{ 1 }}{% endset %}",
        "{% filter upper %}x{% endfilter %}",
        "{% block b %}x{% endblock %}",
        "{% for x in [1] recursive %}{% endfor %}",
    ],
)
def test_sandbox_escapes_are_refused(renderer, template):
    with pytest.raises(TemplateRenderError) as raised:
        renderer.render(template, "p")
    message = raised.value.message
    assert message.startswith(("refused by the template sandbox", "undefined value", "template syntax error"))
    assert "<class" not in message


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ 'x' * 10**9 }}", "larger than"),
        ("{{ ['x'] * 2000000 }}", "larger than"),
        ("{{ [('x' * 1000)] * 2000 }}", "larger than"),
        ("{{ 2 ** 100000 }}", "bits"),
        ("{{ 'x'.ljust(10**8) }}", "size argument"),
        ("{{ 'x' | center(10**8) }}", "size argument"),
        ("{{ [1] | batch(10**8, 0) | list }}", "size argument"),
        ("{{ ('x' * 1000000).replace('x', 'yy') }}", "larger than"),
        ("{{ ('x' * 1000) | replace('x', 'y' * 2000) }}", "larger than"),
        ("{{ ('x' * 1000).join(['a'] * 2000) }}", "larger than"),
        ("{{ (['x' * 1000] * 1000) | join('y' * 1000) }}", "larger than"),
        ("{% set s = 'x' * 1000000 %}{{ s ~ s }}", "larger than"),
        ("{% set s = 'x' * 1000000 %}{{ s + s }}", "larger than"),
        ("{% for i in range(2000) %}{{ 'x' * 1000 }}{% endfor %}", "longer than"),
        ("{{ '%*d' % (10, 1) }}", "%-format"),
        ("{{ '%.99999999f' | format(1) }}", "%-format"),
        ("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", "iterations"),
        ("{{ range(10**7) }}", "Range too big"),
    ],
)
def test_size_and_work_bombs_are_refused(renderer, template, reason):
    with pytest.raises(TemplateRenderError, match=reason):
        renderer.render(template, "p")


def test_render_time_is_bounded(renderer, monkeypatch):
    monkeypatch.setattr(templating, "MAX_RENDER_SECONDS", -1)
    with pytest.raises(TemplateRenderError, match="longer than"):
        renderer.render("{% for i in range(3) %}{{ i }}{% endfor %}", "p")


def test_values_within_the_limits_render(renderer):
    assert len(renderer.render("{{ 'x' * 1000000 }}")) == 1000000
    assert renderer.render("{{ '%05.1f' % 3.14159 }}") == "003.1"
    assert renderer.render("{{ '%s-%s' | format(1, 2) }}") == "1-2"
    assert renderer.render("{{ 2 ** 64 }}") == 2**64


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ {'b': 1, 'a': [true, none]} | tojson }}", '{"b": 1, "a": [true, null]}'),
        ("{{ '{\"a\": [1, 2]}' | fromjson }}", {"a": [1, 2]}),
        ("{{ 'user:pass' | b64encode }}", "dXNlcjpwYXNz"),
        ("{{ 'dXNlcjpwYXNz' | b64decode }}", "user:pass"),
        ("{{ 'abc' | sha256 }}", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("{{ inputs.nope | default('d') }}", "d"),
        ("{{ inputs.tags | join(',') }}", "a,b"),
        ("{{ inputs.tags | map('upper') | list }}", ["A", "B"]),
    ],
)
def test_filters(renderer, template, expected):
    assert renderer.render(template) == expected


def test_a_native_value_that_is_not_json_is_an_error(renderer):
    with pytest.raises(TemplateRenderError, match="not a JSON value"):
        renderer.render("{{ inputs.items() }}", "p")


def test_context_lists_cannot_be_mutated(renderer, context):
    with pytest.raises(TemplateRenderError):
        renderer.render("{{ inputs.tags.append('x') }}")
    assert context.inputs["tags"] == ["a", "b"]


@pytest.mark.parametrize(
    "template", ["x {{ range }}", "{% for i in [1] %}{{ loop }}{% endfor %}", "{{ self }} x", "x {{ lipsum }}"]
)
def test_python_objects_are_not_printed_with_their_repr(renderer, template):
    with pytest.raises(TemplateRenderError) as refused:
        renderer.render(template, "field")
    assert "0x" not in str(refused.value)


def test_a_context_given_as_a_function_is_made_once_and_only_for_a_template():
    made = []

    def context() -> RenderContext:
        made.append(1)
        return RenderContext(outputs={"a": {"value": 3}})

    renderer = TemplateRenderer(context)
    assert renderer.render({"n": 10, "text": "plain", "list": ["x", 1]}) == {"n": 10, "text": "plain", "list": ["x", 1]}
    assert made == []  # no template: the context (every earlier step's outputs) is never made
    assert renderer.render({"a": "{{ outputs.a.value }}", "b": "{{ outputs.a.value + 1 }}"}) == {"a": 3, "b": 4}
    assert made == [1]


def test_a_context_that_cannot_be_made_fails_only_a_template_and_says_why():
    def context() -> RenderContext:
        raise LookupError("the key the SECRET inputs were sealed with is gone")

    renderer = TemplateRenderer(context)
    assert renderer.render({"n": 10}) == {"n": 10}
    with pytest.raises(TemplateRenderError) as failed:
        renderer.render({"a": "{{ inputs.token }}"})
    assert "the key the SECRET inputs were sealed with is gone" in str(failed.value)
