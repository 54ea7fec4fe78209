"""Flow definitions as files, for CI pipelines and GitOps.

    python manage.py flows validate flows/                     # exit 0, or 2 with path:line: messages
    python manage.py flows apply flows/ --namespace prod --dry-run
    python manage.py flows apply flows/ --namespace prod --as deployer
    python manage.py flows export --namespace prod exported/

`apply` makes a namespace hold the folder's flows (matched by name): a new flow is created, a
flow whose YAML differs is updated (a new revision, audited, through `flows.services`), an
identical one is left alone, so applying twice changes nothing. Every file is checked before
anything is written and all writes share one transaction: a refused file leaves the namespace
as it was. Flows the folder does not hold are never deleted. `export` writes each flow's
current YAML, exactly as saved, so exporting and applying back reports every flow unchanged.
"""

import argparse
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import Account, Namespace
from core.errors import MillraceError
from flows.definitions import DefinitionError, compile_definition
from flows.models import Flow
from flows.selectors import flow_list
from flows.services import flow_create, flow_update, flow_validate

OK, BAD_INPUT = 0, 2
SUFFIXES = (".yaml", ".yml")
EXIT_CODES = f"""exit status:
  {OK}  every file is valid (validate), applied (apply) or written (export)
  1  an unexpected error
  {BAD_INPUT}  a file is invalid or unreadable, or the namespace or account does not exist: nothing written
"""


def problem_lines(path: str | Path, problems: Iterable[dict]) -> list[str]:
    """`path:line: where: message` for each problem (line 1 when the problem has none)."""
    return [
        f"{path}:{problem.get('line') or 1}: {problem['path'] + ': ' if problem.get('path') else ''}"
        f"{problem.get('message')}"
        for problem in problems
    ]


def flow_files(paths: Iterable[str]) -> list[Path]:
    """The YAML files named or found (recursively, sorted) under the directories named."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        elif path.exists():
            found.append(path)
        else:
            raise CommandError(f"{name}: no such file or directory.", returncode=BAD_INPUT)
    return found


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text.", returncode=BAD_INPUT) from None
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror or type(exc).__name__}.", returncode=BAD_INPUT) from None


def file_name(flow_name: str) -> str:
    """A flow's name as a file name: path separators and other unsafe characters become `-`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", flow_name).strip(".-") or "flow"


