"""SSRF attempts through every outbound path, refused by the network policy.

Each path (the `http.request`, `webhook`, `REST_CONNECTOR` and `connector.call` tasks, the
connector proxy's `http/*` commands, RunFlow callbacks, WebsiteAgent and PostAgent, and a
flow run by the engine) is tried against loopback, private, link-local and metadata
addresses in every spelling (IPv4-mapped IPv6, NAT64, 6to4, decimal, octal, hex, short
forms), names that resolve to them, and redirects into them. A local "sink" server listens
on the loopback port every such URL names and must never receive a request; a guard at the
socket boundary fails the test if anything tries to connect off this machine. With
`MILLRACE_HTTP_ALLOWED_NETWORKS` opening the network, the same spellings do get through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from accounts.roles import Role
from agents.runtime import run_agent
from api.connector_proxy import commands
from connectors.netpolicy import check_url
from connectors.registry import ResultStatus, get_plugin
from executions.engine.callbacks import put_callback
from executions.models import TaskRun, TaskStatus
from executions.services import execution_start
from tests.connectors.conftest import FakeContext
from tests.factories import AgentFactory, FlowFactory

POLICY = "NETWORK_POLICY_ERROR"
FAKE_DNS = {
    "metadata.test": ["169.254.169.254"],
    "intranet.test": ["10.1.2.3"],
    "rebind.test": ["127.0.0.1", "::1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "linklocal.test": ["fe80::1"],
}

# `{port}` is the sink's port: a loopback spelling that slipped through would reach the sink.
REFUSED = [
    "127.0.0.1:{port}",
    "127.9.8.7:{port}",
    "0.0.0.0:{port}",
    "0:{port}",
    "2130706433:{port}",
    "0177.0.0.1:{port}",
    "0x7f.1:{port}",
    "0x7f000001:{port}",
    "017700000001:{port}",
    "127.1:{port}",
    "0x7f.0.0.1:{port}",
    "[::1]:{port}",
    "[::]:{port}",
    "[0:0:0:0:0:0:0:1]:{port}",
    "[::ffff:127.0.0.1]:{port}",
    "[::ffff:7f00:1]:{port}",
    "[::ffff:169.254.169.254]",
    "[64:ff9b::7f00:1]:{port}",
    "[64:ff9b::a9fe:a9fe]",
    "[2002:7f00:1::]:{port}",
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo wrapping 127.0.0.1
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.169.254",
    "169.254.169.254:80",
    "2852039166",  # 169.254.169.254 as a number
    "0xa9.0xfe.0xa9.0xfe",
    "169.254.1.1",
    "[fe80::1]",
    "[fd00::1]",
    "[fd00:ec2::254]",
    "224.0.0.1",
    "localhost:{port}",
    "LOCALHOST.:{port}",
    "metadata.test",
    "intranet.test",
    "rebind.test:{port}",
    "mapped.test:{port}",
    "linklocal.test",
]
#: Tricks that parsers read differently; whichever host a parser sees, nothing may reach the sink.
TRICKY_URLS = [
    "http://user:pass@127.0.0.1:{port}/",
    "http://allowed.example@127.0.0.1:{port}/",
    "http://127.0.0.1:{port}#@allowed.example/",
    "http://127.0.0.1:{port}\\@allowed.example/",
    "http://[::ffff:127.0.0.1]:{port}@allowed.example/",
    "HTTP://127.0.0.1:{port}/",
    "http://127.0.0.1.:{port}/",
    "http://%31%32%37.0.0.1:{port}/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{port}/_GET",
    "ftp://127.0.0.1:{port}/",
    "dict://127.0.0.1:{port}/",
    "http:///127.0.0.1:{port}/",
    "//127.0.0.1:{port}/",
]


@pytest.fixture(autouse=True)
def socket_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Resolve only loopback names and the FAKE_DNS table; refuse any connection off this machine."""
    attempts: list[Any] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = ipaddress.ip_address(str(address[0]).split("%")[0])
            mapped = getattr(host, "ipv4_mapped", None)
            if not (host.is_loopback or (mapped is not None and mapped.is_loopback)):
                attempts.append(address)
                raise OSError(f"test guard: refused to connect to {address}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = str(host).rstrip(".").lower()
        if name in FAKE_DNS:
            return [
                (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port or 0))
                for ip in FAKE_DNS[name]
            ]
        try:
            ipaddress.ip_address(str(host).strip("[]").split("%")[0])
        except ValueError:
            if name != "localhost":
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real_getaddrinfo(name if name == "localhost" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    assert attempts == [], "a request tried to leave this machine"


def _server(host: str) -> Iterator[HTTPServer]:
    server = HTTPServer(host=host, port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def _sink_server() -> Iterator[HTTPServer]:
    yield from _server("127.0.0.1")


@pytest.fixture(scope="module")
def _inner_server() -> Iterator[HTTPServer]:
    yield from _server("127.0.0.2")


@pytest.fixture
def sink(_sink_server: HTTPServer) -> Iterator[HTTPServer]:
    """A loopback server that must receive nothing unless a test allows loopback on purpose."""
    _sink_server.clear()
    _sink_server.expect_request("/", method="GET").respond_with_data("reached", status=200)
    yield _sink_server
    _sink_server.clear()


@pytest.fixture
def no_networks(settings: Any) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []


def _url(host: str, sink: HTTPServer, path: str = "/") -> str:
    return f"http://{host.format(port=sink.port)}{path}"


# --- the outbound paths --------------------------------------------------------------------
# Each takes a URL and returns (refused by the policy?, error text) after trying it.

Outcome = tuple[str | None, str]


def _plugin(plugin_id: str, inputs: dict[str, Any], execution_inputs: dict[str, Any] | None = None) -> Outcome:
    plugin = get_plugin(plugin_id)
    assert plugin is not None
    result = plugin().run(inputs, FakeContext(execution_inputs=execution_inputs or {}))
    if result.status == ResultStatus.SUCCESS:
        return None, ""
    return result.error_code, result.error or ""


def via_http_request(url: str) -> Outcome:
    return _plugin("http.request", {"url": url})


def via_webhook(url: str) -> Outcome:
    return _plugin("webhook", {"url": url, "body": {"a": 1}, "method": "GET"})


def via_rest_connector(url: str) -> Outcome:
    return _plugin("REST_CONNECTOR", {"_url": url})


def via_rest_connector_run_inputs(url: str) -> Outcome:
    """workflowsvc: `_url` from the run's `_inputParams`, which an executor chooses."""
    return _plugin("REST_CONNECTOR", {}, execution_inputs={"_url": url})


def via_connector_call(url: str) -> Outcome:
    base = url.rstrip("/")
    return _plugin("connector.call", {"baseUrl": base, "command": "http/GetRequest", "parameters": {}})


def via_proxy_command(url: str) -> Outcome:
    result = commands.run_command("http/GetRequest", {"url": url}, commands.Caller())
    return (result.error or {}).get("error_code"), (result.error or {}).get("message", "")


def via_callback_delivery(url: str) -> Outcome:
    delivered = put_callback(url, {"command_response": {}}).delivered
    try:
        check_url(url)
    except Exception as error:
        return (None if delivered else getattr(error, "code", type(error).__name__)), str(error)
    return None, ""


def via_website_agent(url: str) -> Outcome:
    agent = AgentFactory(type="WebsiteAgent", options={"url": url, "type": "json", "extract": {"v": {"path": "v"}}})
    return _agent_outcome(agent)


def via_post_agent(url: str) -> Outcome:
    agent = AgentFactory(type="PostAgent", options={"post_url": url, "payload": {"a": 1}})
    return _agent_outcome(agent)


def _agent_outcome(agent: Any) -> Outcome:
    run_agent(str(agent.pk), manual=True)
    agent.refresh_from_db()
    error = agent.last_error
    return (POLICY if "not allowed by MILLRACE_HTTP_ALLOWED_NETWORKS" in error else error or None), error


PATHS: dict[str, Callable[[str], Outcome]] = {
    "http.request": via_http_request,
    "webhook": via_webhook,
    "REST_CONNECTOR": via_rest_connector,
    "REST_CONNECTOR _inputParams": via_rest_connector_run_inputs,
    "connector.call": via_connector_call,
    "proxy http/GetRequest": via_proxy_command,
    "RunFlow callback delivery": via_callback_delivery,
    "WebsiteAgent": via_website_agent,
    "PostAgent": via_post_agent,
}


@pytest.mark.django_db
@pytest.mark.usefixtures("no_networks")
@pytest.mark.parametrize("host", REFUSED)
@pytest.mark.parametrize("path", PATHS)
def test_internal_addresses_are_refused_on_every_path(path: str, host: str, sink: HTTPServer) -> None:
    code, message = PATHS[path](_url(host, sink))
    assert code == POLICY, message
    assert "MILLRACE_HTTP_ALLOWED_NETWORKS" in message
    assert sink.log == []


@pytest.mark.django_db
@pytest.mark.usefixtures("no_networks")
@pytest.mark.parametrize("url", TRICKY_URLS)
@pytest.mark.parametrize("path", ["http.request", "proxy http/GetRequest", "PostAgent"])
def test_parser_tricks_and_other_schemes_reach_nothing(path: str, url: str, sink: HTTPServer) -> None:
    code, _ = PATHS[path](url.format(port=sink.port))
    assert code is not None, "the request went through"
    assert sink.log == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "2130706433:{port}", "0177.0.0.1:{port}", "0x7f.1:{port}", "localhost:{port}"]
)
@pytest.mark.parametrize("path", PATHS)
def test_an_allowed_network_is_reached_in_every_spelling(path: str, host: str, sink: HTTPServer, settings) -> None:
    """The refusals above are the policy's: opening the network lets the same spellings through."""
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]
    sink.clear()
    sink.expect_request("/", method="GET").respond_with_data("reached")
    sink.expect_request("/", method="POST").respond_with_json({})
    sink.expect_request("/", method="PUT").respond_with_json({})
    sink.expect_request("/v1/do/http/GetRequest", method="POST").respond_with_json(
        {"command_response": {"body": {}, "http_status": 200}, "error": None}
    )
    url = _url(host, sink)
    PATHS[path](url)
    assert len(sink.log) == 1


