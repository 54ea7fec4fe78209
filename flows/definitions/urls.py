"""Outbound URLs written literally in a flow, judged by the network policy when it is saved.

A `file://` or `gopher://` URL, or one naming a loopback, private, link-local or metadata
address, would be refused at every run; saving refuses it at once, with its line. Only
literal values of the inputs a plugin declares as URLs (`Plugin.url_inputs`) are judged,
and host names are not resolved (`connectors.netpolicy.check_literal_url` says why):
templated URLs and names are judged when the step runs.
"""

from __future__ import annotations

from connectors.netpolicy import check_literal_url
from connectors.registry import get_plugin
from flows.definitions.fields import is_template
from flows.definitions.ir import CompiledFlow
from flows.definitions.problems import Problems


def check_urls(flow: CompiledFlow, problems: Problems) -> None:
    """One problem per literal URL input the network policy refuses (an `ExtraCheck`)."""
    for step in flow.steps():
        plugin = get_plugin(step.type) if step.type else None
        for key in plugin.url_inputs if plugin is not None else ():
            value = step.inputs.get(key)
            if not isinstance(value, str) or is_template(value):
                continue
            refused = check_literal_url(value)
            if refused:
                problems.add(
                    step.input_sources.get(key, (*step.inputs_source, key)), f"{key}: {refused}", "refused_url"
                )
