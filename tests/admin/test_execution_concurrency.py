"""The console shows executions queued by their flow's concurrency limit, and why they wait."""

from django.urls import reverse

from accounts.roles import Role
from executions.models import Execution, ExecutionStatus
from executions.services import execution_start
from tests.admin.helpers import change_url, changelist_url
from tests.factories import AccountFactory, FlowFactory, NamespaceFactory

LIMITED = """
name: limited
concurrency: {limit: 2}
tasks:
  - name: ask
    type: flow.pause
"""


def test_a_queued_execution_says_it_waits_for_a_slot_and_how_many_run(client, settings, transactional_db):
    settings.MILLRACE_ENGINE_EAGER = True
    space = NamespaceFactory(name="space-limits")
    executor = AccountFactory(username="limits", role=Role.EXECUTOR, default_namespace=space)
    flow = FlowFactory(namespace=space, source=LIMITED)
    running = [execution_start(actor=executor, flow=flow) for _ in range(2)]
    queued = execution_start(actor=executor, flow=flow)
    queued.refresh_from_db()
    assert queued.status == ExecutionStatus.QUEUED and queued.waiting_for_slot
    client.force_login(executor)

    listing = client.get(changelist_url(Execution) + "?status__exact=QUEUED").content.decode()
    assert "QUEUED (waiting for a concurrency slot)" in listing
    page = client.get(change_url(queued)).content.decode()
    assert 'class="execution-slot-wait">Waiting for a concurrency slot: 2 of 2 running<' in page
    live = client.get(reverse("admin:executions_execution_live", args=[queued.pk])).content.decode()
    assert "Waiting for a concurrency slot: 2 of 2 running" in live
    other = client.get(change_url(running[0])).content.decode()
    assert "execution-slot-wait" not in other
