"""Engine tests run the real engine in this process (eager dispatch) on a transactional database."""

from collections.abc import Callable

import pytest

from accounts.models import Account
from accounts.roles import Role
from executions.models import Execution
from executions.services import execution_start
from flows.models import Flow
from tests.factories import AccountFactory, FlowFactory


@pytest.fixture
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


@pytest.fixture
def runner_account(eager, namespace) -> Account:
    return AccountFactory(role=Role.ADMIN, default_namespace=namespace)


@pytest.fixture
def run_flow(runner_account, namespace) -> Callable[..., Execution]:
    """Save `source` as a flow and run it to wherever the engine stops on its own."""

    def run(source: str, inputs: dict | None = None, *, name: str | None = None, flow: Flow | None = None) -> Execution:
        flow = flow or FlowFactory(
            namespace=namespace, source=source, created_by=runner_account, **({"name": name} if name else {})
        )
        execution = execution_start(actor=runner_account, flow=flow, inputs=inputs)
        execution.refresh_from_db()
        return execution

    return run
