"""Flow-level fields: typed inputs, triggers."""

import pytest

from flows.definitions import FlowInput, InputType, TriggerType
from tests.flows.definitions.support import compile_yaml, found, problems_of

ONE_TASK = "tasks:\n  - {name: a, type: util.echo}\n"


def test_typed_inputs_with_defaults():
    flow = compile_yaml(
        """
        inputs:
          - id: customer
            type: STRING
            required: true
            description: Who
          - id: count
            type: int
            defaults: 3
          - id: ratio
            type: FLOAT
            default: 1
          - id: dry_run
            type: BOOLEAN
            defaults: false
          - id: payload
            type: JSON
            defaults: {a: [1, 2]}
          - id: plain
        tasks:
          - {name: a, type: util.echo}
        """
    )
    assert [(i.id, i.type, i.required, i.default, i.has_default) for i in flow.inputs] == [
        ("customer", InputType.STRING, True, None, False),
        ("count", InputType.INT, False, 3, True),
        ("ratio", InputType.FLOAT, False, 1, True),
        ("dry_run", InputType.BOOLEAN, False, False, True),
        ("payload", InputType.JSON, False, {"a": [1, 2]}, True),
        ("plain", InputType.STRING, False, None, False),
    ]
    assert flow.input("customer").description == "Who"
    assert flow.input("missing") is None
    assert isinstance(flow.inputs[0], FlowInput)


def test_bad_input_declarations_are_each_reported():
    problems = problems_of(
        """
        inputs:
          - id: a
            type: COLOR
          - id: a
          - type: INT
          - id: n
            type: INT
            defaults: "three"
          - id: b
            type: BOOLEAN
            defaults: "{{ vars.flag }}"
            required: maybe
            color: red
          - just-a-name
        tasks:
          - {name: a, type: util.echo}
        """
    )
    assert found(problems) == [
        ("inputs[0].type", 3, "invalid_input_declaration"),
        ("inputs[1].id", 4, "invalid_input_declaration"),
        ("inputs[2].id", 5, "missing"),
        ("inputs[3].defaults", 8, "invalid_input_declaration"),
        ("inputs[4].required", 12, "invalid_type"),
        ("inputs[4].color", 13, "unknown_key"),
        ("inputs[5]", 14, "invalid_type"),
    ]
    assert "unknown input type 'COLOR'" in problems[0].message
    assert "duplicate input id 'a'" in problems[1].message


def test_inputs_must_be_a_list():
    assert found(problems_of("inputs: {a: STRING}\n" + ONE_TASK)) == [("inputs", 1, "invalid_type")]


def test_triggers_of_every_type():
    flow = compile_yaml(
        """
        triggers:
          - name: nightly
            type: schedule
            cron: "0 3 * * *"
            timezone: Europe/Paris
            inputs: {full: true}
          - type: io.kestra.plugin.core.trigger.Webhook
            key: my-webhook-key
          - type: flow
            flow: upstream
            namespace: production
            statuses: [success, FAILED]
          - type: flow
            sourceFlowId: 1b4e28ba-2fa1-11d2-883f-0016d3cca427
            enabled: false
          - type: webhook
        tasks:
          - {name: a, type: util.echo}
        """
    )
    nightly, hook, by_name, by_id, generated = flow.triggers
    assert (nightly.name, nightly.type, nightly.cron, nightly.timezone) == (
        "nightly",
        TriggerType.SCHEDULE,
        "0 3 * * *",
        "Europe/Paris",
    )
    assert nightly.inputs == {"full": True} and nightly.enabled
    assert (hook.name, hook.type, hook.key) == ("webhook-2", TriggerType.WEBHOOK, "my-webhook-key")
    assert (by_name.source_flow, by_name.source_namespace, by_name.statuses) == (
        "upstream",
        "production",
        ["SUCCESS", "FAILED"],
    )
    assert (by_id.source_flow_id, by_id.statuses, by_id.enabled) == (
        "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        ["SUCCESS"],
        False,
    )
    assert generated.key is None  # generated when the trigger is synced