# --- redirects -----------------------------------------------------------------------------


@pytest.fixture
def inner_sink(_inner_server: HTTPServer) -> Iterator[HTTPServer]:
    """A server on 127.0.0.2, a loopback address the policy does not open in these tests."""
    _inner_server.clear()
    _inner_server.expect_request("/").respond_with_data("internal")
    yield _inner_server
    _inner_server.clear()


REDIRECT_TARGETS = [
    "http://127.0.0.2:{inner}/",
    "http://2130706434:{inner}/",
    "http://0177.0.0.2:{inner}/",
    "http://[::ffff:127.0.0.2]:{inner}/",
    "http://[::1]:{inner}/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://metadata.test/",
]
REDIRECTING_PATHS = [
    "http.request",
    "webhook",
    "REST_CONNECTOR",
    "connector.call",
    "proxy http/GetRequest",
    "RunFlow callback delivery",
    "WebsiteAgent",
    "PostAgent",
]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("target", REDIRECT_TARGETS)
@pytest.mark.parametrize("path", REDIRECTING_PATHS)
def test_redirects_into_internal_addresses_are_refused(
    path: str, target: str, status: int, sink: HTTPServer, inner_sink: HTTPServer, settings
) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the redirecting server only
    location = target.format(inner=inner_sink.port)
    sink.clear()
    sink.expect_request("/", method="GET").respond_with_data("", status=status, headers={"Location": location})
    sink.expect_request("/", method="PUT").respond_with_data("", status=status, headers={"Location": location})
    sink.expect_request("/", method="POST").respond_with_data("", status=status, headers={"Location": location})
    sink.expect_request("/v1/do/http/GetRequest", method="POST").respond_with_data(
        "", status=status, headers={"Location": location}
    )
    url = sink.url_for("/")
    if path == "RunFlow callback delivery":
        assert put_callback(url, {"command_response": {}}).delivered is False
    else:
        code, message = PATHS[path](url)
        assert code == POLICY, message
    assert len(sink.log) == 1
    assert inner_sink.log == []


