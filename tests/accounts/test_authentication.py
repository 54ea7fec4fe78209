"""A login JWT is checked in one query: the blacklist and the account together, with
simplejwt's refusals."""

from datetime import timedelta

import pytest
from rest_framework import exceptions
from rest_framework.test import APIClient
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import SlidingToken

from accounts.authentication import authenticate_raw_token, login_token_account
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_a_valid_token_is_one_query(django_assert_num_queries):
    account = AccountFactory()
    raw = str(SlidingToken.for_user(account))
    with django_assert_num_queries(1):
        found, token = login_token_account(raw)
    assert found == account
    assert isinstance(token, SlidingToken)
    assert str(token["account_id"]) == str(account.id)


def test_a_request_with_a_token_reads_the_account_and_blacklist_once(django_assert_max_num_queries):
    account = AccountFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {SlidingToken.for_user(account)}")
    with django_assert_max_num_queries(3) as queries:  # the authentication, memberships, the account
        assert client.get(f"/api/v1/accounts/{account.id}").status_code == 200
    sqls = [query["sql"] for query in queries.captured_queries]
    assert sum("token_blacklist" in sql for sql in sqls) == 1
    assert "token_blacklist" in sqls[0] and "accounts_account" in sqls[0]


def test_a_blacklisted_token_is_refused_as_simplejwt_refuses_it():
    token = SlidingToken.for_user(AccountFactory())
    token.blacklist()
    with pytest.raises(InvalidToken) as refused:
        login_token_account(str(token))
    assert refused.value.detail["messages"][0]["message"] == "Token is blacklisted"
    assert refused.value.detail["messages"][0]["token_class"] == "SlidingToken"
    assert refused.value.detail["detail"] == "Given token not valid for any token type"


def test_an_expired_token_is_refused():
    token = SlidingToken.for_user(AccountFactory())
    token.set_exp(lifetime=timedelta(seconds=-5))
    with pytest.raises(InvalidToken) as refused:
        login_token_account(str(token))
    assert refused.value.detail["messages"][0]["message"] == "Token is expired"


@pytest.mark.parametrize("raw", ["not.a.jwt", "", "a" * 5000, "e30.e30.e30"])
def test_malformed_tokens_are_invalid(raw):
    with pytest.raises(InvalidToken):
        login_token_account(raw)


def _change_password(account) -> None:
    account.set_password("a-new-password-0123")
    account.save()


def _disable(account) -> None:
    account.is_active = False
    account.save()


@pytest.mark.parametrize(
    ("change", "code"),
    [(_change_password, "password_changed"), (_disable, "user_inactive"), (lambda a: a.delete(), "user_not_found")],
)
def test_a_token_of_an_account_changed_since_is_refused(change, code):
    account = AccountFactory()
    raw = str(SlidingToken.for_user(account))
    login_token_account(raw)
    change(account)
    with pytest.raises(exceptions.AuthenticationFailed) as refused:
        login_token_account(raw)
    assert refused.value.get_codes() == code


def test_a_token_without_an_account_claim_is_invalid():
    token = SlidingToken()
    with pytest.raises(InvalidToken):
        login_token_account(str(token))


def test_the_websocket_credential_is_the_tokens():
    account = AccountFactory()
    token = SlidingToken.for_user(account)
    found, credential = authenticate_raw_token(str(token))
    assert found == account
    assert (credential.kind, credential.key) == ("jwt", token["jti"])
    assert credential.password_digest == token["hash_password"]


@pytest.mark.parametrize("claim", ["not-an-id", 12345, ""])
def test_a_signed_token_whose_account_claim_is_no_id_is_refused(claim):
    token = SlidingToken()
    token["account_id"] = claim
    with pytest.raises(exceptions.AuthenticationFailed) as refused:
        login_token_account(str(token))
    assert refused.value.get_codes() == "user_not_found"
