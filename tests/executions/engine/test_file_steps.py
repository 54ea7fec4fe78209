"""The file tasks on the engine: files written under each step, passed on by URI, measured, deleted."""

from core import storage
from executions.models import ExecutionStatus, TaskStatus
from tests.factories import SecretFactory

FILES = """\
name: files
tasks:
  - name: one
    type: file.write
    properties: {content: "{{ execution.flow }}", fileName: one.txt}
  - name: two
    type: file.write
    properties: {content: {n: 2}, extension: json}
  - name: both
    type: file.concat
    properties: {files: ["{{ outputs.one.uri }}", "{{ outputs.two.uri }}"], separator: "|"}
  - name: measured
    type: file.size
    properties: {uri: "{{ outputs.both.uri }}"}
  - name: tidy
    type: file.delete
    properties: {uri: "{{ outputs.one.uri }}", errorOnMissing: true}
"""


def key(uri: str) -> str:
    return uri.removeprefix("millrace:///")


def test_files_pass_from_step_to_step_and_stay_under_their_execution(run_flow, namespace):
    execution = run_flow(FILES, name="files")
    assert execution.status == ExecutionStatus.SUCCESS, execution.error
    runs = {run.name: run for run in execution.task_runs.all()}
    for name in ("one", "two", "both"):
        prefix = f"millrace:///{namespace.name}/executions/{execution.pk}/tasks/{runs[name].pk}/"
        assert runs[name].outputs["uri"].startswith(prefix)
    assert runs["two"].outputs["uri"].endswith("/two.json")
    assert storage.open_file(key(runs["both"].outputs["uri"])).read() == b'files|{"n": 2}'
    assert runs["measured"].outputs == {"uri": runs["both"].outputs["uri"], "size": 14}
    assert runs["tidy"].outputs == {"uri": runs["one"].outputs["uri"], "deleted": True}
    assert not storage.exists(key(runs["one"].outputs["uri"]))


def test_a_secret_is_not_written_to_a_file(run_flow, namespace):
    SecretFactory(namespace=namespace, name="TOKEN", value="s3cr3t-value")
    source = "name: leak\ntasks:\n  - {name: w, type: file.write, properties: {content: \"{{ secret('TOKEN') }}\"}}\n"
    execution = run_flow(source)
    assert execution.status == ExecutionStatus.FAILED
    run = execution.task_runs.get()
    assert run.status == TaskStatus.FAILED and "secret" in run.error.lower()
    assert not list(storage.walk(namespace.name))
