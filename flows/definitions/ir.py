"""The intermediate representation both YAML formats compile to, and what the engine walks.

Shape: every ordered list of steps is a `Block`. A flow has a `main` block, an
`errors` block (tasks run when the flow fails) and a `finally` block (tasks run after
both, whatever the outcome). Control steps (`flow.if`, `flow.switch`,
`flow.parallel`, `flow.sequential`, `flow.forEach`) hold child blocks; the engine runs a
child block, then returns to the step after the control step.

Nodes-format flows are a graph: their top-level steps live in `main` in declaration order,
each with `next` (outcome → node id); `entry()` is `start` if present, else the first node,
and `successor()` follows `next`. Cycles are allowed (the engine bounds them with its step
limit). Tasks-format flows are sequential: `successor()` is the next step of the block.

Inputs stay raw and unrendered: templates are strings, rendered by the engine at run time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flows.definitions.problems import Path, key_text

IF = "flow.if"
SWITCH = "flow.switch"
PARALLEL = "flow.parallel"
SEQUENTIAL = "flow.sequential"
FOR_EACH = "flow.forEach"
SUBFLOW = "flow.subflow"
PAUSE = "flow.pause"
FAIL = "flow.fail"
#: Sets labels on the running execution: the engine writes them, as it writes the execution.
LABELS = "execution.labels"
CONTROL_TYPES = frozenset({IF, SWITCH, PARALLEL, SEQUENTIAL, FOR_EACH, SUBFLOW, PAUSE, FAIL, LABELS})
#: Control types whose children are blocks of steps (the rest are single engine actions).
BLOCK_TYPES = frozenset({IF, SWITCH, PARALLEL, SEQUENTIAL, FOR_EACH})

DEFAULT = "default"  # outcome taken when no other outcome matches
ERROR = "error"  # outcome of a failed step: only an explicit `error` route catches it
MAIN = "main"
ERRORS = "errors"
FINALLY = "finally"


class FlowFormat(StrEnum):
    NODES = "nodes"
    TASKS = "tasks"
    KESTRA = "kestra"  # Kestra's own YAML: a task list, like TASKS


class InputType(StrEnum):
    STRING = "STRING"
    INT = "INT"
    FLOAT = "FLOAT"
    BOOLEAN = "BOOLEAN"
    JSON = "JSON"
    SELECT = "SELECT"  # one of `values`
    MULTISELECT = "MULTISELECT"  # a list of `values`
    DATETIME = "DATETIME"  # ISO-8601, kept as text
    DATE = "DATE"
    DURATION = "DURATION"  # ISO-8601 (PT30M), kept as text
    ARRAY = "ARRAY"  # a list, each item of `itemType` when given
    URI = "URI"
    EMAIL = "EMAIL"
    SECRET = "SECRET"  # a string masked like a credential, stored encrypted
    FILE = "FILE"  # an uploaded file; the value is its millrace:/// URI under the execution


class OutputType(StrEnum):
    STRING = "STRING"
    INT = "INT"
    FLOAT = "FLOAT"
    BOOLEAN = "BOOLEAN"
    JSON = "JSON"


class TimeoutPolicy(StrEnum):
    TIME_OUT_WF = "TIME_OUT_WF"  # the execution ends TIMED_OUT
    ALERT_ONLY = "ALERT_ONLY"  # an event is raised, the execution goes on


class ConcurrencyBehavior(StrEnum):
    """What a start does when `concurrency.limit` executions of the flow are live."""

    QUEUE = "QUEUE"  # stays QUEUED until a slot frees, first in first out
    CANCEL = "CANCEL"  # ends CANCELLED at once
    FAIL = "FAIL"  # ends FAILED at once, naming the limit


@dataclass
class Concurrency:
    """`concurrency: {limit, behavior}`: at most `limit` executions of the flow live at once."""

    limit: int
    behavior: ConcurrencyBehavior = ConcurrencyBehavior.QUEUE


class TriggerType(StrEnum):
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    FLOW = "flow"


@dataclass
class FlowInput:
    """A declared flow input. Undeclared inputs are accepted and passed through as given."""

    id: str
    type: InputType = InputType.STRING
    required: bool = False
    default: Any = None
    has_default: bool = False  # `default: None` cannot tell "no default" from "null"
    description: str = ""
    source: Path = field(default=(), repr=False, compare=False)
    values: list[str] = field(default_factory=list)  # SELECT, MULTISELECT: the choices
    item_type: InputType | None = None  # ARRAY: the type of each item (None: any JSON)


@dataclass
class FlowOutput:
    """A declared flow output: `value` (a template over the execution) rendered when it ends."""

    id: str
    type: OutputType = OutputType.STRING
    value: Any = None
    description: str = ""
    source: Path = field(default=(), repr=False, compare=False)


@dataclass
class RetryPolicy:
    """`max_attempts` counts every attempt, the first included (1 = no retry)."""

    max_attempts: int = 1
    delay: float = 0
    backoff: float = 1.0
    max_delay: float | None = None

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (2 is the first retry)."""
        wait = self.delay * self.backoff ** max(attempt - 2, 0)
        return min(wait, self.max_delay) if self.max_delay is not None else wait

    def allows(self, attempt: int) -> bool:
        return attempt <= self.max_attempts


