"""Run a flow file through the real engine in this process, showing each step live.

    python manage.py run_flow flows/examples/hello.yaml --input who=Ada

The flow is saved (created, or updated as a new revision) in a namespace (`cli` by
default), started, and followed event by event until it ends. Timers and retry back-offs are
waited for; approval gates and callbacks are not (the command stops and says where the
execution waits). The exit status tells a script how it went (`EXIT_CODES`).
"""

import argparse
import json
import threading
import time
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.db import OperationalError, connections
from django.utils import timezone

from accounts.models import Account, Namespace
from core.errors import Forbidden, MillraceError, ValidationFailed
from executions.engine.sweeper import sweep
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun
from executions.services import execution_start
from flows.definitions import DefinitionError, compile_definition
from flows.management.commands.flows import problem_lines
from flows.models import Flow
from flows.services import flow_create, flow_update

OK, FAILED, BAD_INPUT, WAITING, TIMED_OUT = 0, 1, 2, 3, 4
EXIT_CODES = f"""exit status:
  {OK}  the execution succeeded (SUCCESS, or WARNING)
  {FAILED}  it failed or was cancelled
  {BAD_INPUT}  bad definition, input, file or account: nothing ran
  {WAITING}  it waits for an approval or a callback, or is paused
  {TIMED_OUT}  it timed out: the flow's own timeout, or --timeout passed while it ran
"""
ENDED = {
    ExecutionStatus.SUCCESS: OK,
    ExecutionStatus.WARNING: OK,
    ExecutionStatus.FAILED: FAILED,
    ExecutionStatus.CANCELLED: FAILED,
    ExecutionStatus.TIMED_OUT: TIMED_OUT,
}


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's argument order; the exit-status table kept as written."""


def parse_inputs(pairs: list[str]) -> dict:
    """`key=value` pairs; a value that is JSON is read as JSON (numbers, booleans, lists)."""
    inputs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--input takes key=value, not '{pair}'.", returncode=BAD_INPUT)
        try:
            inputs[key] = json.loads(value)
        except json.JSONDecodeError:
            inputs[key] = value
    return inputs


