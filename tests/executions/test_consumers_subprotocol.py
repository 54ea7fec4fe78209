"""Browsers cannot set `Authorization` on a WebSocket: the token may come as the subprotocols
`bearer, <token>`, and the socket is accepted with `bearer`, never with the token."""

import pytest
from channels.testing import WebsocketCommunicator

from accounts.roles import Role
from accounts.services import api_token_create
from config.asgi import application
from executions.models import Execution
from executions.services import execution_create
from tests.conftest import token_for
from tests.factories import AccountFactory, FlowFactory
from tests.sockets import in_loop, read_all

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def account(namespace):
    return AccountFactory(role=Role.VIEWER, default_namespace=namespace)


@pytest.fixture
def ended(namespace, account) -> Execution:
    execution = execution_create(flow=FlowFactory(namespace=namespace), created_by=account)
    Execution.objects.filter(pk=execution.pk).update(status=Execution.Status.SUCCESS)
    return execution


def open_with(path: str, subprotocols: list[str]) -> tuple[str | None, list, int | None]:
    """The accepted subprotocol, the messages and the close code."""

    async def run():
        comm = WebsocketCommunicator(application, path, subprotocols=subprotocols)
        connected, subprotocol = await comm.connect(timeout=5)
        assert connected
        messages, code = await read_all(comm)
        return subprotocol, messages, code

    return in_loop(run)


@pytest.mark.parametrize("route", ["/ws/executions/{id}", "/api/v1/executions/{id}/logs"])
def test_a_login_token_in_the_subprotocols_opens_the_stream(ended, account, route):
    token = token_for(account)

    subprotocol, messages, code = open_with(route.format(id=ended.pk), ["bearer", token])

    assert subprotocol == "bearer"
    assert messages and code == 1000


def test_an_api_token_in_the_subprotocols_opens_the_stream(ended, account):
    _, raw = api_token_create(actor=account, account=account, name="browser")

    subprotocol, messages, code = open_with(f"/ws/executions/{ended.pk}", ["Bearer", raw])
    assert messages

    assert subprotocol == "Bearer" and code == 1000


@pytest.mark.parametrize("offered", [["bearer", "not-a-token"], ["bearer"], ["bearer", "mr_forged-token-value"]])
def test_a_bad_or_missing_subprotocol_token_is_4401_with_bearer_accepted(ended, offered):
    assert open_with(f"/ws/executions/{ended.pk}", offered) == ("bearer", [], 4401)


def test_other_subprotocols_are_not_chosen_and_the_query_token_still_works(ended, account):
    subprotocol, _, code = open_with(f"/ws/executions/{ended.pk}?token={token_for(account)}", ["graphql-ws"])
    assert (subprotocol, code) == (None, 1000)
    assert open_with(f"/ws/executions/{ended.pk}", []) == (None, [], 4401)
