"""Import an exported ActiveWorkflow workflow (the JSON file `GET /api/v1/workflows/{id}/export` gives).

    python manage.py import_workflow news.json --namespace production --as alice [--name "News (copy)"]

The import runs as the named account, with its role checks (editor in the namespace) and audit.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account, Namespace
from agents.exchange import workflow_import
from core.errors import MillraceError


class Command(BaseCommand):
    help = "Import an exported ActiveWorkflow workflow (a flow and its agents) into a namespace."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--namespace", required=True)
        parser.add_argument("--as", dest="username", required=True, help="The account that imports (an editor).")
        parser.add_argument("--name", help="A name for the workflow (default: the one in the file).")

    def handle(self, *args, file: str, namespace: str, username: str, name: str | None, **options) -> None:
        try:
            document = json.loads(Path(file).read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        actor = Account.objects.filter(username=username).first()
        if actor is None:
            raise CommandError(f"No account named '{username}'.")
        target = Namespace.objects.filter(name=namespace).first()
        if target is None:
            raise CommandError(f"No namespace named '{namespace}'.")
        try:
            flow, agents = workflow_import(actor=actor, namespace=target, document=document, name=name)
        except MillraceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Imported workflow '{flow.name}' ({flow.pk}) with {len(agents)} agent(s) into {namespace}.")
