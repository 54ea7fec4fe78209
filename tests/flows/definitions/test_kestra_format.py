"""Kestra's YAML format: detection, the type map, properties, Pebble, and the flow-level keys."""

import textwrap

import pytest

from flows.definitions import DefinitionError, FlowFormat, compile_definition, detect_format, validate_definition
from flows.definitions.ir import ConcurrencyBehavior, TriggerType
from flows.definitions.kestra import KESTRA_PY, SHIM_FILE

pytestmark = pytest.mark.registry
LOG = "io.kestra.plugin.core.log.Log"


def kestra(tasks: str, top: str = "") -> str:
    """A Kestra flow around `tasks` (YAML of the list's items, 2-space indented)."""
    body = textwrap.indent(textwrap.dedent(tasks), "  ")
    return f"id: demo\nnamespace: company.team\n{textwrap.dedent(top)}tasks:\n{body}"


def compiled(tasks: str, top: str = ""):
    return compile_definition(kestra(tasks, top))


def problems(tasks: str, top: str = "") -> list[tuple[str, int | None, str]]:
    return [(p.path, p.line, p.message) for p in validate_definition(kestra(tasks, top))]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"id": "a", "tasks": [{"id": "t", "type": LOG, "message": "m"}]}, FlowFormat.KESTRA),
        (
            {"id": "a", "tasks": [{"id": "t", "type": "util.log"}], "errors": [{"id": "e", "type": LOG}]},
            FlowFormat.KESTRA,
        ),
        ({"id": "a", "tasks": [{"id": "t", "type": LOG, "properties": {"message": "m"}}]}, FlowFormat.TASKS),
        ({"name": "a", "tasks": [{"name": "t", "type": LOG, "message": "m"}]}, FlowFormat.TASKS),
        ({"id": "a", "tasks": [{"id": "t", "type": "util.log"}]}, FlowFormat.TASKS),
        ({"id": "a", "tasks": []}, FlowFormat.TASKS),
    ],
    ids=["kestra", "kestra-in-errors", "properties-key", "name-key", "millrace-type", "empty"],
)
def test_detection(data, expected):
    assert detect_format(data) == expected


def test_a_workflowdev_flow_using_a_kestra_alias_stays_a_tasks_flow():
    source = "name: a\ntasks:\n  - name: t\n    type: io.kestra.plugin.core.log.Log\n    properties: {message: m}\n"
    flow = compile_definition(source)
    assert flow.format == FlowFormat.TASKS and flow.main.steps[0].type == "io.kestra.plugin.core.log.Log"


def test_log_return_and_output_values_map_to_plugins():
    flow = compiled("""\
        - id: hello
          type: io.kestra.plugin.core.log.Log
          message: "Hi {{ inputs.who }}"
          level: WARN
        - id: answer
          type: io.kestra.plugin.core.debug.Return
          format: "{{ outputs.hello.message }}"
        - id: many
          type: io.kestra.plugin.core.output.OutputValues
          values: {a: 1}
        """)
    assert flow.format == FlowFormat.KESTRA and (flow.name, flow.namespace) == ("demo", "company.team")
    hello, answer, many = flow.main.steps
    assert (hello.id, hello.type, hello.inputs) == (
        "hello",
        "util.log",
        {"message": "Hi {{ inputs.who }}", "level": "WARN"},
    )
    assert (answer.type, answer.inputs) == ("util.echo", {"value": {"value": "{{ outputs.hello.message }}"}})
    assert (many.type, many.inputs) == ("util.echo", {"value": {"values": {"a": 1}}})
    assert hello.line == 4 and hello.input_sources["level"] == ("tasks", 0, "level")


def test_http_request_properties_become_the_plugins_inputs():
    step = compiled("""\
        - id: call
          type: io.kestra.plugin.core.http.Request
          uri: https://example.com/api
          method: POST
          contentType: application/json
          body: '{"a": 1}'
          allowFailed: true
          auth: {type: BASIC, username: u, password: p}
        """).main.steps[0]
    assert step.type == "http.request"
    assert step.inputs == {
        "url": "https://example.com/api",
        "method": "POST",
        "body": '{"a": 1}',
        "body_format": "raw",
        "headers": {"Content-Type": "application/json"},
        "fail_on_status": False,
        "basic_auth_username": "u",
        "basic_auth_password": "p",
    }


def test_an_http_requests_code_reads_as_status_code():
    flow = compiled("""\
        - id: call
          type: io.kestra.plugin.core.http.Request
          uri: https://example.com
        - id: show
          type: io.kestra.plugin.core.log.Log
          message: "{{ outputs.call.code }} {{ outputs.other.code }}"
        """)
    assert flow.step("show").inputs["message"] == "{{ outputs.call.status_code }} {{ outputs.other.code }}"


