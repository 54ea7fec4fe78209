"""Outbound addresses written literally in a flow, judged by the network policy when it is saved.

A `file://` or `gopher://` URL, or one naming a loopback, private, link-local or metadata
address, would be refused at every run; saving refuses it at once, with its line. Judged are
literal values of the inputs a plugin declares as URLs (`Plugin.url_inputs`) and the server of
a plugin that speaks another protocol: `sql.query`'s database URL, `mail.send`'s SMTP host.
Host names are not resolved (`connectors.netpolicy.check_literal_url` says why): names and
templated values are judged when the step runs, except that a database URL's host written out
is judged beside its templated password.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from connectors.netpolicy import check_literal_host, check_literal_url
from connectors.plugins.mail import MailSend
from connectors.plugins.sql import SqlQuery, parse_url
from connectors.registry import Plugin, get_plugin
from flows.definitions.fields import is_template
from flows.definitions.ir import CompiledFlow
from flows.definitions.problems import Problems

Judge = Callable[[str], str | None]


#: A template's span in a value: Jinja `{{ }}`/`{% %}` or a `${NAME}` secret.
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\$\{[^}]*\}", re.S)
_RENDERED = "rendered-at-run-time"


def _literal(judge: Judge) -> Judge:
    """`judge` for literal values only: a templated one is judged when the step runs."""
    return lambda value: None if is_template(value) else judge(value)


def _database_host(url: str) -> str | None:
    """Why every run would refuse a database URL: it cannot be used, or its host is refused.

    The documented form templates the password (`postgresql://app:${DB_PASSWORD}@host/db`):
    templated parts are set aside, and a host written out is judged all the same; a URL whose
    host, port or shape comes from a template is left to the run."""
    literal = _TEMPLATE.sub(_RENDERED, url)
    if is_template(literal):  # an unclosed template: the run says what it renders to
        return None
    try:
        database = parse_url(literal)
    except ValueError as error:  # worded without the URL, which may hold the password
        if literal != url:
            return None
        message = str(error).rstrip(".")
        return message[:1].lower() + message[1:]
    if _RENDERED in database.host:
        return None
    return check_literal_host(database.host)


#: Plugins that reach a server without HTTP: the input naming it and how its value is judged.
SERVER_INPUTS: dict[type[Plugin], tuple[str, Judge]] = {
    SqlQuery: ("url", _database_host),
    MailSend: ("host", _literal(check_literal_host)),
}


def refused_inputs(
    inputs: Mapping[str, Any], *, url_keys: Iterable[str], plugin: type[Plugin] | None = None
) -> list[tuple[str, str]]:
    """(input, why) for each literal outbound input the network policy refuses whatever DNS
    answers: the HTTP URLs named by `url_keys`, and the server of `plugin` (`SERVER_INPUTS`).
    Flows and agents save through it."""
    judged: list[tuple[str, Judge]] = [(key, _literal(check_literal_url)) for key in url_keys]
    if plugin in SERVER_INPUTS:
        judged.append(SERVER_INPUTS[plugin])
    refused = []
    for key, judge in judged:
        value = inputs.get(key)
        if isinstance(value, str):
            reason = judge(value)
            if reason:
                refused.append((key, reason))
    return refused


def check_urls(flow: CompiledFlow, problems: Problems) -> None:
    """One problem per literal outbound input the network policy refuses (an `ExtraCheck`)."""
    for step in flow.steps():
        plugin = get_plugin(step.type) if step.type else None
        if plugin is None:
            continue
        for key, reason in refused_inputs(step.inputs, url_keys=plugin.url_inputs, plugin=plugin):
            problems.add(step.input_sources.get(key, (*step.inputs_source, key)), f"{key}: {reason}", "refused_url")
