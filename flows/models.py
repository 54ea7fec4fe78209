"""Flows (YAML definitions with revisions), their triggers, and agents."""

import uuid

from django.conf import settings
from django.db import models

from accounts.models import Namespace

#: The statuses a run of a flow ends in: a flow trigger watches some of them, and a flow is not
#: deleted while one of its runs is in none of them. `executions.models.TERMINAL_EXECUTION_STATUSES`
#: is built from these names, so the two cannot drift apart.
EXECUTION_END_STATUSES = ("SUCCESS", "WARNING", "FAILED", "CANCELLED", "TIMED_OUT")


class Flow(models.Model):
    """A flow definition. `source` is the YAML text exactly as submitted."""

    class Format(models.TextChoices):
        NODES = "nodes", "Nodes graph (FlowRunner)"
        TASKS = "tasks", "Task list (workflowdev)"
        KESTRA = "kestra", "Kestra flow"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="flows", db_index=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    version = models.CharField(max_length=50, blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    source = models.TextField()
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.TASKS)
    revision = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace__name", "name"]
        constraints = [models.UniqueConstraint(fields=["namespace", "name"], name="flow_unique_name_per_namespace")]
        indexes = [models.Index(fields=["namespace", "created_at"])]

    def __str__(self) -> str:
        return f"{self.namespace.name}/{self.name}"


class FlowRevision(models.Model):
    """A saved `source` of a flow; restoring one writes a new revision."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    source = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [models.UniqueConstraint(fields=["flow", "number"], name="revision_unique_number_per_flow")]

    def __str__(self) -> str:
        return f"{self.flow} r{self.number}"


class Trigger(models.Model):
    """Starts a flow: on a webhook POST, on a cron schedule, when another flow ends, or for each
    message an agent of its namespace emits."""

    class Type(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        SCHEDULE = "schedule", "Schedule"
        FLOW = "flow", "Flow"
        AGENT = "agent", "Agent"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="triggers")
    name = models.CharField(max_length=200, blank=True, default="")
    type = models.CharField(max_length=16, choices=Type.choices)
    key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    cron = models.CharField(max_length=120, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="UTC")
    recover_missed = models.CharField(
        max_length=4,
        choices=[("ALL", "All missed ticks"), ("LAST", "The last missed tick"), ("NONE", "None")],
        default="LAST",
        help_text="Schedule: which ticks missed while no worker ran are started.",
    )
    source_flow = models.ForeignKey(
        Flow, null=True, blank=True, on_delete=models.CASCADE, related_name="downstream_triggers"
    )
    statuses = models.JSONField(default=list, blank=True)
    source_agent = models.ForeignKey(
        "Agent",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="flow_triggers",
        help_text="Agent triggers: the agent whose messages start the flow.",
    )
    enabled = models.BooleanField(default=True)
    inputs = models.JSONField(default=dict, blank=True)
    from_definition = models.BooleanField(default=False, help_text="Declared in the flow's YAML.")
    last_fired_at = models.DateTimeField(null=True, blank=True)
    next_fire_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["flow", "created_at"]
        indexes = [models.Index(fields=["type", "enabled", "next_fire_at"])]

    def __str__(self) -> str:
        return f"{self.type} trigger of {self.flow}"


class Agent(models.Model):
    """A Huginn-style agent: runs a plugin on a schedule or on messages from its sources."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="agents", db_index=False)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=120)
    options = models.JSONField(default=dict, blank=True)
    schedule = models.CharField(max_length=120, blank=True, default="never")
    disabled = models.BooleanField(default=False)
    sources = models.ManyToManyField(
        "self",
        symmetrical=False,
        through="AgentLink",
        through_fields=("receiver", "source"),
        related_name="receivers",
        blank=True,
    )
    flows = models.ManyToManyField(Flow, related_name="agents", blank=True)
    keep_messages_for = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds; empty keeps forever.")
    memory = models.JSONField(default=dict, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    messages_count = models.BigIntegerField(
        default=0,
        editable=False,
        help_text="Messages stored, expired ones not purged yet included: a counter cache (Huginn's"
        " `events_count`) that emission and the purge move under the agent's row lock.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    options_saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who last saved the options or type: whose account secrets `${NAME}` may use.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace__name", "name"]
        indexes = [models.Index(fields=["namespace", "created_at"])]

    def __str__(self) -> str:
        return self.name


class AgentLink(models.Model):
    """`receiver` gets the messages of `source`; `cursor` is the last message id it has seen."""

    source = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="outgoing_links")
    receiver = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="incoming_links")
    cursor = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "receiver"], name="agentlink_unique_pair")]

    def __str__(self) -> str:
        return f"{self.source} → {self.receiver}"
