"""Kestra's Labels task and its internal-storage tasks compile to `execution.labels` and `file.*`."""

import pytest

from flows.definitions import compile_definition
from flows.definitions.convert import convert

from .test_kestra_format import compiled, problems

pytestmark = pytest.mark.registry


def test_labels_as_a_map_or_a_list_become_a_labels_step():
    flow = compiled("""\
        - id: tag
          type: io.kestra.plugin.core.execution.Labels
          labels:
            customer: "{{ inputs.customer }}"
            stage: loaded
        - id: tag_list
          type: io.kestra.plugin.core.execution.Labels
          labels:
            - key: region
              value: eu
            - {key: rows, value: 12}
        - id: tag_templated
          type: io.kestra.plugin.core.execution.Labels
          labels: "{{ outputs.tag.labels }}"
        """)
    tag, tag_list, templated = flow.main.steps
    assert (tag.type, tag.control) == ("execution.labels", True)
    assert tag.inputs == {"labels": {"customer": "{{ inputs.customer }}", "stage": "loaded"}}
    assert tag_list.inputs == {"labels": {"region": "eu", "rows": 12}}
    assert templated.inputs == {"labels": "{{ outputs.tag.labels }}"}


def test_bad_literal_labels_are_problems_with_their_line():
    found = problems(
        """\
        - id: tag
          type: io.kestra.plugin.core.execution.Labels
          labels: just-a-text
        - id: long
          type: io.kestra.plugin.core.execution.Labels
          labels: {k: "%s", n: {a: 1}}
        - id: half
          type: io.kestra.plugin.core.execution.Labels
          labels: [{key: a}]
        - id: none
          type: io.kestra.plugin.core.execution.Labels
          colour: red
        """
        % ("v" * 101)
    )
    prefix = "invalid input for execution.labels: "
    assert found == [
        ("tasks[0].labels", 6, prefix + "'just-a-text' is not of type 'object', 'array'"),
        ("tasks[1].labels.k", 9, prefix + f"'{'v' * 101}' is too long"),
        ("tasks[1].labels.n", 9, prefix + "{'a': 1} is not of type 'string', 'number', 'boolean'"),
        ("tasks[2].labels[0]", 12, prefix + "'value' is a required property"),
        ("tasks[3]", 13, prefix + "'labels' is a required property"),
        ("tasks[3].colour", 15, "unknown property 'colour' for io.kestra.plugin.core.execution.Labels"),
    ]


def test_storage_tasks_map_to_the_file_plugins_with_kestras_property_names():
    flow = compiled("""\
        - id: write
          type: io.kestra.plugin.core.storage.Write
          content: "{{ inputs.text }}"
          extension: .csv
        - id: size
          type: io.kestra.plugin.core.storage.Size
          uri: "{{ outputs.write.uri }}"
        - id: concat
          type: io.kestra.plugin.core.storage.Concat
          files: ["{{ outputs.write.uri }}", "{{ outputs.write.uri }}"]
          separator: "\\n"
        - id: delete
          type: io.kestra.plugin.core.storage.Delete
          uri: "{{ outputs.write.uri }}"
          errorOnMissing: true
        - id: split
          type: io.kestra.plugin.core.storage.Split
          from: "{{ outputs.concat.uri }}"
          rows: 100
        - id: purge
          type: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles
        """)
    assert [(step.type, step.inputs) for step in flow.main.steps] == [
        ("file.write", {"content": "{{ inputs.text }}", "extension": ".csv"}),
        ("file.size", {"uri": "{{ outputs.write.uri }}"}),
        ("file.concat", {"files": ["{{ outputs.write.uri }}", "{{ outputs.write.uri }}"], "separator": "\n"}),
        ("file.delete", {"uri": "{{ outputs.write.uri }}", "errorOnMissing": True}),
        ("file.split", {"from": "{{ outputs.concat.uri }}", "lines": 100}),
        ("file.purge", {}),
    ]


def test_storage_properties_are_checked():
    found = problems("""\
        - id: write
          type: io.kestra.plugin.core.storage.Write
          extension: "../x"
        - id: delete
          type: io.kestra.plugin.core.storage.Delete
          uri: /etc/passwd
          force: true
        - id: split
          type: io.kestra.plugin.core.storage.Split
          from: "{{ outputs.write.uri }}"
          partitions: 4
        """)
    assert found[-2:] == [
        ("tasks[2]", 11, "invalid input for file.split: 'lines' is a required property"),
        ("tasks[2].partitions", 14, "unknown property 'partitions' for io.kestra.plugin.core.storage.Split"),
    ]
    assert found[:-2] == [
        ("tasks[0]", 4, "invalid input for file.write: 'content' is a required property"),
        ("tasks[0].extension", 6, "invalid input for file.write: '../x' does not match '^\\\\.?[A-Za-z0-9_-]{1,20}$'"),
        ("tasks[1].uri", 9, "invalid input for file.delete: '/etc/passwd' does not match '^millrace:///'"),
        ("tasks[1].force", 10, "unknown property 'force' for io.kestra.plugin.core.storage.Delete"),
    ]


@pytest.mark.parametrize("kind", ["Reverse", "DeduplicateItems", "FilterItems", "LocalFiles", "Purge"])
def test_unmapped_storage_tasks_stay_refused_naming_the_type(kind):
    ((path, line, message),) = problems(f"- id: s\n  type: io.kestra.plugin.core.storage.{kind}\n")
    assert (path, line) == ("tasks[0].type", 5)
    assert f"Kestra type 'io.kestra.plugin.core.storage.{kind}' is not supported" in message


def test_labels_and_storage_tasks_are_written_back_as_kestra():
    source = """\
id: demo
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: hello
  - id: tag
    type: io.kestra.plugin.core.execution.Labels
    labels: {stage: written}
  - id: size
    type: io.kestra.plugin.core.storage.Size
    uri: "{{ outputs.write.uri }}"
"""
    again = compile_definition(convert(compile_definition(source), "kestra"))
    assert [(step.type, step.inputs) for step in again.main.steps] == [
        ("file.write", {"content": "hello"}),
        ("execution.labels", {"labels": {"stage": "written"}}),
        ("file.size", {"uri": "{{ outputs.write.uri }}"}),
    ]
    tasks = compile_definition(convert(compile_definition(source), "tasks"))
    assert [step.type for step in tasks.main.steps] == ["file.write", "execution.labels", "file.size"]
