"""Run a flow file through the real engine in this process, showing each step live.

    python manage.py run_flow flows/examples/hello.yaml --input who=Ada

The flow is saved (created, or updated as a new revision) in a namespace (`cli` by
default), started, and followed event by event until it ends; the exit status is 0 only
when the execution succeeds. Timers and retry back-offs are waited for; approval gates
and callbacks are not (the command stops and says where the execution waits).
"""

import json
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Account, Namespace
from core.errors import MillraceError
from executions.engine.sweeper import sweep
from executions.models import Execution, ExecutionEvent, ExecutionStatus, TaskRun
from executions.services import execution_start
from flows.definitions import compile_definition
from flows.models import Flow
from flows.services import flow_create, flow_update


def parse_inputs(pairs: list[str]) -> dict:
    inputs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--input takes key=value, not '{pair}'.")
        try:
            inputs[key] = json.loads(value)
        except json.JSONDecodeError:
            inputs[key] = value
    return inputs


class Command(BaseCommand):
    help = "Run a flow YAML file through the engine and show its progress."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path")
        parser.add_argument("--input", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--namespace", default="cli")
        parser.add_argument("--as", dest="username", help="Account to run as (default: the first global admin).")
        parser.add_argument("--timeout", type=float, default=300, help="Give up after this many seconds.")

    def handle(
        self, *args, path: str, input: list[str], namespace: str, username: str | None, timeout: float, **options
    ) -> None:
        settings.MILLRACE_ENGINE_EAGER = True
        source = Path(path).read_text()
        actor = self._actor(username)
        flow = self._save(actor, namespace, source)
        result: dict = {}

        def start() -> None:
            try:
                result["execution"] = execution_start(actor=actor, flow=flow, inputs=parse_inputs(input), origin="cli")
            except Exception as exc:
                result["error"] = exc

        thread = threading.Thread(target=start, daemon=True)
        thread.start()
        execution = self._follow(thread, result, timeout)
        if execution.status != ExecutionStatus.SUCCESS:
            raise CommandError(f"Execution {execution.id} ended {execution.status}: {execution.error}")

    def _actor(self, username: str | None) -> Account:
        accounts = Account.objects.filter(is_active=True)
        actor = accounts.filter(username=username).first() if username else accounts.filter(role="admin").first()
        if actor is None:
            raise CommandError("No account to run as: run `python manage.py bootstrap` or pass --as.")
        return actor

    def _save(self, actor: Account, namespace_name: str, source: str) -> Flow:
        namespace, _ = Namespace.objects.get_or_create(name=namespace_name)
        try:
            name = compile_definition(source).name
            existing = Flow.objects.filter(namespace=namespace, name=name).first()
            if existing:
                return flow_update(actor=actor, flow=existing, source=source)
            return flow_create(actor=actor, namespace=namespace, source=source)
        except MillraceError as exc:
            raise CommandError(f"{exc.message} {json.dumps(exc.details) if exc.details else ''}") from exc
        except Exception as exc:
            raise CommandError(str(exc)) from exc

    def _follow(self, thread: threading.Thread, result: dict, timeout: float) -> Execution:
        deadline = time.monotonic() + timeout
        cursor = 0
        execution = None
        while time.monotonic() < deadline:
            if "error" in result:
                raise CommandError(str(result["error"]))
            if execution is None and "execution" in result:
                execution = result["execution"]
            if execution is not None:
                for event in ExecutionEvent.objects.filter(execution=execution, id__gt=cursor).order_by("id"):
                    cursor = event.id
                    self._show(event)
                execution.refresh_from_db()
                if execution.is_terminal and not thread.is_alive():
                    self._show_outputs(execution)
                    return execution
                if execution.status == ExecutionStatus.WAITING and self._waits_on_people(execution):
                    raise CommandError(
                        f"Execution {execution.id} waits for an approval or a callback; "
                        "decide it in the console or the API."
                    )
                if not thread.is_alive():
                    sweep(timezone.now())
            time.sleep(0.05)
        raise CommandError("Timed out waiting for the execution to end.")

    def _waits_on_people(self, execution: Execution) -> bool:
        waiting = TaskRun.objects.filter(execution=execution, status="WAITING")
        return any((run.state or {}).get("wait", {}).get("kind") != "timer" for run in waiting) or any(
            run.plugin_type == "flow.pause" for run in waiting
        )

    def _show(self, event: ExecutionEvent) -> None:
        stamp = event.created_at.strftime("%H:%M:%S.%f")[:-3]
        style = (
            self.style.ERROR
            if event.level == "error"
            else (self.style.WARNING if event.level == "warn" else (lambda text: text))
        )
        line = f"{stamp} {event.message}"
        if event.type == "log" and event.data:
            line += f" {json.dumps(event.data)}"
        self.stdout.write(style(line))

    def _show_outputs(self, execution: Execution) -> None:
        self.stdout.write(f"Execution {execution.id}: {execution.status}")
        self.stdout.write(json.dumps(execution.outputs, indent=2, default=str))