@dataclass(frozen=True)
class Planned:
    path: Path
    name: str
    source: str
    flow: Flow | None

    @property
    def state(self) -> str:
        if self.flow is None:
            return "new"
        return "unchanged" if self.flow.source == self.source else "changed"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The exit-status table kept as written."""


class Command(BaseCommand):
    help = "Validate flow files, apply a folder of them to a namespace, or export a namespace's flows."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, epilog=EXIT_CODES, **kwargs)
        parser.formatter_class = HelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{validate,apply,export}")
        validate = actions.add_parser(
            "validate", help="Check flow files; print path:line: problems.", formatter_class=HelpFormatter
        )
        validate.add_argument("paths", nargs="+", metavar="PATH", help="Flow files, or directories of *.yaml/*.yml.")
        validate.add_argument(
            "--namespace",
            help="Also check what saving there checks: secrets the flows use, subflows they call.",
        )
        apply = actions.add_parser(
            "apply", help="Create or update a namespace's flows from a folder.", formatter_class=HelpFormatter
        )
        apply.add_argument("folder", help="Directory of flow files (*.yaml, *.yml; searched recursively).")
        apply.add_argument("--namespace", required=True, help="Namespace the flows are applied to (must exist).")
        apply.add_argument(
            "--dry-run", action="store_true", help="Write nothing; print a diff per changed flow and new/unchanged."
        )
        apply.add_argument(
            "--as", dest="username", metavar="USERNAME", help="Account the changes are made and audited as "
            "(an editor of the namespace; default: the first global admin)."
        )  # fmt: skip
        export = actions.add_parser(
            "export", help="Write each flow of a namespace to FOLDER/<name>.yaml.", formatter_class=HelpFormatter
        )
        export.add_argument("--namespace", required=True, help="Namespace whose flows are written.")
        export.add_argument("folder", help="Directory to write to (created when missing).")
        export.add_argument(
            "--as",
            dest="username",
            metavar="USERNAME",
            help="Account reading the flows (default: the first global admin).",
        )

    def handle(self, *args, action: str, **options) -> None:
        if action == "validate":
            self.validate(options["paths"], options.get("namespace"))
        elif action == "apply":
            self.apply(options["folder"], options["namespace"], options["dry_run"], options.get("username"))
        else:
            self.export(options["folder"], options["namespace"], options.get("username"))

    # --- validate -----------------------------------------------------------------------------

    def validate(self, paths: list[str], namespace_name: str | None) -> None:
        namespace = self._namespace(namespace_name) if namespace_name else None
        failed = 0
        files = flow_files(paths)
        for path in files:
            problems = flow_validate(source=read(path), namespace=namespace)
            if problems:
                failed += 1
                self.stderr.write("\n".join(problem_lines(path, (problem.as_dict() for problem in problems))))
            else:
                self.stdout.write(f"{path}: ok")
        if failed:
            raise CommandError(f"{failed} of {len(files)} file(s) invalid.", returncode=BAD_INPUT)
        self.stdout.write(f"{len(files)} file(s) valid.")

    # --- apply --------------------------------------------------------------------------------

    def apply(self, folder: str, namespace_name: str, dry_run: bool, username: str | None) -> None:
        if not Path(folder).is_dir():
            raise CommandError(f"{folder}: not a directory.", returncode=BAD_INPUT)
        namespace = self._namespace(namespace_name)
        actor = self._actor(username)
        plan = self._plan(flow_files([folder]), namespace)
        if dry_run:
            self._check(plan, namespace, actor)
        else:
            self._write(plan, namespace, actor)
        for item in plan:
            self._report(item, namespace)
        counts = {state: sum(item.state == state for item in plan) for state in ("new", "changed", "unchanged")}
        summary = ", ".join(f"{count} {state}" for state, count in counts.items())
        self.stdout.write(f"{summary}{' (dry run: nothing written)' if dry_run else ''}.")

    def _plan(self, files: list[Path], namespace: Namespace) -> list[Planned]:
        """Each file with its flow's name and the flow it replaces; every problem of every file
        (and names given twice) refuse the whole folder."""
        plan: list[Planned] = []
        problems: list[str] = []
        seen: dict[str, Path] = {}
        existing = {flow.name: flow for flow in Flow.objects.filter(namespace=namespace)}
        for path in files:
            source = read(path)
            try:
                name = compile_definition(source).name
            except DefinitionError as exc:
                problems += problem_lines(path, exc.as_dicts())
                continue
            if not name:
                problems += problem_lines(path, [{"path": "name", "message": "A flow needs a name."}])
            elif name in seen:
                problems += problem_lines(path, [{"path": "name", "message": f"'{name}' is also in {seen[name]}."}])
            else:
                seen[name] = path
                plan.append(Planned(path, name, source, existing.get(name)))
        if problems:
            raise CommandError("\n".join(problems), returncode=BAD_INPUT)
        return plan

    def _check(self, plan: list[Planned], namespace: Namespace, actor: Account) -> None:
        """What saving would refuse: secrets, subflows, URLs, webhook keys (dry run)."""
        lines: list[str] = []
        for item in plan:
            if item.state != "unchanged":
                found = flow_validate(source=item.source, namespace=namespace, owner=actor)
                lines += problem_lines(item.path, (problem.as_dict() for problem in found))
        if lines:
            raise CommandError("\n".join(lines), returncode=BAD_INPUT)

    def _write(self, plan: list[Planned], namespace: Namespace, actor: Account) -> None:
        """Create and update through the services (revisions, audit), all or nothing."""
        current: Planned | None = None
        try:
            with transaction.atomic():
                for current in plan:
                    if current.state == "new":
                        flow_create(actor=actor, namespace=namespace, source=current.source)
                    elif current.state == "changed":
                        compiled = compile_definition(current.source)
                        flow_update(
                            actor=actor,
                            flow=current.flow,
                            source=current.source,
                            description=compiled.description,
                            tags=list(compiled.tags),
                        )
        except MillraceError as exc:
            details = exc.details if isinstance(exc.details, list) and exc.details else [{"message": exc.message}]
            lines = problem_lines(current.path if current else "", details)
            raise CommandError("\n".join([*lines, "Nothing was applied."]), returncode=BAD_INPUT) from exc

    def _report(self, item: Planned, namespace: Namespace) -> None:
        if item.state != "changed":
            self.stdout.write(f"{item.state}: {item.name} ({item.path})")
            return
        self.stdout.write(f"changed: {item.name} ({item.path})")
        diff = difflib.unified_diff(
            item.flow.source.splitlines(keepends=True),
            item.source.splitlines(keepends=True),
            fromfile=f"{namespace.name}/{item.name} (revision {item.flow.revision})",
            tofile=str(item.path),
        )
        self.stdout.write("".join(line if line.endswith("\n") else f"{line}\n" for line in diff), ending="")

    # --- export -------------------------------------------------------------------------------

    def export(self, folder: str, namespace_name: str, username: str | None) -> None:
        self._namespace(namespace_name)
        flows = flow_list(account=self._actor(username), namespaces=[namespace_name]).order_by("name")
        target = Path(folder)
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"{folder}: {exc.strerror or type(exc).__name__}.", returncode=BAD_INPUT) from None
        written: set[str] = set()
        for flow in flows:
            name = file_name(flow.name)
            while name in written:  # two names that differ only in unsafe characters
                name += "-"
            written.add(name)
            path = target / f"{name}.yaml"
            path.write_text(flow.source, encoding="utf-8")  # exactly as saved: applying it back changes nothing
            self.stdout.write(f"wrote {path} ({flow.name}, revision {flow.revision})")
        self.stdout.write(f"{len(written)} flow(s) exported.")

    # --- shared -------------------------------------------------------------------------------

    @staticmethod
    def _namespace(name: str) -> Namespace:
        namespace = Namespace.objects.filter(name=name).first()
        if namespace is None:
            raise CommandError(f"Namespace '{name}' does not exist.", returncode=BAD_INPUT)
        return namespace

    @staticmethod
    def _actor(username: str | None) -> Account:
        accounts = Account.objects.filter(is_active=True)
        actor = accounts.filter(username=username).first() if username else accounts.filter(role="admin").first()
        if actor is None:
            hint = f"no active account '{username}'" if username else "run `python manage.py bootstrap` or pass --as"
            raise CommandError(f"No account to act as: {hint}.", returncode=BAD_INPUT)
        return actor
