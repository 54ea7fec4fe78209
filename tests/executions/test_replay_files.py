"""A replay's files are its own: the original's FILE inputs and the files of the steps it keeps are
copied under the replay, so its download endpoint and console page serve them, and deleting or
purging the original leaves them. Nothing of another execution or namespace is copied or served."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from accounts.roles import Role
from core import storage
from executions.admin.file_links import file_links
from executions.engine.retention import _delete_chunk
from executions.models import Execution, ExecutionStatus
from executions.services import execution_replay, execution_replay_from_start, execution_start
from files.selectors import execution_file_open
from files.services import execution_file_put
from tests.api.workflowdev.conftest import WD
from tests.factories import AccountFactory, ExecutionFactory, FlowFactory

E = ExecutionStatus
WRITES_A_FILE = """name: report
inputs:
  - {id: data, type: FILE, required: true}
tasks:
  - name: write
    type: file.write
    properties: {content: "the report", fileName: report.txt}
  - name: show
    type: util.log
    properties:
      message: "{{ outputs.write.uri }}"
"""


@pytest.fixture
def runner(settings, transactional_db, namespace):
    settings.MILLRACE_ENGINE_EAGER = True
    return AccountFactory(role=Role.EXECUTOR, default_namespace=namespace)


@pytest.fixture
def original(runner, namespace) -> Execution:
    flow = FlowFactory(namespace=namespace, name="report", source=WRITES_A_FILE)
    execution = execution_start(actor=runner, flow=flow, files={"data": SimpleUploadedFile("in.csv", b"a,b\n")})
    execution.refresh_from_db()
    assert execution.status == E.SUCCESS
    return execution


def _read(execution: Execution, uri: str) -> bytes:
    _, opened = execution_file_open(namespace_name=execution.namespace.name, execution_id=str(execution.pk), uri=uri)
    with opened:
        return opened.read()


def _replay_from_show(runner, original: Execution) -> Execution:
    replay = execution_replay(actor=runner, execution=original, task_run_id=original.task_runs.get(name="show").pk)
    replay.refresh_from_db()
    assert replay.status == E.SUCCESS
    return replay


def _own(execution: Execution) -> str:
    return f"millrace:///production/executions/{execution.pk}/"


def test_a_replay_copies_the_input_and_the_kept_steps_files(runner, original):
    replay = _replay_from_show(runner, original)
    kept = replay.task_runs.get(name="write")
    assert replay.inputs["data"] == _own(replay) + "inputs/data/in.csv"
    assert kept.outputs["uri"].startswith(_own(replay)) and kept.outputs["size"] == 10
    assert _read(replay, replay.inputs["data"]) == b"a,b\n"
    assert _read(replay, kept.outputs["uri"]) == b"the report"
    # the step it ran again rendered the kept step's output: the replay's copy
    assert replay.task_runs.get(name="show").outputs["message"] == kept.outputs["uri"]


def test_the_replays_download_and_console_links_serve_them(runner, original, client_for, make_account):
    replay = _replay_from_show(runner, original)
    api = client_for(make_account(role=Role.VIEWER))
    kept_uri = replay.task_runs.get(name="write").outputs["uri"]
    for uri, content in ((replay.inputs["data"], b"a,b\n"), (kept_uri, b"the report")):
        response = api.get(f"{WD}/executions/{replay.pk}/file", {"path": uri})
        assert response.status_code == 200 and b"".join(response.streaming_content) == content
    links = {link.uri: link.where for link in file_links(replay, replay.task_runs.order_by("sequence"))}
    assert set(links) == {replay.inputs["data"], kept_uri} and links[replay.inputs["data"]] == "inputs.data"


def test_the_originals_uris_stay_the_originals(runner, original, client_for, make_account):
    """The replay serves its copies, not the original's files: another execution's, even its original's."""
    replay = _replay_from_show(runner, original)
    api = client_for(make_account(role=Role.VIEWER))
    response = api.get(f"{WD}/executions/{replay.pk}/file", {"path": original.inputs["data"]})
    assert response.status_code == 404 and response.json()["error"]["message"] == "File not found."
    assert _read(original, original.inputs["data"]) == b"a,b\n"


@pytest.mark.parametrize("how", ["deleted", "purged"])
def test_deleting_the_original_keeps_the_replays_files(runner, original, how):
    replay = _replay_from_show(runner, original)
    original_files = set(storage.walk(f"production/executions/{original.pk}"))
    assert original_files
    if how == "deleted":
        with transaction.atomic():
            original.delete()
    else:
        _delete_chunk([original.pk])
    assert not list(storage.walk(f"production/executions/{original.pk}"))
    replay = Execution.objects.get(pk=replay.pk)
    assert _read(replay, replay.inputs["data"]) == b"a,b\n"
    assert _read(replay, replay.task_runs.get(name="write").outputs["uri"]) == b"the report"


def test_a_replay_from_the_start_copies_the_input_only(runner, original):
    replay = execution_replay_from_start(actor=runner, execution=original)
    replay.refresh_from_db()
    assert replay.status == E.SUCCESS
    assert replay.inputs["data"] == _own(replay) + "inputs/data/in.csv"
    written = replay.task_runs.get(name="write").outputs["uri"]
    assert written.startswith(_own(replay)) and _read(replay, written) == b"the report"
    # a replay of the replay copies from it in turn
    again = execution_replay_from_start(actor=runner, execution=replay)
    again.refresh_from_db()
    assert again.inputs["data"].startswith(_own(again)) and _read(again, again.inputs["data"]) == b"a,b\n"


def test_uris_of_other_executions_and_namespaces_are_neither_copied_nor_served(
    runner, original, namespace, other_namespace, client_for, make_account
):
    """An original's inputs naming another execution's file (stored before replays copied) or another
    namespace's are carried as they are: nothing is copied, and the replay answers 404 for them."""
    sibling = ExecutionFactory(flow=FlowFactory(namespace=namespace))
    theirs = ExecutionFactory(flow=FlowFactory(namespace=other_namespace))
    foreign = [
        execution_file_put(namespace_name=namespace.name, execution_id=str(sibling.pk), path="a.txt", content=b"s"),
        execution_file_put(namespace_name=other_namespace.name, execution_id=str(theirs.pk), path="b", content=b"t"),
    ]
    Execution.objects.filter(pk=original.pk).update(inputs={**original.inputs, "note": foreign})
    original.refresh_from_db()
    replay = _replay_from_show(runner, original)
    assert replay.inputs["note"] == foreign
    assert sorted(storage.walk(f"production/executions/{replay.pk}")) == sorted(
        [f"production/executions/{replay.pk}/inputs/data/in.csv", *_kept_keys(replay)]
    )
    api = client_for(make_account(role=Role.VIEWER))
    for uri in foreign:
        assert api.get(f"{WD}/executions/{replay.pk}/file", {"path": uri}).status_code == 404


def _kept_keys(replay: Execution) -> list[str]:
    return [replay.task_runs.get(name="write").outputs["uri"].removeprefix("millrace:///")]


def test_a_replay_that_is_not_written_keeps_no_copy(runner, original, monkeypatch):
    """The copies are made before the replay's row commits; a failed write takes them away again."""

    def fail(**kwargs):
        raise RuntimeError("the audit write failed")

    monkeypatch.setattr("executions.services.audit_record", fail)
    before = set(storage.walk("production/executions"))
    with pytest.raises(RuntimeError):
        execution_replay(actor=runner, execution=original, task_run_id=original.task_runs.get(name="show").pk)
    assert set(storage.walk("production/executions")) == before
    assert Execution.objects.count() == 1