@dataclass
class Trigger:
    """A trigger declared in the definition, synced to `flows.models.Trigger` on save."""

    name: str
    type: TriggerType
    enabled: bool = True
    inputs: dict[str, Any] = field(default_factory=dict)
    cron: str | None = None  # schedule
    timezone: str = "UTC"  # schedule
    recover_missed: str = "LAST"  # schedule: ALL, LAST or NONE of the ticks missed while no worker ran
    key: str | None = None  # webhook; None = generate one
    source_flow_id: str | None = None  # flow: the watched flow, by id ...
    source_flow: str | None = None  # ... or by name (in `source_namespace`, default: this flow's)
    source_namespace: str | None = None
    statuses: list[str] = field(default_factory=list)  # flow: terminal statuses that fire it
    source: Path = field(default=(), repr=False, compare=False)


@dataclass
class Block:
    """An ordered list of steps run one after another. `id`: `main`, `errors`, `<step id>:<role>`."""

    id: str
    steps: list[Step] = field(default_factory=list)

    def first(self) -> Step | None:
        return self.steps[0] if self.steps else None

    def after(self, step_id: str) -> Step | None:
        """The step that follows `step_id` in this block, None at the end."""
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return self.steps[index + 1] if index + 1 < len(self.steps) else None
        raise KeyError(step_id)

    def __len__(self) -> int:
        return len(self.steps)


@dataclass
class Step:
    """One step: a plugin call, or a control construct holding child blocks.

    `id` is unique in the flow: the task name or node id at the top level,
    `<parent id>.<name>` when nested. `name` is what `outputs.<name>` refers to.
    Control data (`condition`, `value`, `items`) stays in `inputs` for rendering.
    """

    id: str
    name: str
    type: str
    inputs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    retry: RetryPolicy | None = None
    timeout: float | None = None  # seconds
    next: dict[str, str] = field(default_factory=dict)  # nodes format: outcome → node id
    blocks: dict[str, Block] = field(default_factory=dict)  # role (then/else/tasks/default) → block
    cases: dict[str, Block] = field(default_factory=dict)  # flow.switch: case value (as text) → block
    concurrency: int | None = None  # flow.forEach (default 1); flow.parallel (None or 0 written = no limit)
    allow_failure: bool = False  # `allowFailure`: a failure (or timeout) lets the flow go on; it ends WARNING
    path: str = ""  # where the step is written, e.g. `tasks[1]` or `nodes.start`
    line: int | None = None
    source: Path = field(default=(), repr=False, compare=False)
    inputs_source: Path = field(default=(), repr=False, compare=False)
    input_sources: dict[str, Path] = field(default_factory=dict, repr=False, compare=False)

    @property
    def control(self) -> bool:
        return self.type in CONTROL_TYPES

    @property
    def condition(self) -> Any:
        return self.inputs.get("condition")

    @property
    def value(self) -> Any:
        return self.inputs.get("value")

    @property
    def items(self) -> Any:
        return self.inputs.get("items")

    def child_blocks(self) -> list[Block]:
        return [*self.cases.values(), *self.blocks.values()]  # a switch: its cases, then `default`

    def branch(self, outcome: Any) -> Block | None:
        """The child block to run: `flow.if` by truth, `flow.switch` by case (else `default`)."""
        if self.type == IF:
            truthy = outcome if isinstance(outcome, bool) else key_text(outcome).lower() in {"true", "1", "yes"}
            return self.blocks.get("then" if truthy else "else")
        if self.type == SWITCH:
            return self.cases.get(key_text(outcome)) or self.blocks.get(DEFAULT)
        return self.blocks.get("tasks")


