"""Executions, their task runs and events, agent messages and approvals.

Status fields are written only by `executions.engine.transitions.transition`.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Namespace
from flows.models import EXECUTION_END_STATUSES, Agent, Flow, Trigger


class ExecutionStatus(models.TextChoices):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    PAUSED = "PAUSED"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"  # ended, but a step with `allowFailure` failed
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


class TaskStatus(models.TextChoices):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    PAUSED = "PAUSED"
    RETRYING = "RETRYING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


#: SUCCESS, WARNING, FAILED, CANCELLED, TIMED_OUT: named in flows (flow triggers watch them), which
#: cannot import this app; `ExecutionStatus(name)` refuses a name that is not a status.
TERMINAL_EXECUTION_STATUSES = frozenset(ExecutionStatus(name) for name in EXECUTION_END_STATUSES)


class Execution(models.Model):
    """One run of a flow. `source` is the definition it runs, frozen at start."""

    Status = ExecutionStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # foreign keys whose index would repeat a composite one's first column have none of their own
    flow = models.ForeignKey(
        Flow, null=True, blank=True, on_delete=models.SET_NULL, related_name="executions", db_index=False
    )
    flow_name = models.CharField(max_length=200)
    flow_revision = models.PositiveIntegerField(default=1)
    source = models.TextField(blank=True, default="")
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="executions", db_index=False)
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.QUEUED)
    inputs = models.JSONField(default=dict, blank=True)
    # read with the row; `ExecutionLabel` rows (written with it) are what lists filter on
    labels = models.JSONField(default=dict, blank=True)
    # SECRET inputs, encrypted (`inputs` holds them masked): see executions/engine/inputs.py
    sealed_inputs = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    origin = models.CharField(max_length=32, default="api")
    trigger = models.ForeignKey(
        Trigger, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    trigger_data = models.JSONField(default=dict, blank=True)
    parent_task = models.ForeignKey(
        "TaskRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="child_executions", db_index=False
    )
    # the execution this one replays (`execution_replay`), kept while both exist
    original = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays", db_index=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    tasks_total = models.PositiveIntegerField(default=0)
    tasks_executed = models.PositiveIntegerField(default=0)
    steps_taken = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=1)
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    timeout_policy = models.CharField(max_length=16, blank=True, default="")
    deadline = models.DateTimeField(null=True, blank=True)
    # CANCELLED or TIMED_OUT while the flow's `finally` tasks still run; the status follows them
    ending = models.CharField(max_length=16, blank=True, default="")
    # QUEUED by the flow's `concurrency` limit (not a start still on its way to a worker): the
    # sweeper leaves it to the slot handoff, and the console says why it waits
    waiting_for_slot = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # Every status change rewrites every index entry of the row (a status is indexed), so
        # keys that are mostly empty are indexed only where set.
        indexes = [
            # lists, newest first: all executions (a global admin's) or a namespace's; with a
            # status too, the time order is filtered (rare statuses: the status index below)
            models.Index(fields=["created_at", "id"], name="execution_created"),
            models.Index(fields=["namespace", "created_at", "id"], name="execution_namespace_created"),
            models.Index(fields=["flow", "created_at"]),
            models.Index(fields=["status", "deadline"]),
            # the sweeper's "live and untouched since": SQLite's statistics say nothing of how
            # rare a status is, so without the range on a second column it read every execution
            models.Index(fields=["status", "updated_at"], name="execution_status_updated"),
            models.Index(fields=["trigger"], name="execution_trigger_set", condition=Q(trigger__isnull=False)),
            # few rows wait for a slot at any time: by flow, oldest first (the sweeper asks which
            # flows have some; on the whole table, SQLite read every execution's flow for that)
            models.Index(
                fields=["flow", "created_at"], name="execution_waiting_for_slot", condition=Q(waiting_for_slot=True)
            ),
            models.Index(fields=["parent_task"], name="execution_parent_set", condition=Q(parent_task__isnull=False)),
            models.Index(fields=["original"], name="execution_original_set", condition=Q(original__isnull=False)),
            models.Index(fields=["updated_by"], name="execution_updated_by_set", condition=Q(updated_by__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.flow_name} {self.id}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_EXECUTION_STATUSES

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return int((self.finished_at - self.started_at).total_seconds() * 1000)


class ExecutionLabel(models.Model):
    """One `key: value` label of an execution, indexed so that lists filter on labels fast.

    The map itself is `Execution.labels` (read with the row); these rows exist only for
    executions that have labels, written in the same statement as the execution.
    """

    id = models.BigAutoField(primary_key=True)
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="label_rows", db_index=False)
    key = models.CharField(max_length=100)
    value = models.CharField(max_length=100)

    class Meta:
        indexes = [
            models.Index(fields=["key", "value", "execution"], name="execution_label_lookup"),
            models.Index(fields=["execution"], name="execution_label_execution"),
        ]

    def __str__(self) -> str:
        return f"{self.key}:{self.value}"


class TaskRun(models.Model):
    """One attempt-tracked run of one step of an execution."""

    Status = TaskStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="task_runs", db_index=False)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children", db_index=False
    )
    step_id = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    plugin_type = models.CharField(max_length=120)
    sequence = models.PositiveIntegerField()
    loop_index = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    attempt = models.PositiveIntegerField(default=0)
    inputs = models.JSONField(null=True, blank=True, help_text="Rendered inputs, secrets masked.")
    outputs = models.JSONField(null=True, blank=True)
    outcome = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    state = models.JSONField(default=dict, blank=True, help_text="Engine bookkeeping of a waiting step.")
    wake_at = models.DateTimeField(null=True, blank=True, help_text="When a timer wait or retry back-off ends.")
    deadline = models.DateTimeField(null=True, blank=True, help_text="When the step times out.")
    execution_attempt = models.PositiveIntegerField(default=1, help_text="Execution attempt that created it.")
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    callback_digest = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["execution", "sequence"]
        indexes = [
            models.Index(fields=["execution", "sequence"]),
            models.Index(fields=["status", "lease_until"]),
            models.Index(fields=["status", "wake_at"]),
            models.Index(fields=["status", "deadline"]),
            models.Index(fields=["parent"], name="taskrun_parent_set", condition=Q(parent__isnull=False)),
            # the sweeper's "queued and untouched since" (few rows are QUEUED at any time)
            models.Index(fields=["updated_at"], name="taskrun_queued", condition=Q(status="QUEUED")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["callback_digest"],
                name="taskrun_callback_digest_unique",
                condition=Q(callback_digest__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.sequence}"


class ExecutionEvent(models.Model):
    """What happened, in order; the WebSocket streams and log endpoints read from here."""

    class Level(models.TextChoices):
        DEBUG = "debug"
        INFO = "info"
        WARN = "warn"
        ERROR = "error"

    id = models.BigAutoField(primary_key=True)
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="events", db_index=False)
    task_run = models.ForeignKey(
        TaskRun, null=True, blank=True, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    type = models.CharField(max_length=32)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    message = models.TextField(blank=True, default="")
    data = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["execution", "id"]),
            models.Index(fields=["task_run"], name="event_task_run_set", condition=Q(task_run__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


class Message(models.Model):
    """A message emitted by an agent. The bigint key orders messages for receivers' cursors."""

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="messages", db_index=False)
    payload = models.JSONField(default=dict, blank=True)
    depth = models.PositiveSmallIntegerField(
        default=0, help_text="Flow starts behind this message (FlowAgent, agent triggers): loops stop at a limit."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["agent", "created_at"])]

    def __str__(self) -> str:
        return f"message {self.uuid} of {self.agent}"


