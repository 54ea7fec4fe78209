"""The console shows what a gate asks: on the execution page's Approve/Reject block and in the
approvals list, rendered with the inputs and with secrets masked."""

import pytest

from accounts.roles import Role
from executions.models import Approval, Execution
from executions.services import execution_start
from tests.admin.helpers import change_url, changelist_url
from tests.factories import AccountFactory, FlowFactory, NamespaceFactory
from vault.services import secret_set

ASKING = """
name: asking
inputs:
  - id: version
    type: STRING
    defaults: "42"
tasks:
  - name: ask
    type: flow.pause
    properties:
      message: "Ship version {{ inputs.version }}?"
"""
SECRETIVE = """
name: secretive
tasks:
  - name: ask
    type: flow.pause
    properties:
      message: "Deploy with ${DEPLOY_KEY}?"
"""
SILENT = """
name: silent
tasks:
  - name: ask
    type: flow.pause
"""
SECRET = "deploy-key-that-must-not-show"


@pytest.fixture
def space(settings, transactional_db):
    settings.MILLRACE_ENGINE_EAGER = True
    return NamespaceFactory(name="space-gates")


@pytest.fixture
def executor(space):
    admin = AccountFactory(role=Role.ADMIN, default_namespace=space)
    secret_set(actor=admin, name="DEPLOY_KEY", value=SECRET, namespace=space)
    return AccountFactory(username="gatekeeper", role=Role.EXECUTOR, default_namespace=space)


def start(source: str, space, actor) -> Execution:
    execution = execution_start(actor=actor, flow=FlowFactory(namespace=space, source=source), inputs={})
    execution.refresh_from_db()
    return execution


def test_the_execution_page_shows_the_question_beside_approve_and_reject(client, space, executor):
    execution = start(ASKING, space, executor)
    client.force_login(executor)
    page = client.get(change_url(execution)).content.decode()
    block = page[page.index('class="execution-approvals"') :]
    block = block[: block.index("</table>")]
    assert '<td class="approval-message">Ship version 42?</td>' in block
    assert "approve-button" in block and "reject-button" in block


def test_a_question_that_used_a_secret_is_shown_masked(client, space, executor):
    execution = start(SECRETIVE, space, executor)
    client.force_login(executor)
    page = client.get(change_url(execution)).content.decode()
    assert '<td class="approval-message">******</td>' in page
    assert SECRET not in page
    assert SECRET not in client.get(changelist_url(Approval)).content.decode()


def test_the_approvals_list_shows_the_question(client, space, executor):
    start(ASKING, space, executor)
    start(SILENT, space, executor)
    client.force_login(executor)
    page = client.get(changelist_url(Approval)).content.decode()
    assert "<th" in page and "Asks" in page
    assert page.count('<td class="field-message">Ship version 42?</td>') == 1
    assert Approval.objects.count() == 2
