"""Who may call the proxy: platform tokens, the proxy API key (correct, wrong, absent); liveness is open."""

import pytest
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from accounts.roles import Role

API_KEY = "k3y-for-spiff"
HEADER = "HTTP_SPIFF_CONNECTOR_PROXY_API_KEY"
ECHO = "name: echo\ntasks:\n  - name: say\n    type: util.echo\n    properties:\n      value: hi\n"


@pytest.fixture
def keyed(settings, allow_loopback) -> None:
    settings.MILLRACE_CONNECTOR_API_KEY = API_KEY


def test_liveness_is_open(db) -> None:
    response = APIClient().get("/v1/liveness")
    assert (response.status_code, response.json()) == (200, {"ok": True})


@pytest.mark.parametrize("path", ["/v1/commands", "/v1/do/http/GetRequest"])
def test_no_credentials_is_401_in_the_envelope(db, keyed, path: str) -> None:
    client = APIClient()
    response = client.get(path) if path.endswith("commands") else client.post(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["error_code"] == "unauthorized"
    assert response.json()["command_response"]["http_status"] == 401


def test_platform_token_is_accepted(proxy) -> None:
    assert proxy.get("/v1/commands").status_code == 200


def test_correct_api_key_runs_http_commands(db, keyed, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ok").respond_with_json({"ok": True})
    client = APIClient()
    client.credentials(**{HEADER: API_KEY})
    assert client.get("/v1/commands").status_code == 200
    response = client.post("/v1/do/http/GetRequest", {"url": httpserver.url_for("/ok")}, format="json")
    assert (response.status_code, response.json()["command_response"]["body"]) == (200, {"ok": True})


def test_wrong_api_key_is_refused(db, keyed) -> None:
    client = APIClient()
    client.credentials(**{HEADER: API_KEY + "x"})
    response = client.get("/v1/commands")
    assert response.status_code == 401
    assert response.json()["error"]["error_code"] == "unauthorized"


def test_api_key_is_ignored_when_no_key_is_configured(db, settings) -> None:
    settings.MILLRACE_CONNECTOR_API_KEY = ""
    client = APIClient()
    client.credentials(**{HEADER: "anything"})
    assert client.get("/v1/commands").status_code == 401


def test_api_key_alone_cannot_run_flows(db, keyed) -> None:
    client = APIClient()
    client.credentials(**{HEADER: API_KEY})
    response = client.post("/v1/do/millrace/RunFlow", {"flow_id": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["error_code"] == "forbidden"


def test_the_key_acts_as_the_connector_account_when_one_is_named(
    transactional_db, keyed, settings, make_account
) -> None:
    from executions.models import Execution
    from tests.factories import FlowFactory

    account = make_account(Role.EXECUTOR, username="spiff-backend")
    settings.MILLRACE_CONNECTOR_ACCOUNT = "spiff-backend"
    settings.MILLRACE_ENGINE_EAGER = True
    flow = FlowFactory(namespace=account.default_namespace, source=ECHO)
    client = APIClient()
    client.credentials(**{HEADER: API_KEY})
    response = client.post("/v1/do/millrace/RunFlow", {"flow_id": str(flow.pk)}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["command_response"]["body"] == {"say": "hi"}
    assert Execution.objects.get(flow=flow).created_by == account


def test_the_connector_accounts_roles_apply(db, keyed, settings, make_account) -> None:
    from tests.factories import FlowFactory

    viewer = make_account(Role.VIEWER, username="spiff-viewer")
    settings.MILLRACE_CONNECTOR_ACCOUNT = viewer.username
    flow = FlowFactory(namespace=viewer.default_namespace, source=ECHO)
    client = APIClient()
    client.credentials(**{HEADER: API_KEY})
    response = client.post("/v1/do/millrace/RunFlow", {"flow_id": str(flow.pk)}, format="json")
    assert (response.status_code, response.json()["error"]["error_code"]) == (403, "forbidden")


@pytest.mark.parametrize("active", [False, None])
def test_a_missing_or_inactive_connector_account_refuses_the_key(db, keyed, settings, make_account, active) -> None:
    settings.MILLRACE_CONNECTOR_ACCOUNT = "spiff-backend"
    if active is False:
        make_account(Role.EXECUTOR, username="spiff-backend", is_active=False)
    client = APIClient()
    client.credentials(**{HEADER: API_KEY})
    response = client.get("/v1/commands")
    assert response.status_code == 401
    assert response.json()["error"]["error_code"] == "unauthorized"
