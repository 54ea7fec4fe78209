"""The console's Run form with FILE inputs: a file field in a multipart form, the upload stored
with the execution through the same service as the API, refusals on the field with nothing kept."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.roles import Role
from core import storage
from executions.models import Execution
from files.selectors import execution_file_open
from tests.factories import AccountFactory, FlowFactory, NamespaceFactory

UPLOAD = """name: upload
inputs:
  - {id: data, type: FILE, required: true, description: the rows}
  - {id: note, type: STRING}
tasks:
  - name: show
    type: util.log
    properties:
      message: "{{ inputs.data }}"
"""


@pytest.fixture
def space(transactional_db):
    return NamespaceFactory(name="space-files")


@pytest.fixture
def flow(space):
    return FlowFactory(namespace=space, name="upload", source=UPLOAD)


@pytest.fixture
def executor(space):
    return AccountFactory(username="runner", role=Role.EXECUTOR, default_namespace=space)


def run_url(flow) -> str:
    return reverse("admin:flows_flow_run", args=[flow.pk])


def stored() -> set[str]:
    return set(storage.walk("space-files/executions"))


def test_the_form_has_a_file_field_and_posts_multipart(client, flow, executor):
    client.force_login(executor)
    page = client.get(run_url(flow)).content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert '<input type="file" name="input_data"' in page and "the rows" in page


def test_an_upload_starts_an_execution_holding_the_files_uri(client, flow, executor, settings):
    settings.MILLRACE_ENGINE_EAGER = True
    client.force_login(executor)
    response = client.post(run_url(flow), {"input_data": SimpleUploadedFile("rows.csv", b"a,b\n"), "input_note": "x"})
    execution = Execution.objects.get(flow=flow)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:executions_execution_change", args=[execution.pk])
    uri = f"millrace:///space-files/executions/{execution.pk}/inputs/data/rows.csv"
    assert execution.inputs == {"data": uri, "note": "x"} and execution.origin == "console"
    name, opened = execution_file_open(namespace_name="space-files", execution_id=str(execution.pk), uri=uri)
    with opened:
        assert (name, opened.read()) == ("rows.csv", b"a,b\n")


def test_a_missing_required_file_comes_back_on_its_field(client, flow, executor):
    client.force_login(executor)
    response = client.post(run_url(flow), {"input_note": "x"})
    assert response.status_code == 200 and set(response.context["form"].errors) == {"input_data"}
    assert not Execution.objects.exists()


def test_an_oversize_file_comes_back_on_its_field_and_nothing_is_kept(client, flow, executor, settings):
    settings.MILLRACE_MAX_FILE_BYTES = 3
    client.force_login(executor)
    before = stored()
    response = client.post(run_url(flow), {"input_data": SimpleUploadedFile("big.bin", b"four")})
    assert response.status_code == 200
    assert response.context["form"].errors["input_data"] == ["The file is larger than the limit of 3 bytes."]
    assert stored() == before and not Execution.objects.exists()


def test_a_blank_file_name_comes_back_on_its_field(client, flow, executor):
    client.force_login(executor)
    response = client.post(run_url(flow), {"input_data": SimpleUploadedFile("   ", b"data")})
    assert response.status_code == 200
    assert "A file path is required" in response.context["form"].errors["input_data"][0]
    assert not Execution.objects.exists()


def test_viewers_and_other_namespaces_cannot_upload(client, flow, space):
    before = stored()
    client.force_login(AccountFactory(username="watcher", role=Role.VIEWER, default_namespace=space))
    assert client.post(run_url(flow), {"input_data": SimpleUploadedFile("a.txt", b"x")}).status_code == 403
    elsewhere = NamespaceFactory(name="elsewhere")
    client.force_login(AccountFactory(username="outsider", role=Role.EXECUTOR, default_namespace=elsewhere))
    response = client.post(run_url(flow), {"input_data": SimpleUploadedFile("a.txt", b"x")})
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")  # as for a missing flow
    assert stored() == before and not Execution.objects.exists()
