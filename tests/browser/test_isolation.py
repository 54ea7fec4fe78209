"""A namespace admin in a browser cannot reach another namespace's execution or secret: not in
the lists, not by search, not by typing the URL, not through the live socket."""

import pytest

from executions.models import Execution
from tests.factories import ExecutionFactory, FlowFactory
from vault.services import secret_set


@pytest.fixture
def two_tenants(make_namespace, make_superuser, make_namespace_admin):
    """Written before the server starts (tests ask for it before `page`)."""
    alpha, beta = make_namespace("alpha"), make_namespace("beta")
    root = make_superuser()
    records = {}
    for namespace in (alpha, beta):
        flow = FlowFactory(namespace=namespace, name=f"payroll-{namespace.name}")
        records[namespace.name] = {
            "execution": ExecutionFactory(flow=flow, status=Execution.Status.FAILED, error=f"error-{namespace.name}"),
            "secret": secret_set(
                actor=root, name=f"BANK_KEY_{namespace.name.upper()}", value="x" * 12, namespace=namespace
            ),
        }
    return make_namespace_admin(alpha, username="alpha-admin"), records


def close_code_of_socket(page, execution_id) -> int:
    """Open the execution socket from the page (with its session cookie) and report how it closes."""
    return page.evaluate(
        """(id) => new Promise((resolve) => {
            const socket = new WebSocket(`ws://${location.host}/ws/executions/${id}`);
            socket.onclose = (event) => resolve(event.code);
        })""",
        str(execution_id),
    )


def test_another_namespaces_execution_is_out_of_reach(two_tenants, page, login):
    admin, records = two_tenants
    own, foreign = records["alpha"]["execution"], records["beta"]["execution"]
    login(page, admin)

    page.goto("/admin/executions/execution/")
    listing = page.locator("#result_list").inner_text()
    page.fill("#searchbar", "payroll-beta")
    page.press("#searchbar", "Enter")
    searched = page.locator("#changelist").inner_text()
    page.goto(f"/admin/executions/execution/{foreign.pk}/change/")
    direct_url, direct_text = page.url, page.locator("#content").inner_text()
    direct_message = page.locator(".messagelist").inner_text()
    fragment = page.request.get(f"/admin/executions/execution/{foreign.pk}/live/")
    page.goto(f"/admin/executions/execution/{own.pk}/change/")

    assert "payroll-alpha" in listing and "payroll-beta" not in listing
    assert "0 executions" in searched and "payroll-beta" not in searched
    assert direct_url.endswith("/admin/") and "Perhaps it was deleted?" in direct_message
    assert "payroll-beta" not in direct_text and "error-beta" not in direct_text
    assert fragment.status == 404
    assert close_code_of_socket(page, foreign.pk) == 4404
    assert close_code_of_socket(page, own.pk) == 1000  # its own ended run replays and closes normally
    assert "error-alpha" in page.locator("#execution-live").inner_text()


def test_another_namespaces_secret_is_out_of_reach(two_tenants, page, login):
    admin, records = two_tenants
    foreign = records["beta"]["secret"]
    login(page, admin)

    page.goto("/admin/vault/secret/")
    listing = page.locator("#result_list").inner_text()
    filters = page.locator("#changelist-filter").inner_text()
    page.fill("#searchbar", "BANK_KEY_BETA")
    page.press("#searchbar", "Enter")
    searched = page.locator("#changelist").inner_text()
    page.goto(f"/admin/vault/secret/{foreign.pk}/change/")

    assert "BANK_KEY_ALPHA" in listing and "BANK_KEY_BETA" not in listing
    assert "alpha" in filters and "beta" not in filters
    assert "0 secrets" in searched and "BANK_KEY_BETA" not in searched
    assert page.url.endswith("/admin/")
    assert "Perhaps it was deleted?" in page.locator(".messagelist").inner_text()
    assert "BANK_KEY_BETA" not in page.locator("#content").inner_text()
