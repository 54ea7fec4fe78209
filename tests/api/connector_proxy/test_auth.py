"""Who may call the proxy: platform tokens, the proxy API key (correct, wrong, absent); liveness is open."""

import pytest
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

API_KEY = "k3y-for-spiff"
HEADER = "HTTP_SPIFF_CONNECTOR_PROXY_API_KEY"


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
