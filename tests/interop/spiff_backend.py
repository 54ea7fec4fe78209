"""The SpiffWorkflow side of the interop tests: what a spiff-arena backend does around the engine.

SpiffWorkflow itself parses the BPMN and runs the process; a service task hands its operator
and evaluated parameters to the script engine's `call_service`. spiff-arena's backend answers
that by POSTing the parameters plus its `spiff__*` keys to `{proxy}/v1/do/{operator}` with the
`Spiff-Connector-Proxy-Api-Key` header, checks the envelope, and on a 202 leaves the task
STARTED until the proxy PUTs the envelope to the callback URL. This module does the same, so
the tests exercise Millrace exactly as such a backend would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.task import Task

BPMN = Path(__file__).parent / "bpmn"
API_KEY_HEADER = "Spiff-Connector-Proxy-Api-Key"


class Accepted(Exception):
    """The proxy accepted a long-running command; the task waits for the callback."""


class ServiceTaskError(Exception):
    """An error the envelope reported, named by its `error_code` as spiff-arena raises it."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code


class ConnectorProxyEngine(PythonScriptEngine):
    """A script engine whose service calls go to a connector proxy, as spiff-arena's do."""

    def __init__(
        self, proxy_url: str, *, api_key: str = "", callback_base: str = "http://127.0.0.1:9/api/v1.0"
    ) -> None:
        """`callback_base` stands for the backend's public API URL; only long-running commands call it."""
        super().__init__()
        self.proxy_url = proxy_url.rstrip("/")
        self.headers = {API_KEY_HEADER: api_key} if api_key else {}
        self.callback_base = callback_base
        self.exchanges: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def call_service(self, task: Task, operation_name: str, operation_params: dict[str, Any]) -> str:
        params: dict[str, Any] = {name: param["value"] for name, param in operation_params.items()}
        params["spiff__process_instance_id"] = 7
        params["spiff__task_id"] = str(task.id)
        params["spiff__task_data"] = task.data
        params["spiff__callback_url"] = f"{self.callback_base}/tasks/7/{task.id}/callback"
        params = DefaultRegistry().convert(params)
        response = requests.post(
            f"{self.proxy_url}/v1/do/{operation_name}", json=params, headers=self.headers, timeout=30
        )
        envelope = response.json()
        self.exchanges.append((params, envelope))
        check_shape(envelope, response.status_code)
        if response.status_code == 202:
            raise Accepted()
        check_envelope(envelope, response.status_code)
        return json.dumps(envelope["command_response"]["body"])


def check_shape(envelope: dict[str, Any], status_code: int) -> None:
    """The seed's envelope, whatever the outcome; the outer status repeats the inner one."""
    assert set(envelope) == {"command_response", "command_response_version", "error", "spiff__logs"}, envelope
    response = envelope["command_response"]
    assert set(response) == {"body", "mimetype", "http_status"}, response
    assert (envelope["command_response_version"], response["mimetype"]) == (2, "application/json")
    assert response["http_status"] == status_code and isinstance(envelope["spiff__logs"], list)


def check_envelope(envelope: dict[str, Any], status_code: int) -> None:
    """spiff-arena's error rules: an `error` with a code, an upstream status of 300 or more,
    or a proxy status of 300 or more fail the service task."""
    error = envelope.get("error")
    if isinstance(error, dict) and "error_code" in error:
        raise ServiceTaskError(error["error_code"], error.get("message", ""))
    upstream_status = envelope["command_response"]["http_status"]
    if envelope["command_response_version"] > 1 and upstream_status >= 300:
        raise ServiceTaskError(f"ServiceTaskHttpError{upstream_status}", json.dumps(envelope["command_response"]))
    if status_code >= 300:
        raise ServiceTaskError("ServiceTaskOperatorReturnedBadStatusError", json.dumps(envelope))


class WaitingServiceTask(ServiceTask):
    """spiff-arena's service task: a 202 leaves it STARTED (returning None) instead of failing."""

    def _execute(self, task: Task) -> bool | None:
        try:
            return super()._execute(task)
        except Accepted:
            return None


class BackendParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, WaitingServiceTask),
    }


def new_process(file_name: str, process_id: str, engine: PythonScriptEngine, data: dict[str, Any]) -> BpmnWorkflow:
    """Parse the BPMN file and instantiate its process with `data`; `do_engine_steps()` runs it."""
    parser = BackendParser()
    parser.add_bpmn_file(str(BPMN / file_name))
    workflow = BpmnWorkflow(parser.get_spec(process_id), script_engine=engine)
    workflow.get_next_task(spec_name="start").data.update(data)
    return workflow


def complete_with_callback(workflow: BpmnWorkflow, task: Task, envelope: dict[str, Any]) -> None:
    """What the backend does with the proxy's callback PUT: check it, store
    `command_response.body` in the result variable, complete the task and run on."""
    check_envelope(envelope, 200)
    task.data[task.task_spec.result_variable] = envelope["command_response"]["body"]
    task.complete()
    workflow.do_engine_steps()
