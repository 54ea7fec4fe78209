"""Login: the password hasher runs whether the account exists or not (no enumeration by timing)."""

from unittest import mock

import pytest
from django.contrib.auth.hashers import get_hasher

from accounts.auth import auth_login
from core.errors import NotAuthenticated
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hasher_calls():
    """Every run of the password hasher (checking a password and hashing a dummy one both encode)."""
    hasher = type(get_hasher())
    with mock.patch.object(hasher, "encode", autospec=True, side_effect=hasher.encode) as encode:
        yield encode


@pytest.mark.parametrize("username", ["nobody", "nobody@example.com"])
def test_an_unknown_name_runs_the_hasher_like_a_wrong_password(username, hasher_calls):
    AccountFactory(username="alice", email="alice@example.com")
    hasher_calls.reset_mock()
    with pytest.raises(NotAuthenticated):
        auth_login(username="alice", password="wrong-password")
    known = hasher_calls.call_count
    hasher_calls.reset_mock()
    with pytest.raises(NotAuthenticated) as unknown:
        auth_login(username=username, password="wrong-password")
    assert known == hasher_calls.call_count == 1
    assert unknown.value.message == "Invalid username or password."
