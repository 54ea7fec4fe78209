"""FlowRunner login, sliding refresh, logout, and every kind of refused token."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import SlidingToken

from accounts.services import api_token_create, api_token_revoke
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def login(client: APIClient, username: str, password: str = PASSWORD, prefix: str = ""):
    return client.post(f"{prefix}/api/v1/auth/login", {"username": username, "password": password}, format="json")


def assert_flowrunner_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "details" in body["error"]


@pytest.mark.parametrize("prefix", ["", "/flowrunner"])
def test_login_by_username_or_email_returns_token_expiry_and_account(make_account, prefix):
    account = make_account(username="alice", email="alice@example.com")
    for name in ("alice", "alice@example.com", "ALICE@example.com"):
        response = login(APIClient(), name, prefix=prefix)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"token", "expires_at", "account_id"}
        assert body["account_id"] == str(account.id)
        assert body["expires_at"].endswith("Z")


def test_token_works_on_accounts_endpoint(make_account):
    account = make_account(username="bob")
    token = login(APIClient(), "bob").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get(f"/api/v1/accounts/{account.id}")
    assert response.status_code == 200
    assert response.json()["id"] == str(account.id)


def test_wrong_password_and_unknown_user_are_401(make_account):
    make_account(username="carol")
    assert_flowrunner_error(login(APIClient(), "carol", "wrong-password"), 401, "unauthorized")
    assert_flowrunner_error(login(APIClient(), "nobody"), 401, "unauthorized")


def test_login_with_missing_fields_is_422_and_bad_json_400():
    response = APIClient().post("/api/v1/auth/login", {"username": "x"}, format="json")
    assert_flowrunner_error(response, 422, "validation_error")
    assert response.json()["error"]["details"]["field"] == "password"
    response = APIClient().post("/api/v1/auth/login", "{not json", content_type="application/json")
    assert_flowrunner_error(response, 400, "invalid_request")


def test_refresh_slides_expiry_and_keeps_working(make_account, client_for):
    account = make_account()
    client = client_for(account)
    response = client.post("/api/v1/auth/refresh")
    assert response.status_code == 200
    new_token = response.json()["token"]
    assert response.json()["account_id"] == str(account.id)
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {new_token}")
    assert fresh.get(f"/api/v1/accounts/{account.id}").status_code == 200


def test_refresh_after_refresh_lifetime_is_401(make_account):
    account = make_account()
    token = SlidingToken.for_user(account)
    token.set_exp(claim="refresh_exp", lifetime=timedelta(seconds=-1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_flowrunner_error(client.post("/api/v1/auth/refresh"), 401, "unauthorized")


def test_logout_blacklists_the_token_everywhere(make_account, client_for):
    account = make_account()
    client = client_for(account)
    response = client.post("/api/v1/auth/logout")
    assert response.status_code == 200
    assert response.json() == {"message": "Logged out successfully"}
    assert_flowrunner_error(client.get(f"/api/v1/accounts/{account.id}"), 401, "unauthorized")
    assert_flowrunner_error(client.post("/api/v1/auth/refresh"), 401, "unauthorized")
    assert_flowrunner_error(client.get("/api/v1/audit"), 401, "unauthorized")


def test_expired_token_is_401(make_account):
    token = SlidingToken.for_user(make_account())
    token.set_exp(lifetime=timedelta(seconds=-5))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get("/api/v1/accounts")
    assert_flowrunner_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer not.a.jwt", "Bearer ", "Basic abc", "Bearer mr_unknown-token"])
def test_malformed_or_unknown_credentials_are_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_flowrunner_error(client.get("/api/v1/accounts"), 401, "unauthorized")


def test_token_signed_with_another_key_is_401(make_account):
    import jwt

    forged = jwt.encode(
        {"account_id": str(make_account().id), "token_type": "sliding", "jti": "x"},
        "another-signing-key-of-sufficient-length!",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert_flowrunner_error(client.get("/api/v1/accounts"), 401, "unauthorized")


def test_personal_api_token_works_until_revoked_and_cannot_be_refreshed(make_account):
    account = make_account()
    token, raw = api_token_create(actor=account, account=account, name="dashboard")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(f"/api/v1/accounts/{account.id}").status_code == 200
    assert_flowrunner_error(client.post("/api/v1/auth/refresh"), 400, "invalid_request")
    api_token_revoke(actor=account, token=token)
    response = client.get(f"/api/v1/accounts/{account.id}")
    assert_flowrunner_error(response, 401, "unauthorized")
    assert "revoked" in response.json()["error"]["message"]


def test_disabled_account_token_is_refused(make_account, client_for):
    account = make_account()
    client = client_for(account)
    account.is_active = False
    account.save()
    assert_flowrunner_error(client.get(f"/api/v1/accounts/{account.id}"), 401, "unauthorized")


def test_no_credentials_is_401():
    assert_flowrunner_error(APIClient().get("/api/v1/accounts"), 401, "unauthorized")


def test_open_access_when_auth_not_required(settings, admin_account):
    settings.MILLRACE_AUTH_REQUIRED = False
    response = APIClient().get("/api/v1/accounts")
    assert response.status_code == 200
    assert response.json()["total"] >= 1
