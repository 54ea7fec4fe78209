"""The console's "Convert" page: the saved definition in another format, or what it cannot express."""

import pytest
import yaml
from django.urls import reverse

from flows.models import Flow
from tests.admin.conftest import Tenant
from tests.factories import FlowFactory

pytestmark = pytest.mark.django_db

TASKS = "name: greet\ntasks:\n  - name: hello\n    type: util.log\n    properties:\n      message: Hello\n"
TRANSFORM = "name: shaped\ntasks:\n  - name: reshape\n    type: data.transform\n"
TRANSFORM += "    properties:\n      data: {a: 1}\n      expression: a\n"


def convert_url(flow: Flow) -> str:
    return reverse("admin:flows_flow_convert", args=[flow.pk])


@pytest.fixture
def greet(tenant_a: Tenant) -> Flow:
    return FlowFactory(namespace=tenant_a.namespace, name="greet", source=TASKS, format="tasks")


def test_the_change_page_links_to_convert(client, editor_a, greet):
    client.force_login(editor_a)
    page = client.get(reverse("admin:flows_flow_change", args=[greet.pk])).content.decode()
    assert f'href="{convert_url(greet)}" class="mr-convert-link">Convert</a>' in page


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            "kestra",
            {
                "id": "greet",
                "namespace": "space-a",
                "tasks": [{"id": "hello", "type": "io.kestra.plugin.core.log.Log", "message": "Hello"}],
            },
        ),
        (
            "nodes",
            {"metadata": {"name": "greet"}, "nodes": {"hello": {"type": "util.log", "params": {"message": "Hello"}}}},
        ),
    ],
)
def test_a_viewer_sees_the_converted_yaml_and_may_download_it(client, viewer_a, greet, target, expected):
    client.force_login(viewer_a)
    response = client.get(convert_url(greet), {"format": target})
    assert response.status_code == 200
    assert yaml.safe_load(response.context["text"]) == expected
    assert (
        'id="converted"' in response.content.decode() and 'aria-current="page">' + target in response.content.decode()
    )
    download = client.get(convert_url(greet), {"format": target, "download": "1"})
    assert download["Content-Disposition"] == f'attachment; filename="space-a.greet.{target}.yaml"'
    assert yaml.safe_load(download.content) == expected


def test_without_a_format_it_offers_another_format_than_the_flows_own(client, viewer_a, greet):
    client.force_login(viewer_a)
    response = client.get(convert_url(greet))
    assert response.context["target"] == "nodes" and response.context["text"].startswith("metadata:")


def test_what_cannot_be_expressed_is_listed(client, viewer_a, tenant_a):
    flow = FlowFactory(namespace=tenant_a.namespace, name="shaped", source=TRANSFORM)
    client.force_login(viewer_a)
    response = client.get(convert_url(flow), {"format": "kestra"})
    assert response.status_code == 200
    assert response.context["reasons"] == ["task 'reshape' (data.transform) has no Kestra type"]
    assert "has no Kestra type" in response.content.decode() and 'id="converted"' not in response.content.decode()
    assert "Content-Disposition" not in client.get(convert_url(flow), {"format": "kestra", "download": "1"})


def test_an_unknown_format_is_a_400(client, viewer_a, greet):
    client.force_login(viewer_a)
    response = client.get(convert_url(greet), {"format": "json"})
    assert response.status_code == 400 and "Unknown format" in response.content.decode()


def test_another_namespaces_flow_is_answered_as_missing(client, viewer_a, tenant_b):
    client.force_login(viewer_a)
    response = client.get(convert_url(tenant_b.flow), {"format": "kestra"})
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert "flow-in-b" not in client.get(response["Location"]).content.decode()
