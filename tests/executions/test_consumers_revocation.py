"""An open execution WebSocket closes with 4401 once its credential is revoked: a logged-out
JWT, a password change, a revoked API token, a disabled account, an ended console session."""

import asyncio
import time
from collections.abc import Callable

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from rest_framework_simplejwt.tokens import SlidingToken

from accounts.auth import auth_logout
from accounts.authentication import authenticate_raw_token, credential_current
from accounts.models import Account
from accounts.roles import Role
from accounts.services import account_update, api_token_create, api_token_revoke
from config.asgi import application
from executions.models import Execution
from executions.services import execution_create
from tests.admin.test_execution_socket import page_headers, session_cookie
from tests.conftest import token_for
from tests.factories import PASSWORD, AccountFactory, FlowFactory
from tests.sockets import in_loop, read_all

pytestmark = pytest.mark.django_db(transaction=True)

INTERVAL = 0.1


@pytest.fixture(autouse=True)
def quick_rechecks(settings):
    settings.MILLRACE_WS_RECHECK_SECONDS = INTERVAL


@pytest.fixture
def account(namespace) -> Account:
    return AccountFactory(role=Role.VIEWER, default_namespace=namespace)


@pytest.fixture
def running(namespace, account) -> Execution:
    """An execution that has not ended, so its stream stays open."""
    return execution_create(flow=FlowFactory(namespace=namespace), created_by=account)


async def stays_open(comm: WebsocketCommunicator, seconds: float) -> None:
    """Read what arrives for `seconds` (the replay) and check the socket was not closed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not await comm.receive_nothing(timeout=0.05):
            assert (await comm.receive_output(1))["type"] == "websocket.send"


def close_after(
    path: str, revoke: Callable[[], None] | None, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int | None, float]:
    """Open `path`, check it stays open over several rechecks, run `revoke`; the close code and
    how long after the revocation it came (None and 0 when `revoke` is None and it stays open)."""

    async def run():
        comm = WebsocketCommunicator(application, path, headers=headers or [])
        assert (await comm.connect(timeout=5))[0]
        await stays_open(comm, INTERVAL * 5)
        if revoke is None:
            await comm.disconnect()
            return None, 0.0
        await database_sync_to_async(revoke)()
        started = time.monotonic()
        _, code = await read_all(comm, timeout=5)
        return code, time.monotonic() - started

    return in_loop(run)


@pytest.mark.parametrize("route", ["/ws/executions/{id}", "/api/v1/executions/{id}/logs"])
def test_logout_closes_the_sockets_of_that_token(running, account, route):
    token = token_for(account)
    path = route.format(id=running.pk) + f"?token={token}"

    code, after = close_after(path, lambda: auth_logout(token=SlidingToken(token), account=account))

    assert code == 4401 and after < 2


def test_a_password_change_closes_login_token_sockets_not_api_token_ones(running, account):
    path = f"/ws/executions/{running.pk}"
    token = token_for(account)
    _, raw = api_token_create(actor=account, account=account, name="ws")

    def change_password() -> None:
        account_update(actor=account, account=account, password="a-new-password-1", current_password=PASSWORD)

    code, after = close_after(f"{path}?token={token}", change_password)
    assert code == 4401 and after < 2
    assert close_after(path, None, headers=[(b"authorization", f"Bearer {raw}".encode())]) == (None, 0.0)


def test_revoking_an_api_token_closes_its_sockets(running, account):
    token, raw = api_token_create(actor=account, account=account, name="ws")

    code, after = close_after(
        f"/ws/executions/{running.pk}",
        lambda: api_token_revoke(actor=account, token=token),
        headers=[(b"authorization", f"Bearer {raw}".encode())],
    )

    assert code == 4401 and after < 2


def test_disabling_the_account_closes_its_sockets(running, account):
    def disable() -> None:
        Account.objects.filter(pk=account.pk).update(is_active=False)

    code, _ = close_after(f"/ws/executions/{running.pk}?token={token_for(account)}", disable)

    assert code == 4401


def test_a_console_logout_closes_the_session_socket(running, account):
    headers = page_headers(session_cookie(account))

    code, _ = close_after(f"/ws/executions/{running.pk}", Session.objects.all().delete, headers)

    assert code == 4401


def test_another_tokens_logout_leaves_the_socket_open(running, account):
    token, other = token_for(account), token_for(account)

    async def run():
        comm = WebsocketCommunicator(application, f"/ws/executions/{running.pk}?token={token}")
        assert (await comm.connect(timeout=5))[0]
        await database_sync_to_async(lambda: auth_logout(token=SlidingToken(other), account=account))()
        await stays_open(comm, INTERVAL * 5)
        await comm.disconnect()

    in_loop(run)


def test_a_check_is_one_query(account, django_assert_num_queries):
    _, jwt = authenticate_raw_token(token_for(account))
    _, raw = api_token_create(actor=account, account=account, name="ws")
    _, api = authenticate_raw_token(raw)
    with django_assert_num_queries(1):
        assert credential_current(jwt)
    with django_assert_num_queries(1):
        assert credential_current(api)


def test_the_ended_stream_still_closes_normally(namespace, account):
    execution = execution_create(flow=FlowFactory(namespace=namespace), created_by=account)
    Execution.objects.filter(pk=execution.pk).update(status=Execution.Status.SUCCESS)
    path = f"/ws/executions/{execution.pk}?token={token_for(account)}"

    async def run():
        comm = WebsocketCommunicator(application, path)
        assert (await comm.connect(timeout=5))[0]
        _, code = await read_all(comm)
        await asyncio.sleep(INTERVAL * 3)  # the watch must not try to close it again
        return code

    assert in_loop(run) == 1000