def test_schedule_timezone_defaults_to_utc():
    flow = compile_yaml("triggers:\n  - {type: schedule, cron: '@daily'}\n" + ONE_TASK)
    assert (flow.triggers[0].cron, flow.triggers[0].timezone) == ("@daily", "UTC")


@pytest.mark.parametrize(
    ("trigger", "path", "code"),
    [
        ("{type: schedule, cron: '61 * * * *'}", "triggers[0].cron", "invalid_cron"),
        ("{type: schedule, cron: 'every day'}", "triggers[0].cron", "invalid_cron"),
        ("{type: schedule, cron: 5}", "triggers[0].cron", "invalid_cron"),
        ("{type: schedule}", "triggers[0].cron", "missing"),
        ("{type: schedule, cron: '* * * * *', timezone: Mars/Olympus}", "triggers[0].timezone", "invalid_timezone"),
        ("{type: schedule, cron: '* * * * *', timezone: ../../etc/passwd}", "triggers[0].timezone", "invalid_timezone"),
        ("{type: schedule, cron: '* * * * *', key: abc}", "triggers[0].key", "unknown_key"),
        ("{type: webhook, key: 'has space'}", "triggers[0].key", "invalid_value"),
        ("{type: flow}", "triggers[0]", "missing"),
        ("{type: flow, sourceFlowId: not-a-uuid}", "triggers[0].sourceFlowId", "invalid_value"),
        ("{type: flow, flow: up, statuses: [DONE]}", "triggers[0].statuses[0]", "invalid_value"),
        ("{type: flow, flow: up, statuses: []}", "triggers[0].statuses", "invalid_type"),
        ("{type: cronjob}", "triggers[0].type", "invalid_value"),
        ("{type: webhook, enabled: yes please}", "triggers[0].enabled", "invalid_type"),
        ("{type: webhook, inputs: [1]}", "triggers[0].inputs", "invalid_type"),
        ("not a mapping", "triggers[0]", "invalid_type"),
    ],
)
def test_trigger_mistakes(trigger: str, path: str, code: str):
    problems = problems_of(f"triggers:\n  - {trigger}\n" + ONE_TASK)
    assert found(problems) == [(path, 2, code)]


def test_duplicate_trigger_names_and_non_list_triggers():
    problems = problems_of("triggers:\n  - {name: t, type: webhook}\n  - {name: t, type: webhook}\n" + ONE_TASK)
    assert found(problems) == [("triggers[1]", 3, "duplicate_name")]
    assert found(problems_of("triggers: {type: webhook}\n" + ONE_TASK)) == [("triggers", 1, "invalid_type")]


def test_labels_in_both_formats():
    assert compile_yaml("labels: {team: data, env: prod}\n" + ONE_TASK).labels == {"team": "data", "env": "prod"}
    nodes = compile_yaml(
        """
        metadata:
          name: n
          labels: {team: data}
        nodes:
          start: {type: util.echo}
        """
    )
    assert nodes.labels == {"team": "data"}


def test_bad_labels_are_each_reported_with_their_line():
    long = "x" * 101
    problems = problems_of(f"labels:\n  n: 3\n  {long}: v\n  ok: {long}\n  fine: yes-it-is\n" + ONE_TASK)
    assert found(problems) == [
        ("labels.n", 2, "invalid_label"),
        (f"labels.{long}", 3, "invalid_label"),
        ("labels.ok", 4, "invalid_label"),
    ]
    assert "must be a string, not a number" in problems[0].message
    assert found(problems_of("labels: [a]\n" + ONE_TASK)) == [("labels", 1, "invalid_type")]
    both = "labels: {a: b}\nmetadata:\n  labels: {c: d}\nnodes:\n  start: {type: util.echo}\n"
    assert found(problems_of(both)) == [("metadata.labels", 3, "conflict")]
