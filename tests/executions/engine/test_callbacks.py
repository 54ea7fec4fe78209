"""The callback outbox: a RunFlow result owed to a callback URL is recorded with the execution's
end, delivered once, retried with back-off, given up on refusal, and queued again by the sweeper
when its queue message was lost."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Response

from executions.engine import callbacks
from executions.engine.callbacks import CALLBACK_ATTEMPTS
from executions.engine.sweeper import sweep
from executions.models import CallbackDelivery, ExecutionStatus
from tests.factories import ExecutionFactory

S = CallbackDelivery.State


@pytest.fixture(autouse=True)
def allow_loopback(settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.MILLRACE_ENGINE_EAGER = True


def ended(url: str, status: str = ExecutionStatus.SUCCESS, outputs=None):
    return ExecutionFactory(status=status, outputs=outputs or {"n": 1}, trigger_data={"spiffCallbackUrl": url})


def owed(execution) -> CallbackDelivery:
    return CallbackDelivery.objects.get(execution=execution)


def test_an_ended_execution_owes_one_callback_delivered_once(transactional_db, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cb", method="PUT").respond_with_json({})
    execution = ended(httpserver.url_for("/cb"))

    callbacks.callback_owed(execution)
    callbacks.callback_owed(execution)  # every later report of the same end

    assert len(httpserver.log) == 1
    assert httpserver.log[0][0].get_json()["command_response"]["body"] == {"n": 1}
    delivery = owed(execution)
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (S.DELIVERED, 1, None)


def test_no_url_or_no_end_owes_nothing(transactional_db) -> None:
    callbacks.callback_owed(ExecutionFactory(status=ExecutionStatus.SUCCESS, trigger_data={}))
    callbacks.callback_owed(ExecutionFactory(status=ExecutionStatus.RUNNING, trigger_data={"spiffCallbackUrl": "x"}))
    assert not CallbackDelivery.objects.exists()


def test_a_lost_queue_message_is_queued_again_by_the_sweeper(
    transactional_db, httpserver: HTTPServer, settings
) -> None:
    httpserver.expect_request("/cb", method="PUT").respond_with_json({})
    settings.MILLRACE_ENGINE_EAGER = False  # queued on the ORM broker nobody reads: as good as lost
    execution = ended(httpserver.url_for("/cb"))
    callbacks.callback_owed(execution)
    settings.MILLRACE_ENGINE_EAGER = True

    assert sweep()["callbacks"] == 0  # its first delivery still has time
    assert owed(execution).state == S.PENDING and not httpserver.log
    later = timezone.now() + timedelta(seconds=settings.MILLRACE_REDISPATCH_SECONDS + 1)
    assert sweep(now=later)["callbacks"] == 1

    assert len(httpserver.log) == 1
    assert owed(execution).state == S.DELIVERED


def test_a_failing_receiver_is_retried_with_back_off_until_it_answers(transactional_db, httpserver: HTTPServer) -> None:
    answers = iter([Response("busy", status=503), Response("busy", status=429), Response("{}", status=200)])
    httpserver.expect_request("/cb", method="PUT").respond_with_handler(lambda request: next(answers))
    execution = ended(httpserver.url_for("/cb"))

    callbacks.callback_owed(execution)
    first = owed(execution)
    assert (first.state, first.attempts, first.last_error) == (S.PENDING, 1, "status 503")
    back_off = (first.next_attempt_at - first.updated_at).total_seconds()
    assert 4 < back_off <= 5.5  # 5 s after the first failure

    assert sweep(now=first.next_attempt_at)["callbacks"] == 1
    second = owed(execution)
    assert (second.attempts, second.last_error) == (2, "status 429")
    assert 9 < (second.next_attempt_at - second.updated_at).total_seconds() <= 10.5  # then 10 s

    sweep(now=second.next_attempt_at)
    assert owed(execution).state == S.DELIVERED and len(httpserver.log) == 3


@pytest.mark.parametrize("status", [400, 404])
def test_a_refusal_is_final(transactional_db, httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/cb", method="PUT").respond_with_json({}, status=status)
    execution = ended(httpserver.url_for("/cb"))

    callbacks.callback_owed(execution)

    delivery = owed(execution)
    assert (delivery.state, delivery.next_attempt_at, delivery.last_error) == (S.FAILED, None, f"status {status}")
    assert sweep(now=timezone.now() + timedelta(days=1))["callbacks"] == 0


def test_the_last_attempt_gives_up(transactional_db, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cb", method="PUT").respond_with_json({}, status=500)
    execution = ended(httpserver.url_for("/cb"))
    callbacks.callback_owed(execution)

    for _ in range(CALLBACK_ATTEMPTS):
        delivery = owed(execution)
        if delivery.state != S.PENDING:
            break
        sweep(now=delivery.next_attempt_at)

    delivery = owed(execution)
    assert (delivery.state, delivery.attempts) == (S.FAILED, CALLBACK_ATTEMPTS)
    assert len(httpserver.log) == CALLBACK_ATTEMPTS


def test_a_delivery_already_made_is_not_made_again(transactional_db, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cb", method="PUT").respond_with_json({})
    execution = ended(httpserver.url_for("/cb"))
    callbacks.callback_owed(execution)

    assert callbacks.deliver(str(execution.pk)) is False  # a duplicate queue message
    assert len(httpserver.log) == 1


def test_the_outbox_is_neutral_a_dialect_registers_its_url_key_and_body(transactional_db, monkeypatch) -> None:
    monkeypatch.setattr(callbacks, "_FORMATS", dict(callbacks._FORMATS))
    callbacks.register_format("other", url_key="otherUrl", render=lambda execution: {"done": execution.status})
    execution = ExecutionFactory(status=ExecutionStatus.FAILED, trigger_data={"otherUrl": "http://127.0.0.1:9/cb"})
    with mock.patch.object(callbacks.dispatch, "on_commit"):
        callbacks.callback_owed(execution)
    assert (owed(execution).url, owed(execution).body) == ("http://127.0.0.1:9/cb", {"done": "FAILED"})


def test_workers_know_the_connector_proxy_format_without_its_urls() -> None:
    """Registered by the api app's ready(), which every process runs (workers load no URL conf)."""
    assert callbacks._FORMATS["connector"].url_key == "spiffCallbackUrl"