def test_control_constructs_keep_their_structure():
    flow = compiled("""\
        - id: each
          type: io.kestra.plugin.core.flow.ForEach
          values: [1, 2]
          concurrencyLimit: 3
          tasks:
            - id: check
              type: io.kestra.plugin.core.flow.If
              condition: "{{ taskrun.value > 1 }}"
              then:
                - {id: big, type: io.kestra.plugin.core.log.Log, message: "{{ taskrun.value }}"}
              else:
                - {id: small, type: io.kestra.plugin.core.log.Log, message: small}
        - id: route
          type: io.kestra.plugin.core.flow.Switch
          value: "{{ inputs.kind }}"
          cases:
            a: [{id: in_a, type: io.kestra.plugin.core.log.Log, message: a}]
          defaults: [{id: other, type: io.kestra.plugin.core.log.Log, message: other}]
        - id: both
          type: io.kestra.plugin.core.flow.Parallel
          concurrent: 2
          tasks: [{id: p1, type: io.kestra.plugin.core.log.Log, message: p}]
        - id: seq
          type: io.kestra.plugin.core.flow.Sequential
          tasks: [{id: s1, type: io.kestra.plugin.core.log.Log, message: s}]
        """)
    each = flow.step("each")
    assert (each.type, each.inputs["items"], each.concurrency) == ("flow.forEach", [1, 2], 3)
    check = flow.step("each.check")
    assert check.type == "flow.if" and check.condition == "{{ item > 1 }}"
    assert flow.step("each.check.big").inputs["message"] == "{{ item }}"
    assert set(check.blocks) == {"then", "else"}
    route = flow.step("route")
    assert route.type == "flow.switch" and set(route.cases) == {"a"} and "default" in route.blocks
    assert (flow.step("both").type, flow.step("both").concurrency) == ("flow.parallel", 2)
    assert flow.step("seq").type == "flow.sequential"


def test_pause_sleep_subflow_fail_and_kv():
    flow = compiled("""\
        - {id: wait, type: io.kestra.plugin.core.flow.Pause}
        - {id: nap, type: io.kestra.plugin.core.flow.Pause, delay: PT5S}
        - {id: sleep, type: io.kestra.plugin.core.flow.Sleep, duration: PT1S}
        - id: child
          type: io.kestra.plugin.core.flow.Subflow
          namespace: company.team
          flowId: child-flow
          inputs: {a: 1}
          wait: true
        - {id: stop, type: io.kestra.plugin.core.flow.Fail, errorMessage: bad}
        - {id: put, type: io.kestra.plugin.core.kv.Set, key: k, value: 1, ttl: PT1H}
        - {id: get, type: io.kestra.plugin.core.kv.Get, key: k}
        - {id: drop, type: io.kestra.plugin.core.kv.Delete, key: k}
        """)
    types = {step.id: (step.type, step.inputs) for step in flow.main.steps}
    assert types == {
        "wait": ("flow.pause", {}),
        "nap": ("util.sleep", {"duration": "PT5S"}),
        "sleep": ("util.sleep", {"duration": "PT1S"}),
        "child": (
            "flow.subflow",
            {"namespace": "company.team", "flow": "child-flow", "inputs": {"a": 1}, "wait": True},
        ),
        "stop": ("flow.fail", {"message": "bad"}),
        "put": ("kv.set", {"key": "k", "value": 1, "ttl": 3600}),
        "get": ("kv.get", {"key": "k"}),
        "drop": ("kv.delete", {"key": "k"}),
    }


def test_scripts_get_the_kestra_helper_and_before_commands():
    flow = compiled("""\
        - id: py
          type: io.kestra.plugin.scripts.python.Script
          containerImage: python:3.12-slim
          script: print(1)
        - id: cmds
          type: io.kestra.plugin.scripts.python.Commands
          beforeCommands: [echo before]
          commands: [python main.py]
          inputFiles: {main.py: "print(2)"}
        - id: sh
          type: io.kestra.plugin.scripts.shell.Commands
          taskRunner: {type: io.kestra.plugin.core.runner.Process}
          commands: [echo hi]
        """)
    py, cmds, sh = flow.main.steps
    assert py.type == "script.python" and py.inputs == {"script": "print(1)", "inputFiles": {SHIM_FILE: KESTRA_PY}}
    assert cmds.type == "script.shell"
    assert cmds.inputs["commands"] == ["echo before", "python main.py"]
    assert cmds.inputs["inputFiles"] == {SHIM_FILE: KESTRA_PY, "main.py": "print(2)"}
    assert sh.type == "script.shell" and sh.inputs == {"commands": ["echo hi"]}


