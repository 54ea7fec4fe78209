"""The browser-test harness itself: the console is served, logins work, flows run to the end."""

from accounts.models import Account
from executions.models import ExecutionStatus
from executions.services import execution_start
from flows.services import flow_create
from tests.browser.helpers import click_through, outside_playwright, wait_for_status

SLEEPY = "name: sleepy\ntasks:\n  - name: nap\n    type: util.sleep\n    properties:\n      seconds: 1\n"


def test_login_shows_the_console(page, login, make_superuser) -> None:
    login(page, make_superuser())
    assert page.title().endswith("Millrace console")
    stylesheet = page.request.get("/static/admin/css/base.css")
    assert stylesheet.ok
    assert "body" in stylesheet.text()


def test_login_refuses_a_wrong_password(page, make_superuser) -> None:
    account: Account = make_superuser()
    page.goto("/admin/login/")
    page.fill("#id_username", account.username)
    page.fill("#id_password", "not-the-password")
    click_through(page, "input[type=submit]")
    assert page.locator(".errornote").is_visible()
    assert "/admin/login/" in page.url


def test_a_sleeping_flow_runs_to_success(server_url, make_superuser, make_namespace) -> None:
    operator = make_superuser()
    namespace = make_namespace("harness")
    flow = outside_playwright(lambda: flow_create(actor=operator, namespace=namespace, source=SLEEPY))
    execution = outside_playwright(lambda: execution_start(actor=operator, flow=flow))
    seen = wait_for_status(execution, ExecutionStatus.SUCCESS)
    assert seen[0] in (ExecutionStatus.RUNNING, ExecutionStatus.WAITING)
    assert seen[-1] == ExecutionStatus.SUCCESS
