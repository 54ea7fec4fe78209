"""The log formats, the request and execution-end lines, errors logged once, and `/readyz`'s workers."""

import json
import logging
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.admin.sites import AdminSite
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.signing import SignedPackage
from django_q.status import Stat
from rest_framework.test import APIClient

from accounts.roles import Role
from core.logformat import JsonFormatter, TextFormatter
from executions.services import execution_start
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory

ROOT = Path(__file__).resolve().parents[2]
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXZhbHVl"


def record(message: str, *args, exc: BaseException | None = None, **extra) -> logging.LogRecord:
    made = logging.LogRecord("millrace.test", logging.ERROR, __file__, 1, message, args, None)
    if exc is not None:
        made.exc_info = (type(exc), exc, exc.__traceback__)
    made.__dict__.update(extra)
    return made


def test_json_lines_carry_the_fields_the_extras_and_the_traceback_without_tokens():
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError as exc:
        failure = exc
    line = JsonFormatter().format(
        record("GET %s failed", f"/x?token={JWT}", exc=failure, execution_id="e-1", details={"auth": [f"Bearer {JWT}"]})
    )

    parsed = json.loads(line)
    assert "\n" not in line
    assert {"time", "level", "logger", "message", "execution_id", "details", "exception"} <= set(parsed)
    assert parsed["level"] == "ERROR" and parsed["logger"] == "millrace.test"
    assert parsed["message"] == "GET /x?token=*** failed"
    assert parsed["execution_id"] == "e-1"
    assert parsed["details"] == {"auth": ["Bearer ***"]}
    assert "Traceback" in parsed["exception"] and "ValueError: bad token ***" in parsed["exception"]
    assert JWT not in line
    assert parsed["time"].endswith("+00:00")


def test_text_lines_are_for_people_and_redacted_too():
    line = TextFormatter().format(record("opened %s", f"/ws?access_token={JWT}"))
    assert line.endswith("ERROR millrace.test: opened /ws?access_token=***")


def test_an_unknown_log_format_stops_the_start_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MILLRACE_VAR_DIR": str(tmp_path), "MILLRACE_LOG_FORMAT": "xml"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "MILLRACE_LOG_FORMAT must be 'text' or 'json', not 'xml'" in done.stderr


@pytest.mark.django_db
def test_a_request_is_one_line_without_its_query_string(caplog, make_account):
    account = make_account(Role.VIEWER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(account)}")
    with caplog.at_level(logging.INFO, logger="millrace.requests"):
        response = client.get("/workflowdev/api/v1/flows?secret=s3cr3t&token=abc")

    assert response.status_code == 200
    (line,) = [r for r in caplog.records if r.name == "millrace.requests"]
    assert (line.method, line.path, line.status, line.dialect) == (
        "GET",
        "/workflowdev/api/v1/flows",
        200,
        "workflowdev",
    )
    assert line.user_id == str(account.pk) and line.duration_ms >= 0
    assert "s3cr3t" not in line.getMessage() and "abc" not in line.getMessage()


@pytest.mark.django_db
def test_an_anonymous_request_has_no_user_and_a_webhook_key_is_redacted(caplog):
    with caplog.at_level(logging.INFO, logger="millrace.requests"):
        APIClient().post("/api/v1/webhook/the-webhook-key", {}, format="json")
    (line,) = [r for r in caplog.records if r.name == "millrace.requests"]
    assert line.user_id is None and line.path == "/api/v1/webhook/***"
    assert "the-webhook-key" not in caplog.text


def tracebacks(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]


@pytest.mark.django_db
def test_an_api_error_is_logged_once_with_its_traceback(caplog, monkeypatch):
    def broken() -> None:
        raise RuntimeError("readiness exploded")

    monkeypatch.setattr("api.workflowdev.views.ops.readiness", broken)
    with caplog.at_level(logging.INFO):
        response = APIClient().get("/readyz")

    assert response.status_code == 500
    (logged,) = tracebacks(caplog)
    assert "readiness exploded" in str(logged.exc_info[1])
    assert not [r for r in caplog.records if r.name == "django.request"]  # no second "Internal Server Error"
    assert [r.status for r in caplog.records if r.name == "millrace.requests"] == [500]