class AgentLog(models.Model):
    """One line of an agent's log, as Huginn keeps them: what a run did or why it failed.

    The runtime writes a line per run (and the lines a handler logs); each agent keeps its
    newest `MILLRACE_AGENT_LOG_KEEP`. Texts are masked with the secrets the run used.
    """

    class Level(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        ERROR = "error"

    id = models.BigAutoField(primary_key=True)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="logs", db_index=False)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    text = models.TextField()
    inbound_message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outbound_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["agent", "id"])]

    def __str__(self) -> str:
        return f"{self.level}: {self.text[:60]}"


class CallbackDelivery(models.Model):
    """A result owed to a caller's callback URL (`millrace/RunFlow`): the outbox row that outlives
    a lost queue message. `next_attempt_at` is when the sweeper queues it (again)."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    execution = models.OneToOneField(Execution, on_delete=models.CASCADE, related_name="callback_delivery")
    url = models.TextField()
    body = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"callback of {self.execution_id}: {self.state}"


class Approval(models.Model):
    """The decision an approval gate (`flow.pause`) waits for."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task_run = models.OneToOneField(TaskRun, on_delete=models.CASCADE, related_name="approval")
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="approvals", db_index=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["execution", "status"])]

    def __str__(self) -> str:
        return f"approval of {self.task_run} ({self.status})"
