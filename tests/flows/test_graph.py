"""The SVG picture of a flow: every step drawn once, routes and branches labelled, text escaped."""

from xml.etree import ElementTree

from flows.definitions import compile_definition
from flows.graph import flow_svg

SVG = "{http://www.w3.org/2000/svg}"

TASKS = """name: nested
tasks:
  - name: first
    type: util.log
    properties: {message: hi}
  - name: check
    type: flow.if
    properties: {condition: "{{ true }}"}
    then:
      - name: loop
        type: flow.forEach
        properties: {items: [1, 2]}
        tasks:
          - name: each
            type: util.echo
            properties: {value: 1}
    else:
      - name: other
        type: util.log
        properties: {message: no}
  - name: fan
    type: flow.parallel
    tasks:
      - {name: a, type: util.log, properties: {message: a}}
      - {name: b, type: util.log, properties: {message: b}}
  - name: route
    type: flow.switch
    properties: {value: x}
    cases:
      x:
        - {name: on-x, type: util.log, properties: {message: x}}
    default:
      - {name: fallback, type: util.log, properties: {message: d}}
errors:
  - name: alert
    type: util.log
    properties: {message: failed}
"""

NODES = """metadata:
  name: graph
nodes:
  start:
    type: flow.if
    params: {condition: "{{ true }}"}
    next: {"true": parse, "false": done}
  parse:
    type: data.json.parse
    params: {text: "{}"}
    next: {default: done, error: recovered}
  recovered:
    type: util.log
    params: {message: again}
    next: {default: start}
  done:
    type: util.echo
    params: {value: 1}
"""


def parse(source: str) -> ElementTree.Element:
    return ElementTree.fromstring(flow_svg(compile_definition(source)))


def steps_drawn(svg: ElementTree.Element) -> list[str]:
    return [group.get("data-step") for group in svg.iter(f"{SVG}g") if group.get("data-step")]


def texts(svg: ElementTree.Element) -> list[str]:
    return [text.text or "" for text in svg.iter(f"{SVG}text")]


def test_a_task_list_draws_every_step_once_with_its_branches() -> None:
    svg = parse(TASKS)
    flow = compile_definition(TASKS)
    assert sorted(steps_drawn(svg)) == sorted(step.id for step in flow.steps())
    frames = [g.get("data-step") for g in svg.iter(f"{SVG}g") if g.get("class") == "mr-frame"]
    assert frames == ["check", "check.loop", "fan", "route"]
    labels = texts(svg)
    for label in ("then", "else", "case x", "default", "flow", "on failure"):
        assert label in labels


def test_a_node_graph_draws_each_route_with_its_outcome() -> None:
    svg = parse(NODES)
    assert sorted(steps_drawn(svg)) == ["done", "parse", "recovered", "start"]
    straight = list(svg.iter(f"{SVG}line"))
    curved = [p for p in svg.iter(f"{SVG}path") if "mr-edge" in (p.get("class") or "")]
    routes = sum(len(step.next) for step in compile_definition(NODES).main.steps)
    assert routes == 5
    assert len(straight) + len(curved) == routes  # every `next` route, once
    assert len(curved) == 1  # recovered → start goes back up
    errors = [e for e in [*straight, *curved] if "mr-error-edge" in (e.get("class") or "")]
    assert len(errors) == 1
    for outcome in ("true", "false", "default", "error"):
        assert outcome in texts(svg)


def test_names_from_the_yaml_are_escaped() -> None:
    source = 'name: x\ntasks:\n  - name: "<script>alert(1)</script>"\n    type: util.log\n'
    source += "    properties: {message: hi}\n"
    markup = flow_svg(compile_definition(source))
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    ElementTree.fromstring(markup)  # still well-formed
