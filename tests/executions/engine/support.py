"""Helpers shared by the engine tests: time travel for the sweeper and lookups of task runs."""

from datetime import datetime, timedelta

from django.utils import timezone

from executions.models import Execution, ExecutionEvent, TaskRun

#: Two chained echo steps: the shape the lease and lost-dispatch tests interrupt.
TWO_STEPS = """
name: two-steps
tasks:
  - name: first
    type: util.echo
    properties: {value: one}
  - name: second
    type: util.echo
    properties: {value: "{{ outputs.first }}-two"}
"""


def later(seconds: float) -> datetime:
    """A moment `seconds` from now, to hand to `sweeper.sweep(now=...)` instead of sleeping."""
    return timezone.now() + timedelta(seconds=seconds)


def run_named(execution: Execution, name: str) -> TaskRun:
    """The one task run of step `name` (fails the test when there are several or none)."""
    return TaskRun.objects.get(execution=execution, name=name)


def names_and_statuses(execution: Execution) -> list[tuple[str, str]]:
    return [(run.name, run.status) for run in TaskRun.objects.filter(execution=execution).order_by("sequence")]


def status_events(obj: Execution | TaskRun) -> list[ExecutionEvent]:
    """The status events of an execution (type `execution_status`) or a task run (`task_status`)."""
    if isinstance(obj, TaskRun):
        return list(ExecutionEvent.objects.filter(task_run=obj, type="task_status").order_by("id"))
    return list(ExecutionEvent.objects.filter(execution=obj, task_run=None, type="execution_status").order_by("id"))
