"""The execution socket as the console page uses it: authenticated by the Django session, only
from the console's own origin, and never instead of a token that was given."""

import pytest
from django.test import Client

from accounts.roles import Role
from executions.models import Execution
from executions.services import execution_create
from tests.factories import AccountFactory, FlowFactory, NamespaceFactory
from tests.sockets import stream

pytestmark = pytest.mark.django_db(transaction=True)

HOST = b"testserver"
ORIGIN = b"http://testserver"


@pytest.fixture
def space():
    return NamespaceFactory(name="socket-space")


@pytest.fixture
def member(space):
    return AccountFactory(username="console-member", role=Role.VIEWER, default_namespace=space)


@pytest.fixture
def ended(space, member) -> Execution:
    """An execution that has ended, so a stream replays it and closes with 1000."""
    execution = execution_create(flow=FlowFactory(namespace=space), created_by=member)
    Execution.objects.filter(pk=execution.pk).update(status=Execution.Status.SUCCESS)
    return execution


def session_cookie(account) -> bytes:
    client = Client()
    client.force_login(account)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def page_headers(cookie: bytes, origin: bytes | None = ORIGIN) -> list[tuple[bytes, bytes]]:
    headers = [(b"host", HOST), (b"cookie", cookie)]
    return headers + ([(b"origin", origin)] if origin is not None else [])


def test_the_console_session_opens_the_stream(ended, member):
    messages, code = stream(f"/ws/executions/{ended.pk}?event_ids=true", page_headers(session_cookie(member)))

    assert code == 1000
    assert messages[0]["type"] == "execution_update"
    assert all("event_id" in message for message in messages)


@pytest.mark.parametrize("origin", [None, b"http://evil.example", b"null", b"http://testserver:8443"])
def test_a_session_from_another_origin_is_refused(ended, member, origin):
    messages, code = stream(f"/ws/executions/{ended.pk}", page_headers(session_cookie(member), origin))

    assert (messages, code) == ([], 4401)


def test_a_trusted_origin_may_use_the_session(ended, member, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://console.example"]

    _, code = stream(f"/ws/executions/{ended.pk}", page_headers(session_cookie(member), b"https://console.example"))

    assert code == 1000


def test_a_bad_token_is_refused_even_with_a_good_session(ended, member):
    headers = [*page_headers(session_cookie(member)), (b"authorization", b"Bearer not-a-token")]

    by_header = stream(f"/ws/executions/{ended.pk}", headers)
    by_query = stream(f"/ws/executions/{ended.pk}?token=mr_forged", page_headers(session_cookie(member)))

    assert by_header == ([], 4401)
    assert by_query == ([], 4401)


def test_a_session_outside_the_namespace_is_not_found(ended):
    stranger = AccountFactory(role=Role.EDITOR, default_namespace=NamespaceFactory(name="elsewhere"))

    assert stream(f"/ws/executions/{ended.pk}", page_headers(session_cookie(stranger))) == ([], 4404)


def test_an_ended_or_stale_session_is_refused(ended, member):
    cookie = session_cookie(member)
    member.set_password("a-new-password-now")  # the session's auth hash no longer matches
    member.save()

    assert stream(f"/ws/executions/{ended.pk}", page_headers(cookie)) == ([], 4401)
    assert stream(f"/ws/executions/{ended.pk}", page_headers(b"sessionid=made-up")) == ([], 4401)


def test_a_disabled_account_loses_its_socket(ended, member):
    cookie = session_cookie(member)
    member.is_active = False
    member.save()

    assert stream(f"/ws/executions/{ended.pk}", page_headers(cookie)) == ([], 4401)
