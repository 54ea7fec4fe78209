"""A real uvicorn server logging in JSON: every line is a JSON object, each request is one line
with its fields, and no credential (password, login token, API token, webhook key) reaches the
output, whatever path or header carried it."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-staple"
SETUP = f"""
from accounts.models import Account
from accounts.services import api_token_create
account = Account.objects.create_user(username="ops", password="{PASSWORD}", role="admin")
print(account.pk, api_token_create(actor=account, account=account, name="ci")[1])
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> tuple[dict[str, str], str, str]:
    """A migrated embedded installation of its own, with an admin and an API token."""
    var = tmp_path_factory.mktemp("var")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({"MILLRACE_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "config.settings"})
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, capture_output=True)
    made = subprocess.run([*manage, "shell", "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True)
    account_id, api_token = made.stdout.decode().split()[-2:]
    return env, account_id, api_token


@pytest.fixture
def server(embedded, tmp_path) -> Iterator[tuple[str, Path]]:
    env, _, _ = embedded
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = tmp_path / "server.log"
    env = {**env, "MILLRACE_LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    with out.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, out.read_text()
            try:
                if requests.get(f"{url}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield url, out
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)


def test_json_lines_one_per_request_and_no_credential_anywhere(server, embedded):
    url, out = server
    _, account_id, api_token = embedded
    login = requests.post(f"{url}/auth/login", json={"username": "ops", "password": PASSWORD}, timeout=10)
    assert login.status_code == 200
    jwt = login.json()["token"]
    listed = requests.get(
        f"{url}/api/v1/flows?namespace=x&token={jwt}&access_token={jwt}",
        headers={"Authorization": f"Bearer {api_token}"},
        timeout=10,
    )
    assert listed.status_code == 200
    webhook_key = "wh-" + uuid.uuid4().hex
    hook = requests.post(f"{url}/api/v1/webhook/{webhook_key}?token={jwt}", json={}, timeout=10)
    assert hook.status_code == 404
    socket_url = url.replace("http", "ws") + f"/api/v1/executions/{uuid.uuid4()}/logs?token={jwt}"
    with (
        pytest.raises((InvalidStatus, WebSocketException, ConnectionError)),
        connect(socket_url, open_timeout=10) as ws,
    ):
        ws.recv(timeout=10)  # an unknown execution: the server refuses or closes the socket

    deadline = time.monotonic() + 10
    while "/api/v1/webhook/" not in out.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = out.read_text()

    for secret in (PASSWORD, jwt, api_token, webhook_key, jwt.split(".")[2]):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    requests_logged = [line for line in lines if line["logger"] == "millrace.requests"]
    by_path = {line["path"]: line for line in requests_logged}
    assert by_path["/auth/login"]["status"] == 200 and by_path["/auth/login"]["method"] == "POST"
    flows = by_path["/api/v1/flows"]
    assert flows["user_id"] == account_id and flows["dialect"] == "flowrunner" and flows["status"] == 200
    assert isinstance(flows["duration_ms"], int | float)
    assert "/api/v1/webhook/***" in by_path and by_path["/api/v1/webhook/***"]["status"] == 404
    assert not any(line["logger"] == "uvicorn.access" for line in lines)  # the request line stands for it
    assert any("logs?token=***" in line["message"] for line in lines if line["logger"].startswith("uvicorn"))
