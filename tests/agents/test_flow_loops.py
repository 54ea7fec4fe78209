"""Loops of agents and flows stop at MILLRACE_SUBFLOW_MAX_DEPTH: each flow start adds one to the depth
its messages carry on."""

from agents import services
from executions.models import AgentLog, Execution, Message
from flows.triggers import trigger_create
from tests.factories import FlowFactory

COUNT = """
name: count
inputs:
  - {id: n, type: INT, defaults: 0}
tasks:
  - name: next
    type: util.echo
    properties: {value: "{{ inputs.n + 1 }}"}
outputs:
  - {id: n, type: INT, value: "{{ outputs.next }}"}
"""


def test_a_flow_agent_fed_by_its_own_results_stops_at_the_depth_limit(settings, actor, make_agent, namespace):
    settings.MILLRACE_SUBFLOW_MAX_DEPTH = 3
    flow = FlowFactory(namespace=namespace, name="count", source=COUNT)
    runner = make_agent("runner", "Agents::FlowAgent", {"flow_id": str(flow.pk), "inputs": {"n": "{{ message.n }}"}})
    relay = make_agent(
        "relay", "Agents::EventFormattingAgent", {"instructions": {"n": "{{ message.outputs.n }}"}}, sources=(runner,)
    )
    services.agent_update(actor=actor, agent=runner, source_ids=[str(relay.pk)])  # runner ⇄ relay: a loop
    # The flow also has an agent trigger on the runner's results: another start per message.
    trigger = trigger_create(actor=actor, flow=flow, type="agent", source_agent_id=str(runner.pk))

    services.message_create(actor=actor, agent=relay, payload={"n": 0})

    by_agent = Execution.objects.filter(flow=flow, origin="flow_agent").order_by("created_at")
    assert [(e.trigger_data["depth"], e.outputs) for e in by_agent] == [(1, {"n": 1}), (2, {"n": 2}), (3, {"n": 3})]
    assert [m.depth for m in Message.objects.filter(agent=runner).order_by("id")] == [1, 2, 3]
    by_trigger = Execution.objects.filter(trigger=trigger).order_by("created_at")
    assert [(e.trigger_data["depth"], e.inputs) for e in by_trigger] == [
        (2, {"n": 0}),
        (3, {"n": 0}),
    ]  # no payload key names an input
    runner.refresh_from_db()
    assert "depth 4 exceeds MILLRACE_SUBFLOW_MAX_DEPTH (3)" in runner.last_error
    refused = AgentLog.objects.filter(agent=runner, level="warning").values_list("text", flat=True)
    assert [text for text in refused if "did not start flow 'count'" in text and "depth 4" in text]