def read_source(path: str) -> str:
    """The text of a flow file, or a one-line error (exit 2) saying why it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "it is a directory"
    except PermissionError:
        reason = "permission denied"
    except UnicodeDecodeError:
        reason = "not UTF-8 text"
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    raise CommandError(f"Cannot read {path}: {reason}.", returncode=BAD_INPUT)


def error_text(error: MillraceError) -> str:
    """The message, then each detail (`inputs.count: invalid literal ... (INT)`)."""
    details = error.details if isinstance(error.details, list) else []
    lines = [
        f"{item.get('field') or item.get('path') or '-'}: {item.get('reason') or item.get('message')}"
        for item in details
        if isinstance(item, dict)
    ]
    return "\n".join([error.message, *lines])


class Command(BaseCommand):
    help = "Run a flow YAML file through the engine in this process and show its progress."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> argparse.ArgumentParser:
        parser = super().create_parser(prog_name, subcommand, epilog=EXIT_CODES, **kwargs)
        parser.formatter_class = HelpFormatter
        return parser

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="The flow definition (a YAML file) to save and run.")
        parser.add_argument(
            "--input",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="An input of the flow; repeat for several. A JSON value is read as JSON.",
        )
        parser.add_argument(
            "--namespace", default="cli", help="Namespace the flow is saved and run in (created when missing)."
        )
        parser.add_argument(
            "--as", dest="username", metavar="USERNAME", help="Account to run as (default: the first global admin)."
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=300,
            metavar="SECONDS",
            help="Stop following after this many seconds (exit 4); the execution is not cancelled.",
        )

    def handle(
        self, *args, path: str, input: list[str], namespace: str, username: str | None, timeout: float, **options
    ) -> None:
        eager = getattr(settings, "MILLRACE_ENGINE_EAGER", False)
        settings.MILLRACE_ENGINE_EAGER = True  # the steps run here, in this process
        try:
            self._run(path, input, namespace, username, timeout)
        finally:
            settings.MILLRACE_ENGINE_EAGER = eager  # as it was, for a caller of `call_command`

    def _run(self, path: str, input: list[str], namespace: str, username: str | None, timeout: float) -> None:
        source = read_source(path)
        inputs = parse_inputs(input)
        actor = self._actor(username)
        flow = self._save(actor, namespace, source, path)
        started = timezone.now()
        result: dict = {}

        def start() -> None:
            try:
                result["execution"] = execution_start(actor=actor, flow=flow, inputs=inputs, origin="cli")
            except Exception as exc:
                result["error"] = exc
            finally:
                connections.close_all()  # this thread's: back to the pool (a caller may live on)

        thread = threading.Thread(target=start, daemon=True)
        thread.start()
        execution = self._follow(thread, result, flow, actor, started, timeout)
        self._show_outputs(execution)
        code = ENDED[execution.status]
        if code != OK:
            error = f": {execution.error}" if execution.error else ""
            raise CommandError(f"Execution {execution.id} ended {execution.status}{error}", returncode=code)

    def _actor(self, username: str | None) -> Account:
        accounts = Account.objects.filter(is_active=True)
        actor = accounts.filter(username=username).first() if username else accounts.filter(role="admin").first()
        if actor is None:
            hint = f"no active account '{username}'" if username else "run `python manage.py bootstrap` or pass --as"
            raise CommandError(f"No account to run as: {hint}.", returncode=BAD_INPUT)
        return actor

    def _save(self, actor: Account, namespace_name: str, source: str, path: str) -> Flow:
        try:
            name = compile_definition(source).name
        except DefinitionError as exc:
            raise CommandError("\n".join(problem_lines(path, exc.as_dicts())), returncode=BAD_INPUT) from exc
        namespace, _ = Namespace.objects.get_or_create(name=namespace_name)
        try:
            existing = Flow.objects.filter(namespace=namespace, name=name).first()
            if existing:
                return flow_update(actor=actor, flow=existing, source=source)
            return flow_create(actor=actor, namespace=namespace, source=source)
        except MillraceError as exc:
            details = exc.details if isinstance(exc.details, list) and exc.details else [{"message": exc.message}]
            raise CommandError("\n".join(problem_lines(path, details)), returncode=BAD_INPUT) from exc

    def _follow(
        self,
        thread: threading.Thread,
        result: dict,
        flow: Flow,
        actor: Account,
        started: datetime,
        timeout: float,
    ) -> Execution:
        deadline = time.monotonic() + timeout
        shown = {"cursor": 0, "loop_index": {}}
        execution = None
        while time.monotonic() < deadline:
            if "error" in result:
                error = result["error"]
                code = BAD_INPUT if isinstance(error, ValidationFailed | Forbidden) else FAILED
                message = error_text(error) if isinstance(error, MillraceError) else str(error)
                raise CommandError(f"The execution did not start: {message}", returncode=code)
            try:
                if execution is None:
                    execution = result.get("execution") or self._started(flow, actor, started)
                    if execution is not None:
                        self.stdout.write(f"Execution {execution.id} of flow {flow.name} (revision {flow.revision})")
                if execution is not None and self._look(execution, thread, shown):
                    return execution
            except OperationalError as exc:  # SQLite may refuse a read while the run writes: look again
                if "locked" not in str(exc):
                    raise
            time.sleep(0.05)
        if execution is None:
            raise CommandError(f"The execution did not start within {timeout:g} s.", returncode=TIMED_OUT)
        raise CommandError(
            f"Execution {execution.id} did not end within {timeout:g} s (it is {execution.status}); "
            "it was not cancelled.",
            returncode=TIMED_OUT,
        )

    def _look(self, execution: Execution, thread: threading.Thread, shown: dict) -> bool:
        """Show the new events; True once the execution ended. Stops (exit 3) where it waits for people."""
        events = list(ExecutionEvent.objects.filter(execution=execution, id__gt=shown["cursor"]).order_by("id"))
        self._learn_loop_indexes(events, shown["loop_index"])
        for event in events:
            shown["cursor"] = event.id
            self._show(event, shown["loop_index"].get(event.task_run_id))
        execution.refresh_from_db()
        if execution.is_terminal and not thread.is_alive():
            return True
        if execution.status == ExecutionStatus.PAUSED and not thread.is_alive():
            raise CommandError(
                f"Execution {execution.id} is paused; resume it in the console or the API.", returncode=WAITING
            )
        if execution.status == ExecutionStatus.WAITING and self._waits_on_people(execution):
            raise CommandError(
                f"Execution {execution.id} waits for an approval or a callback; decide it in the console or the API.",
                returncode=WAITING,
            )
        if not thread.is_alive():
            sweep(timezone.now())
        return False

    @staticmethod
    def _started(flow: Flow, actor: Account, since: datetime) -> Execution | None:
        """The execution this command started, once its row is committed (the start may still run)."""
        runs = Execution.objects.filter(flow=flow, created_by=actor, origin="cli", created_at__gte=since)
        return runs.order_by("-created_at").first()

    @staticmethod
    def _learn_loop_indexes(events: list[ExecutionEvent], known: dict) -> None:
        wanted = {event.task_run_id for event in events if event.task_run_id and event.task_run_id not in known}
        if wanted:
            known.update(TaskRun.objects.filter(pk__in=wanted).values_list("pk", "loop_index"))

    def _waits_on_people(self, execution: Execution) -> bool:
        waiting = TaskRun.objects.filter(execution=execution, status="WAITING")
        return any((run.state or {}).get("wait", {}).get("kind") != "timer" for run in waiting) or any(
            run.plugin_type == "flow.pause" for run in waiting
        )

    def _show(self, event: ExecutionEvent, loop_index: int | None) -> None:
        stamp = event.created_at.strftime("%H:%M:%S.%f")[:-3]
        style = (
            self.style.ERROR
            if event.level == "error"
            else (self.style.WARNING if event.level == "warn" else (lambda text: text))
        )
        item = f" [item {loop_index}]" if loop_index is not None else ""
        line = f"{stamp}{item} {event.message}"
        if event.type == "log" and event.data:
            line += f" {json.dumps(event.data)}"
        self.stdout.write(style(line))

    def _show_outputs(self, execution: Execution) -> None:
        self.stdout.write(f"Execution {execution.id}: {execution.status}")
        self.stdout.write(json.dumps(execution.outputs, indent=2, default=str))