@pytest.mark.django_db
def test_a_console_error_is_logged_once_with_its_traceback(caplog, monkeypatch):
    def broken(self, request) -> dict:
        raise RuntimeError("console exploded")

    monkeypatch.setattr(AdminSite, "each_context", broken)
    client = APIClient()
    client.raise_request_exception = False
    with caplog.at_level(logging.INFO):
        response = client.get("/admin/login/")

    assert response.status_code == 500
    (logged,) = tracebacks(caplog)
    assert "console exploded" in str(logged.exc_info[1])
    assert [r.status for r in caplog.records if r.name == "millrace.requests"] == [500]


def test_an_execution_end_is_one_line(settings, transactional_db, namespace, caplog):
    settings.MILLRACE_ENGINE_EAGER = True
    actor = AccountFactory(role=Role.ADMIN, default_namespace=namespace)
    flow = FlowFactory(
        namespace=namespace, name="greeter", source="name: greeter\ntasks:\n  - {name: a, type: util.echo}\n"
    )
    with caplog.at_level(logging.INFO, logger="millrace.executions"):
        execution = execution_start(actor=actor, flow=flow)

    (line,) = [r for r in caplog.records if r.name == "millrace.executions"]
    assert (line.execution_id, line.flow) == (str(execution.pk), "greeter")
    assert line.status in ("SUCCESS", "FAILED") and line.duration_ms >= 0
    assert line.getMessage().startswith(f"Execution {execution.pk} of flow greeter ended {line.status} in ")


@pytest.fixture
def own_heartbeats(monkeypatch) -> None:
    """Heartbeats under a key of this test's own: other tests (other xdist workers on the same
    Redis) store theirs at the same time."""
    monkeypatch.setattr(Conf, "Q_STAT", f"django_q:test-{uuid.uuid4().hex}:cluster")


@pytest.mark.django_db
@pytest.mark.usefixtures("own_heartbeats")
def test_readiness_reports_no_worker_without_a_heartbeat():
    body = APIClient().get("/readyz").json()
    assert body["workers"] == {"seen": False, "lastSeen": None, "clusters": 0, "processes": 0}


@pytest.mark.django_db
@pytest.mark.usefixtures("own_heartbeats")
@pytest.mark.parametrize("age,seen", [pytest.param(5, True, id="recent"), pytest.param(90, False, id="stale")])
def test_readiness_reports_a_worker_seen_in_the_last_minute(age, seen):
    broker = get_broker()
    sentinel = SimpleNamespace(
        parent_pid=None,
        pid=4242,
        cluster_id=uuid.uuid4(),
        broker=broker,
        tob=timezone.now() - timedelta(minutes=5),
        reincarnations=0,
        status=lambda: "Idle",
        monitor=None,
        pusher=None,
        pool=[SimpleNamespace(pid=1), SimpleNamespace(pid=2), SimpleNamespace(pid=3)],
        result_queue=SimpleNamespace(qsize=lambda: 0),
        task_queue=SimpleNamespace(qsize=lambda: 0),
    )
    stat = Stat(sentinel)
    stat.timestamp = timezone.now() - timedelta(seconds=age)
    broker.set_stat(stat.key, SignedPackage.dumps(stat, True), 60)
    try:
        response = APIClient().get("/readyz")
        metrics = APIClient().get("/metrics").content.decode()
    finally:  # gone at once, or the `stale` case would still see the `recent` one for a minute
        if isinstance(broker, ORM):
            broker.cache.delete(stat.key)
        else:
            broker.connection.delete(stat.key)

    assert response.status_code == 200
    workers = response.json()["workers"]
    assert workers["seen"] is seen
    assert workers["processes"] == (3 if seen else 0)
    assert (workers["lastSeen"] is not None) is seen
    assert f"millrace_workers {3.0 if seen else 0.0}" in metrics


def test_a_python_warning_is_a_json_line_of_the_log(tmp_path):
    """A library's warning (PyJWT's on a short SECRET_KEY, say) keeps a JSON log JSON."""
    env = {"PATH": "/usr/bin:/bin", "MILLRACE_VAR_DIR": str(tmp_path), "MILLRACE_LOG_FORMAT": "json"}
    script = "import warnings; warnings.warn('the key is short', UserWarning)"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert [(line["logger"], line["level"]) for line in lines] == [("py.warnings", "WARNING")], done.stderr
    assert "UserWarning: the key is short" in lines[0]["message"]