def test_plugins_with_a_kestra_alias_take_their_properties_inline():
    flow = compiled("""\
        - id: q
          type: io.kestra.plugin.jdbc.postgresql.Query
          url: jdbc:postgresql://db/app
          sql: SELECT 1
          fetchType: FETCH_ONE
        - id: slack
          type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
          url: https://hooks.slack.com/services/x
          payload: '{"text": "hi"}'
        """)
    assert [step.type for step in flow.main.steps] == ["sql.query", "notify.slack"]
    assert flow.main.steps[0].inputs == {"url": "jdbc:postgresql://db/app", "sql": "SELECT 1", "fetchType": "FETCH_ONE"}


def test_an_unknown_type_is_named_with_its_line():
    found = problems("""\
        - id: ok
          type: io.kestra.plugin.core.log.Log
          message: fine
        - id: nope
          type: io.kestra.plugin.core.made.Up
        - id: dag
          type: io.kestra.plugin.core.flow.Dag
          tasks: []
        - id: store
          type: io.kestra.plugin.core.storage.Reverse
        """)
    assert found[0] == (
        "tasks[1].type",
        8,
        "unknown Kestra type 'io.kestra.plugin.core.made.Up' (docs/kestra.md lists the mapped types)",
    )
    assert found[1][:2] == ("tasks[2].type", 10) and "use the nodes format" in found[1][2]
    assert found[2] == (
        "tasks[3].type",
        13,
        "Kestra type 'io.kestra.plugin.core.storage.Reverse' is not supported: of Kestra's internal-storage"
        " tasks only Write, Concat, Size, Split, Delete and PurgeCurrentExecutionFiles are mapped"
        " (file.write, file.concat, file.size, file.split, file.delete, file.purge)",
    )
    with pytest.raises(DefinitionError):
        compiled("- {id: nope, type: io.kestra.plugin.core.made.Up}\n")


def test_an_unknown_property_is_named_with_its_line():
    found = problems("""\
        - id: hello
          type: io.kestra.plugin.core.log.Log
          message: hi
          colour: blue
        - id: each
          type: io.kestra.plugin.core.flow.ForEach
          values: [1]
          tasks:
            - id: inner
              type: io.kestra.plugin.core.debug.Return
              format: x
              workerGroup: gpu
        """)
    assert found == [
        ("tasks[0].colour", 7, "unknown property 'colour' for io.kestra.plugin.core.log.Log"),
        ("tasks[1].tasks[0].workerGroup", 15, "unknown property 'workerGroup' for io.kestra.plugin.core.debug.Return"),
    ]


def test_unknown_top_level_keys_and_a_missing_id_are_problems():
    source = f"namespace: a\npluginDefaults: []\ntasks:\n  - {{id: t, type: {LOG}, message: m}}\n"
    found = sorted((p.path, p.line, p.code) for p in validate_definition(source))
    assert found == [("id", 1, "missing"), ("pluginDefaults", 2, "unknown_key")]


def test_a_disabled_task_is_left_out():
    flow = compiled(f"- {{id: a, type: {LOG}, message: m}}\n- {{id: b, type: {LOG}, message: m, disabled: true}}\n")
    assert [step.id for step in flow.main.steps] == ["a"]


def test_unmapped_pebble_is_a_problem_with_its_line():
    found = problems("""\
        - id: a
          type: io.kestra.plugin.core.log.Log
          message: "{{ now() | date('yyyy') }}"
        - id: b
          type: io.kestra.plugin.core.log.Log
          message: "{{ inputs.x ?? 'none' }}"
        - id: c
          type: io.kestra.plugin.core.log.Log
          message: "{{ flow.id }} {{ execution.startDate }} {{ inputs.a | toJson }} {{ secret('K') }}"
        """)
    lines = [(path, line) for path, line, _ in found]
    assert lines == [("tasks[0].message", 6), ("tasks[0].message", 6), ("tasks[1].message", 9)]
    assert "now()" in found[0][2] and "date filters" in found[1][2] and "??" in found[2][2]
    step = compiled(
        f'- {{id: c, type: {LOG}, message: "{{{{ flow.id }}}} {{{{ execution.startDate }}}} {{{{ x | toJson }}}}"}}\n'
    )
    assert step.main.steps[0].inputs["message"] == "{{ execution.flow }} {{ execution.startedAt }} {{ x | tojson }}"


