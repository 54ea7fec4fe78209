"""Console password changes follow the API's rules: the current password for one's own, and
every change revokes the account's older login tokens (the changer's console session stays)."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.services import api_token_create
from tests.admin.helpers import admin_url
from tests.conftest import token_for
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "console-new-password"


def account_status(token: str, account: Account) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(f"/api/v1/accounts/{account.id}").status_code


def test_changing_ones_own_password_in_the_console_revokes_login_tokens(client, viewer_a):
    token = token_for(viewer_a)
    _, api_token = api_token_create(actor=viewer_a, account=viewer_a, name="ci")
    client.force_login(viewer_a)
    form = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}

    refused = client.post(admin_url("password_change"), {**form, "old_password": "wrong-password"})
    assert refused.status_code == 200 and account_status(token, viewer_a) == 200
    response = client.post(admin_url("password_change"), form)

    assert response.status_code == 302
    assert account_status(token, viewer_a) == 401
    assert account_status(api_token, viewer_a) == 200
    assert client.get(admin_url("index")).status_code == 200  # the changer's session stays


def test_an_admin_reset_in_the_console_revokes_the_accounts_login_tokens(client, global_admin, viewer_a):
    token = token_for(viewer_a)
    client.force_login(global_admin)
    url = admin_url("auth_user_password_change", viewer_a.pk)

    response = client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "set_usable_password": "true"})

    assert response.status_code == 302
    viewer_a.refresh_from_db()
    assert viewer_a.check_password(NEW_PASSWORD)
    assert account_status(token, viewer_a) == 401


def test_ones_own_reset_page_sends_to_the_form_that_asks_for_the_current_password(client, global_admin):
    client.force_login(global_admin)
    url = admin_url("auth_user_password_change", global_admin.pk)

    for response in (client.get(url), client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})):
        assert response.status_code == 302
        assert response["Location"] == admin_url("password_change")
    global_admin.refresh_from_db()
    assert global_admin.check_password(PASSWORD)