def test_a_redirect_into_an_allowed_network_is_followed(sink: HTTPServer, inner_sink: HTTPServer, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32", "127.0.0.2/32"]
    sink.clear()
    sink.expect_request("/").respond_with_data("", status=302, headers={"Location": inner_sink.url_for("/")})
    assert via_http_request(sink.url_for("/")) == (None, "")
    assert len(inner_sink.log) == 1


def test_a_name_resolving_to_public_and_internal_addresses_connects_only_to_the_public_ones(monkeypatch) -> None:
    FAKE_DNS["split.test"] = ["10.0.0.7", "93.184.216.34", "127.0.0.1"]
    try:
        target = check_url("http://split.test/")
    finally:
        del FAKE_DNS["split.test"]
    assert [str(address) for address in target.addresses] == ["93.184.216.34"]


# --- through the API and the engine ----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("no_networks")
@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "[::ffff:127.0.0.1]:{port}", "0x7f.1:{port}", "metadata.test"])
def test_the_connector_proxy_api_refuses_with_its_envelope(host: str, sink: HTTPServer, client_for, make_account):
    client = client_for(make_account(Role.EXECUTOR))
    for command in ("http/GetRequest", "http/PostRequest"):
        response = client.post(f"/v1/do/{command}", {"url": _url(host, sink)}, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["error_code"] == POLICY
    callback = client.post(
        "/v1/do/millrace/RunFlow",
        {"flow_id": "00000000-0000-0000-0000-000000000000", "spiff__callback_url": _url(host, sink)},
        format="json",
    )
    assert callback.status_code in (400, 404)
    assert sink.log == []


@pytest.mark.usefixtures("no_networks")
@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "2130706433:{port}", "[::ffff:7f00:1]:{port}", "intranet.test"])
def test_a_flow_step_fails_with_the_policy_error(host: str, sink: HTTPServer, settings, transactional_db, namespace):
    from tests.factories import AccountFactory

    settings.MILLRACE_ENGINE_EAGER = True
    actor = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    source = (
        "name: ssrf\ntasks:\n"
        f"  - name: call\n    type: http.request\n    properties:\n      url: '{_url(host, sink)}'\n"
        f"  - name: hook\n    type: webhook\n    properties:\n      url: '{_url(host, sink)}'\n"
    )
    flow = FlowFactory(namespace=namespace, source=source, created_by=actor)
    execution = execution_start(actor=actor, flow=flow, inputs={})
    execution.refresh_from_db()
    run = TaskRun.objects.get(execution=execution, name="call")
    assert execution.status == "FAILED"
    assert run.status == TaskStatus.FAILED and "MILLRACE_HTTP_ALLOWED_NETWORKS" in run.error
    assert sink.log == []
