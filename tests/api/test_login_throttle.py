"""Login throttling (issue 16): 10 failures lock the username, whatever the address, on every login."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from tests.factories import PASSWORD, AccountFactory

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT
WINDOW = settings.AXES_COOLOFF_TIME
LOGINS = ["/api/v1/auth/login", "/flowrunner/api/v1/auth/login", "/auth/login", "/workflowdev/auth/login"]


def login(path: str, username: str, password: str, address: str = "203.0.113.5"):
    return APIClient(REMOTE_ADDR=address).post(path, {"username": username, "password": password}, format="json")


def fail(path: str, username: str, times: int = LIMIT, address: str = "203.0.113.5") -> None:
    for attempt in range(times):
        response = login(path, username, "wrong-password", address)
        assert response.status_code == 401, (attempt, response.content)


def assert_locked(response) -> None:
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == "too_many_attempts" and error["message"] and "details" in error
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= WINDOW.total_seconds()
    assert error["details"]["retry_after"] == retry_after


def test_the_settings_are_the_issue_s():
    assert LIMIT == 10
    assert WINDOW.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username"]


@pytest.mark.parametrize("path", LOGINS)
def test_ten_failures_lock_the_username_even_for_the_right_password(path):
    AccountFactory(username="alice")
    fail(path, "alice")
    assert_locked(login(path, "alice", PASSWORD))
    assert_locked(login(path, "alice", "wrong-password"))


def test_the_lock_holds_on_every_login_path_and_every_spelling_of_the_name():
    AccountFactory(username="alice", email="alice@example.com")
    fail(LOGINS[0], "alice", 5)
    fail(LOGINS[2], "ALICE@example.com", 5)
    for path in LOGINS:
        assert_locked(login(path, "Alice", PASSWORD, address="198.51.100.9"))


def test_other_accounts_on_the_same_address_are_not_locked():
    AccountFactory(username="alice")
    AccountFactory(username="bob")
    fail(LOGINS[0], "alice")
    assert login(LOGINS[0], "bob", PASSWORD).status_code == 200


def test_an_unknown_username_is_answered_exactly_like_a_known_one():
    AccountFactory(username="alice")
    answers = {}
    for name in ("alice", "nobody"):
        fail(LOGINS[0], name)
        response = login(LOGINS[0], name, PASSWORD)
        assert_locked(response)
        answers[name] = (response.status_code, response.json()["error"]["code"], response["Retry-After"])
    assert answers["alice"][:2] == answers["nobody"][:2]


def test_the_lock_ends_when_the_window_has_passed():
    AccountFactory(username="alice")
    fail(LOGINS[0], "alice")
    assert_locked(login(LOGINS[0], "alice", PASSWORD))
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - WINDOW - timedelta(seconds=1))
    assert login(LOGINS[0], "alice", PASSWORD).status_code == 200


def test_refused_attempts_do_not_extend_the_lock():
    AccountFactory(username="alice")
    fail(LOGINS[0], "alice")
    attempt_time = AccessAttempt.objects.get(username="alice").attempt_time
    assert_locked(login(LOGINS[0], "alice", "wrong-password"))
    assert AccessAttempt.objects.get(username="alice").attempt_time == attempt_time


def test_failed_logins_are_audited_without_the_password():
    alice = AccountFactory(username="alice")
    fail(LOGINS[0], "alice", 1)
    fail(LOGINS[2], "nobody", 1)
    entries = AuditEntry.objects.filter(action="auth.login_failed").order_by("created_at")
    assert [entry.summary["username"] for entry in entries] == ["alice", "nobody"]
    assert entries[0].resource_id == str(alice.id) and entries[0].namespace == alice.default_namespace.name
    assert all("wrong-password" not in str(entry.summary) for entry in entries)


def test_the_console_login_is_locked_too_with_a_readable_page():
    AccountFactory(username="alice")
    console = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(LIMIT):
        response = console.post("/admin/login/", {"username": "alice", "password": "wrong-password"})
        assert response.status_code == 200  # the form again, with its error
    response = console.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= WINDOW.total_seconds()
    assert response["Content-Type"].startswith("text/html")
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in console.session
    assert_locked(login(LOGINS[0], "alice", PASSWORD))  # one count for the console and the APIs
