"""Password changes: one's own needs the current password; any change revokes older login tokens."""

from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import account_update, api_token_create
from tests.api.flowrunner.test_auth import assert_flowrunner_error, login
from tests.factories import PASSWORD, AccountFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-password"


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_changing_ones_own_password_needs_the_current_one(make_account):
    account = make_account(username="dora")
    client = bearer(login(APIClient(), "dora").json()["token"])
    url = f"/api/v1/accounts/{account.id}"

    missing = client.put(url, {"password": NEW_PASSWORD}, format="json")
    assert_flowrunner_error(missing, 400, "invalid_request")
    assert missing.json()["error"]["details"]["field"] == "current_password"
    blank = client.put(url, {"password": NEW_PASSWORD, "current_password": ""}, format="json")
    assert_flowrunner_error(blank, 400, "invalid_request")
    wrong = client.put(url, {"password": NEW_PASSWORD, "current_password": "not-my-password"}, format="json")
    assert_flowrunner_error(wrong, 400, "invalid_request")
    assert wrong.json()["error"]["details"]["reason"] == "incorrect"
    account.refresh_from_db()
    assert account.check_password(PASSWORD)

    changed = client.put(url, {"password": NEW_PASSWORD, "current_password": PASSWORD}, format="json")
    assert changed.status_code == 200, changed.content
    assert "current_password" not in changed.json()
    account.refresh_from_db()
    assert account.check_password(NEW_PASSWORD)


def test_a_password_change_revokes_older_login_tokens_but_not_api_tokens(make_account):
    account = make_account(username="erin")
    old_token = login(APIClient(), "erin").json()["token"]
    refreshed = bearer(old_token).post("/api/v1/auth/refresh").json()["token"]
    _, raw_api_token = api_token_create(actor=account, account=account, name="ci")
    url = f"/api/v1/accounts/{account.id}"

    response = bearer(old_token).put(url, {"password": NEW_PASSWORD, "current_password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content

    for token in (old_token, refreshed):
        assert_flowrunner_error(bearer(token).get(url), 401, "unauthorized")
        assert_flowrunner_error(bearer(token).post("/api/v1/auth/refresh"), 401, "unauthorized")
    assert_flowrunner_error(login(APIClient(), "erin"), 401, "unauthorized")
    new_token = login(APIClient(), "erin", NEW_PASSWORD).json()["token"]
    assert bearer(new_token).get(url).status_code == 200
    assert bearer(new_token).post("/api/v1/auth/refresh").status_code == 200
    assert bearer(raw_api_token).get(url).status_code == 200


def test_an_admin_resets_another_accounts_password_without_the_current_one(admin_account, make_account, client_for):
    member = make_account(Role.EDITOR, username="frank")
    member_token = login(APIClient(), "frank").json()["token"]
    url = f"/api/v1/accounts/{member.id}"

    response = client_for(admin_account).put(url, {"password": NEW_PASSWORD}, format="json")

    assert response.status_code == 200, response.content
    assert_flowrunner_error(bearer(member_token).get(url), 401, "unauthorized")
    assert login(APIClient(), "frank", NEW_PASSWORD).status_code == 200


def test_an_admin_changing_their_own_password_needs_the_current_one(admin_account, client_for):
    client = client_for(admin_account)
    url = f"/api/v1/accounts/{admin_account.id}"
    assert_flowrunner_error(client.put(url, {"password": NEW_PASSWORD}, format="json"), 400, "invalid_request")
    response = client.put(url, {"password": NEW_PASSWORD, "current_password": PASSWORD}, format="json")
    assert response.status_code == 200


def test_other_changes_to_ones_own_account_need_no_password(make_account, client_for):
    account = make_account()
    client = client_for(account)
    response = client.put(f"/api/v1/accounts/{account.id}", {"name": "Renamed"}, format="json")
    assert response.status_code == 200
    assert client.get(f"/api/v1/accounts/{account.id}").status_code == 200


def test_the_service_and_changepassword_command_revoke_too(make_account):
    account = make_account(username="gina")
    tokens = [login(APIClient(), "gina").json()["token"]]
    url = f"/api/v1/accounts/{account.id}"

    account_update(actor=account, account=account, password=NEW_PASSWORD, current_password=PASSWORD)
    assert_flowrunner_error(bearer(tokens[0]).get(url), 401, "unauthorized")

    tokens.append(login(APIClient(), "gina", NEW_PASSWORD).json()["token"])
    with mock.patch("getpass.getpass", return_value="yet-another-password"):
        call_command("changepassword", "gina", stdout=StringIO())
    assert_flowrunner_error(bearer(tokens[1]).get(url), 401, "unauthorized")
    assert login(APIClient(), "gina", "yet-another-password").status_code == 200


def test_set_password_anywhere_revokes_and_only_the_account_itself(make_account):
    account, bystander = make_account(username="hal"), AccountFactory(username="ivy")
    token, other = login(APIClient(), "hal").json()["token"], login(APIClient(), "ivy").json()["token"]
    account.set_password(NEW_PASSWORD)
    account.save()
    assert_flowrunner_error(bearer(token).get(f"/api/v1/accounts/{account.id}"), 401, "unauthorized")
    assert bearer(other).get(f"/api/v1/accounts/{bystander.id}").status_code == 200