@dataclass
class CompiledFlow:
    """A compiled definition. Build with `compile_definition`; the indexes are built on init."""

    format: FlowFormat
    name: str = ""
    description: str = ""
    version: str = ""
    namespace: str | None = None
    tags: list[str] = field(default_factory=list)
    labels: dict[str, Any] = field(default_factory=dict)
    inputs: list[FlowInput] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None  # seconds
    timeout_policy: TimeoutPolicy = TimeoutPolicy.TIME_OUT_WF
    concurrency: Concurrency | None = None  # None: no limit (the start path reads nothing more)
    triggers: list[Trigger] = field(default_factory=list)
    outputs: list[FlowOutput] = field(default_factory=list)  # declared: the execution's outputs are these
    main: Block = field(default_factory=lambda: Block(MAIN))
    errors: Block = field(default_factory=lambda: Block(ERRORS))
    finally_: Block = field(default_factory=lambda: Block(FINALLY))  # `finally`: run whatever the outcome
    start: str | None = None  # nodes format: the entry node id

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the lookups (call after changing blocks by hand)."""
        self._steps: dict[str, Step] = {}
        self._blocks: dict[str, Block] = {}
        self._block_of: dict[str, Block] = {}
        self._parent: dict[str, Step | None] = {}

        def index(block: Block, parent: Step | None) -> None:
            self._blocks.setdefault(block.id, block)
            for step in block.steps:
                self._steps.setdefault(step.id, step)
                self._block_of.setdefault(step.id, block)
                self._parent.setdefault(step.id, parent)
                for child in step.child_blocks():
                    index(child, step)

        index(self.main, None)
        index(self.errors, None)
        index(self.finally_, None)
        #: whether any step has `allowFailure` (the walk looks for allowed failures only then)
        self.allows_failure = any(step.allow_failure for step in self._steps.values())
        #: steps of `errors` and `finally`, which run again on each attempt of the execution (a
        #: set: the walk asks for every task run at every step)
        self.per_attempt = frozenset(
            step_id for step_id, block in self._block_of.items() if block is self.errors or block is self.finally_
        )

    @property
    def is_graph(self) -> bool:
        return self.format == FlowFormat.NODES

    @property
    def tasks_total(self) -> int:
        """Steps an execution plans to run: every step of `main`, nested ones included.

        Control steps count (they are task runs too); each nested step counts once, whatever
        the number of forEach iterations or which branch runs; `errors` handlers do not count.
        """
        return sum(1 for _ in self.steps(include_errors=False))

    def steps(self, *, include_errors: bool = True) -> Iterator[Step]:
        """Every step, depth first in source order: `main`, then (optionally) `errors` and `finally`."""

        def walk(block: Block) -> Iterator[Step]:
            for step in block.steps:
                yield step
                for child in step.child_blocks():
                    yield from walk(child)

        yield from walk(self.main)
        if include_errors:
            yield from walk(self.errors)
            yield from walk(self.finally_)

    def step(self, step_id: str) -> Step:
        """The step with this id; KeyError if there is none."""
        return self._steps[step_id]

    def get_step(self, step_id: str) -> Step | None:
        return self._steps.get(step_id)

    def block(self, block_id: str) -> Block:
        """A block by id: `main`, `errors`, or `<step id>:<role>` (`check:then`, `route:case:a`)."""
        return self._blocks[block_id]

    def block_of(self, step_id: str) -> Block:
        return self._block_of[step_id]

    def parent(self, step_id: str) -> Step | None:
        """The control step whose child block holds this step (None at the top level)."""
        return self._parent[step_id]

    def input(self, input_id: str) -> FlowInput | None:
        return next((declared for declared in self.inputs if declared.id == input_id), None)

    def entry(self) -> Step | None:
        """The first step to run: the `start` node of a graph, else the first step of `main`."""
        if self.is_graph and self.start is not None:
            return self._steps.get(self.start)
        return self.main.first()

    def successor(self, step_id: str, outcome: Any = None) -> Step | None:
        """The step to run after `step_id` ended with `outcome` (None means no further step).

        Graph nodes follow `next`: the outcome's route, else `default`; a failed step's
        outcome is `error`, which only an explicit `error` route catches (no route: the flow
        fails). In a block (tasks format, nested steps) it is the next step of the block;
        None at the end of a child block means "the parent control step is done".
        """
        step = self.step(step_id)
        block = self.block_of(step_id)
        if self.is_graph and block is self.main:
            key = DEFAULT if outcome is None else key_text(outcome)
            target = step.next.get(ERROR) if key == ERROR else step.next.get(key, step.next.get(DEFAULT))
            return self._steps.get(target) if target else None
        if outcome is not None and key_text(outcome) == ERROR:
            return None
        return block.after(step_id)

    def predecessors(self, step_id: str) -> list[Step]:
        """Graph nodes with a `next` route to `step_id` (for drawing and reachability)."""
        return [step for step in self.main.steps if step_id in step.next.values()]