def test_inputs_outputs_labels_variables_and_concurrency():
    flow = compiled(
        f"- {{id: t, type: {LOG}, message: m}}\n",
        """\
        inputs:
          - {id: who, type: STRING, defaults: me, displayName: Who}
          - {id: optional, type: INT, required: false}
          - {id: doc, type: JSON, defaults: '{"a": [1]}'}
          - {id: must, type: STRING}
        outputs:
          - {id: said, type: STRING, value: "{{ outputs.t.message }}"}
        labels:
          - {key: team, value: data}
        variables: {greeting: hi}
        concurrency: {limit: 2, behavior: FAIL}
        """,
    )
    inputs = {declared.id: (declared.required, declared.default) for declared in flow.inputs}
    assert inputs == {"who": (True, "me"), "optional": (False, None), "doc": (True, {"a": [1]}), "must": (True, None)}
    assert [(out.id, out.value) for out in flow.outputs] == [("said", "{{ outputs.t.message }}")]
    assert flow.labels == {"team": "data"} and flow.variables == {"greeting": "hi"}
    assert (flow.concurrency.limit, flow.concurrency.behavior) == (2, ConcurrencyBehavior.FAIL)


def test_retry_timeout_allow_failure_errors_and_finally():
    flow = compiled(
        f"""\
        - id: flaky
          type: {LOG}
          message: m
          timeout: PT30S
          allowFailure: true
          retry: {{type: exponential, maxAttempt: 4, interval: PT2S, maxInterval: PT1M, delayFactor: 3}}
        - id: steady
          type: {LOG}
          message: m
          retry: {{type: constant, maxAttempt: 2, interval: PT1S}}
        """,
        f"""\
        errors:
          - {{id: alert, type: {LOG}, message: failed}}
        finally:
          - {{id: tidy, type: {LOG}, message: done}}
        """,
    )
    flaky, steady = flow.main.steps
    assert (flaky.timeout, flaky.allow_failure) == (30, True)
    assert (flaky.retry.max_attempts, flaky.retry.delay, flaky.retry.backoff, flaky.retry.max_delay) == (4, 2, 3.0, 60)
    assert (steady.retry.max_attempts, steady.retry.delay, steady.retry.backoff) == (2, 1, 1.0)
    assert [step.id for step in flow.errors.steps] == ["alert"] and [step.id for step in flow.finally_.steps] == [
        "tidy"
    ]


def test_triggers():
    flow = compiled(
        f"- {{id: t, type: {LOG}, message: m}}\n",
        """\
        triggers:
          - id: nightly
            type: io.kestra.plugin.core.trigger.Schedule
            cron: "0 2 * * *"
            timezone: Europe/Paris
          - id: hook
            type: io.kestra.plugin.core.trigger.Webhook
            key: a-long-enough-webhook-key-0123456789
            disabled: true
          - id: after
            type: io.kestra.plugin.core.trigger.Flow
            conditions:
              - type: io.kestra.plugin.core.condition.ExecutionFlow
                namespace: company.team
                flowId: upstream
              - type: io.kestra.plugin.core.condition.ExecutionStatus
                in: [SUCCESS, WARNING]
          - id: after_new
            type: io.kestra.plugin.core.trigger.Flow
            preconditions:
              flows:
                - {namespace: company.team, flowId: other, states: [FAILED]}
        """,
    )
    nightly, hook, after, after_new = flow.triggers
    assert (nightly.type, nightly.cron, nightly.timezone) == (TriggerType.SCHEDULE, "0 2 * * *", "Europe/Paris")
    assert (hook.type, hook.key, hook.enabled) == (TriggerType.WEBHOOK, "a-long-enough-webhook-key-0123456789", False)
    assert (after.source_flow, after.source_namespace, after.statuses) == (
        "upstream",
        "company.team",
        ["SUCCESS", "WARNING"],
    )
    assert (after_new.source_flow, after_new.statuses) == ("other", ["FAILED"])


def test_an_unsupported_trigger_condition_is_a_problem():
    found = problems(
        f"- {{id: t, type: {LOG}, message: m}}\n",
        """\
        triggers:
          - id: after
            type: io.kestra.plugin.core.trigger.Flow
            conditions:
              - {type: io.kestra.plugin.core.condition.DayWeek, dayOfWeek: MONDAY}
        """,
    )
    assert any(path == "triggers[0].conditions[0]" and "DayWeek" in message for path, _, message in found)


def test_for_each_values_may_be_json_text():
    flow = compiled(f"""\
        - id: each
          type: io.kestra.plugin.core.flow.ForEach
          values: '["a", "b"]'
          tasks: [{{id: show, type: {LOG}, message: "{{{{ taskrun.value }}}}"}}]
        """)
    assert flow.step("each").inputs["items"] == ["a", "b"]
    assert flow.step("each.show").inputs["message"] == "{{ item }}"


def test_a_flow_whose_tasks_are_all_disabled_is_refused():
    found = problems(f"- {{id: a, type: {LOG}, message: m, disabled: true}}\n")
    assert found == [("tasks", 3, "every task is disabled: a flow needs one to run")]
