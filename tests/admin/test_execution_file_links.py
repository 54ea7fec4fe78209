"""The execution page links the execution's own files (from its inputs and its tasks' outputs) to
a download for whoever may see the execution; anything else is a 404."""

import html
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.roles import Role
from core import storage
from core.filerefs import execution_file_key
from executions.admin.file_links import LINK_LIMIT, file_links, uris_in
from executions.models import Execution
from executions.services import execution_start
from tests.admin.helpers import change_url
from tests.factories import AccountFactory, ExecutionFactory, FlowFactory, NamespaceFactory, TaskRunFactory

UPLOAD = """name: upload
inputs:
  - {id: data, type: FILE}
tasks:
  - name: show
    type: util.log
    properties:
      message: "{{ inputs.data }}"
"""


@pytest.fixture
def space(transactional_db):
    return NamespaceFactory(name="space-links")


@pytest.fixture
def executor(space):
    return AccountFactory(username="runner", role=Role.EXECUTOR, default_namespace=space)


@pytest.fixture
def viewer(space):
    return AccountFactory(username="watcher", role=Role.VIEWER, default_namespace=space)


@pytest.fixture
def execution(settings, space, executor) -> Execution:
    """A run given a file, with a task run whose outputs name its own file, another execution's
    and a namespace file."""
    settings.MILLRACE_ENGINE_EAGER = True
    flow = FlowFactory(namespace=space, source=UPLOAD)
    execution = execution_start(actor=executor, flow=flow, files={"data": SimpleUploadedFile("in.txt", b"given")})
    execution.refresh_from_db()
    own = execution_file_key("space-links", str(execution.pk), "made/report.csv")
    storage.put(own, b"a,b\n")
    other = ExecutionFactory(flow=flow)
    theirs = execution_file_key("space-links", str(other.pk), "inputs/data/theirs.txt")
    storage.put(theirs, b"not yours")
    TaskRunFactory(
        execution=execution,
        step_id="make",
        name="make",
        plugin_type="util.echo",
        sequence=9,
        outputs={
            "outputFiles": {"report.csv": f"millrace:///{own}"},
            "copies": [f"millrace:///{theirs}", "millrace:///space-links/_files/a.txt"],
        },
    )
    return execution


def download_url(execution: Execution, uri: str) -> str:
    return reverse("admin:executions_execution_file", args=[execution.pk]) + "?" + urlencode({"uri": uri})


def test_the_page_links_the_executions_own_files_only(client, execution, executor):
    client.force_login(executor)
    page = html.unescape(client.get(change_url(execution)).content.decode())
    files = page[page.index('class="execution-files"') : page.index("</table>", page.index('class="execution-files"'))]
    given = execution.inputs["data"]
    made = f"millrace:///space-links/executions/{execution.pk}/made/report.csv"
    assert download_url(execution, given) in files and download_url(execution, made) in files
    assert "inputs.data" in files and "make · outputFiles.report.csv" in files
    assert files.count("<a ") == 2  # neither the other execution's file nor the namespace file
    assert "theirs.txt" in page  # still shown, as text, in the task's outputs


def test_a_linked_file_downloads_as_an_attachment_for_a_viewer(client, execution, viewer):
    client.force_login(viewer)
    response = client.get(download_url(execution, execution.inputs["data"]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="in.txt"'
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"given"


def test_a_uri_outside_the_execution_is_404(client, execution, executor):
    client.force_login(executor)
    other = execution.task_runs.get(name="make").outputs["copies"][0]
    for uri in (
        other,  # another execution of the same namespace
        "millrace:///space-links/_files/a.txt",
        f"millrace:///space-links/executions/{execution.pk}/../x/inputs/data/in.txt",
        f"millrace:///space-links/executions/{execution.pk}/inputs/data/missing.txt",
        "millrace:///elsewhere/executions/1/a.txt",
        "/etc/passwd",
        "",
    ):
        assert client.get(download_url(execution, uri)).status_code == 404, uri


def test_another_namespaces_execution_is_404(client, execution):
    elsewhere = NamespaceFactory(name="elsewhere")
    client.force_login(AccountFactory(username="stranger", role=Role.EXECUTOR, default_namespace=elsewhere))
    assert client.get(download_url(execution, execution.inputs["data"])).status_code == 404
    assert client.get(change_url(execution)).status_code == 302  # the page itself is "missing" too


def test_uris_are_found_at_any_depth_and_links_are_capped(space):
    value = {"a": [{"b": "millrace:///x/y"}], "c": "text", "d": 1}
    assert list(uris_in(value)) == [("a[0].b", "millrace:///x/y")]
    execution = ExecutionFactory(flow=FlowFactory(namespace=space))
    prefix = f"millrace:///space-links/executions/{execution.pk}"
    execution.inputs = {f"f{n}": f"{prefix}/inputs/f{n}/a.txt" for n in range(LINK_LIMIT + 5)}
    assert len(file_links(execution, [])) == LINK_LIMIT
