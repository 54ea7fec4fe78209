"""A namespace admin never meets the other namespace on a list page: not in the rows, not in a
search, not among the filter choices, and not behind any filter link the page offers."""

import re
from html import unescape

import pytest

from accounts.models import Account, ApiToken, AuditEntry, Membership, Namespace
from accounts.services import api_token_create, audit_record
from executions.models import Approval, Execution, ExecutionEvent, Message, TaskRun
from flows.models import Agent, Trigger
from tests.admin.helpers import changelist_url
from vault.models import KeyValue, Secret

pytestmark = pytest.mark.django_db

MODELS = [
    Execution, TaskRun, ExecutionEvent, Message, Approval, Agent, Trigger, Secret, KeyValue,
    Namespace, Membership, Account, ApiToken, AuditEntry,
]  # fmt: skip
SEARCHES = ["in-b", "space-b", "b"]  # "in-b" is in the name of every row of tenant B


def markers_of_b(tenant_b) -> list[str]:
    return [
        "flow-in-b", "task-in-b", "event-in-b", "agent-in-b", "trigger-in-b", "secret-in-b", "kv-in-b",
        "space-b", "member-of-b", "user-in-b", "hook-key-b", "message-in-b", "token-of-b", "audit-of-b",
        str(tenant_b.namespace.pk), str(tenant_b.execution.pk), str(tenant_b.agent.pk),
    ]  # fmt: skip


@pytest.fixture
def both(tenant_a, tenant_b):
    """Tenant B gets a token and audit entries too, so every list has a row to leak."""
    api_token_create(actor=tenant_b.account, account=tenant_b.account, name="token-of-b")
    audit_record(actor=tenant_b.account, action="audit-of-b", resource_type="flow", namespace="space-b")
    audit_record(actor=None, action="audit-of-a", resource_type="flow", namespace="space-a")
    return tenant_a, tenant_b


def filter_links(page: str) -> list[str]:
    """The query strings of every link in the changelist's filter sidebar and date hierarchy."""
    found = []
    for section in ('id="changelist-filter"', 'class="xfull"'):
        if section in page:
            start = page.index(section)
            end = page.index("</nav>", start) if "</nav>" in page[start:] else len(page)
            found += re.findall(r'href="(\?[^"]*)"', page[start:end])
    return sorted({unescape(link) for link in found})


def leaks(page: str, markers: list[str]) -> list[str]:
    return [marker for marker in markers if marker in page]


@pytest.mark.parametrize("model", MODELS, ids=[model.__name__ for model in MODELS])
def test_nothing_of_the_other_namespace_on_any_list_search_or_filter(client, ns_admin, both, model):
    _, tenant_b = both
    markers = markers_of_b(tenant_b)
    client.force_login(ns_admin)
    url = changelist_url(model)

    page = client.get(url).content.decode()
    assert page and leaks(page, markers) == []
    for term in SEARCHES:
        searched = client.get(url, {"q": term})
        assert searched.status_code == 200
        echoed = [marker for marker in markers if marker != term]  # the search box shows the term itself
        assert leaks(searched.content.decode(), echoed) == [], term
    links = filter_links(page)
    for link in links:
        filtered = client.get(url + link)
        assert filtered.status_code == 200, link
        assert leaks(filtered.content.decode(), markers) == [], link


@pytest.mark.parametrize("model", [Execution, Agent, Secret, Trigger], ids=lambda model: model.__name__)
def test_the_sweep_would_see_a_leak(client, global_admin, both, model):
    """The same pages show tenant B to a global admin: the markers are on them when visible."""
    _, tenant_b = both
    client.force_login(global_admin)

    page = client.get(changelist_url(model)).content.decode()

    assert leaks(page, markers_of_b(tenant_b))
    assert filter_links(page)
