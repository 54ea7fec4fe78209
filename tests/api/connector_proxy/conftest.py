"""Connector proxy tests: an authenticated client and a local upstream the network policy allows."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.roles import Role


@pytest.fixture
def allow_loopback(settings: Any) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture
def executor(make_account: Callable[..., Account]) -> Account:
    return make_account(Role.EXECUTOR)


@pytest.fixture
def proxy(client_for: Callable[[Account | None], APIClient], executor: Account, allow_loopback: None) -> APIClient:
    """A client with a platform token for an executor of the `production` namespace."""
    return client_for(executor)


def envelope(body: Any, http_status: int = 200, error: Any = None) -> dict[str, Any]:
    """The seed's envelope without its log lines (tests compare those separately)."""
    return {
        "command_response": {"body": body, "mimetype": "application/json", "http_status": http_status},
        "command_response_version": 2,
        "error": error,
    }


def without_logs(data: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(data.pop("spiff__logs"), list)
    return data
