"""Create the first admin account (printing its password once) and the demo namespace."""

import os
import secrets
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db.models import Q

from accounts.models import Account, Namespace
from accounts.roles import Role
from accounts.services import account_create
from flows.models import Flow
from flows.services import flow_create

ADMIN_USERNAME = "admin"
EXAMPLES = Path(__file__).resolve().parents[3] / "flows" / "examples"


class Command(BaseCommand):
    help = "Create the first admin if no account exists; with --demo also load the example flows."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--demo", action="store_true", help="Create the 'demo' namespace with example flows.")

    def handle(self, *args, demo: bool = False, **options) -> None:
        if Account.objects.exists():
            self.stdout.write("Accounts exist; log in with yours (the first admin was printed at the first start).")
        else:
            password = os.environ.get("MILLRACE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            account_create(actor=None, username=ADMIN_USERNAME, password=password, role=Role.ADMIN, name="Admin")
            self.stdout.write(self.style.SUCCESS("Created the first admin account. This is shown only once:"))
            self.stdout.write(f"  username: {ADMIN_USERNAME}\n  password: {password}")
        if demo:
            self._load_demo()

    def _load_demo(self) -> None:
        namespace, created = Namespace.objects.get_or_create(
            name="demo", defaults={"description": "Example flows loaded by `make run`."}
        )
        if created:
            self.stdout.write("Created the 'demo' namespace.")
        admins = Account.objects.filter(Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True)
        admin = admins.order_by("date_joined").first()
        if admin is None:
            return
        for path in sorted(EXAMPLES.glob("*.yaml")):
            source = path.read_text()
            if not Flow.objects.filter(namespace=namespace, name=path.stem).exists():
                flow_create(actor=admin, namespace=namespace, source=source, name=path.stem)
                self.stdout.write(f"Loaded the example flow '{path.stem}' into 'demo'.")
