"""The console's side of the access matrix: the rows, the world they act on, and how an answer
is named in the table.

The world is the API matrix's (`access_world`) plus what only the console shows: a second
flow revision, a task run, an event, a paused execution, an agent log line, an API token, an
audit entry and a membership in each namespace, one row of each model other apps register on
the site, and a superuser that is no caller but reads forms. A POST body starts as the form the
page itself renders to the superuser (every field present, valid) and then takes the row's
values, so a refused POST is refused by the role check, not by an incomplete form.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import Account, Membership, Namespace
from accounts.roles import Role
from accounts.services import api_token_create, audit_record
from core import storage
from executions.models import Approval, Execution, ExecutionStatus, Message
from flows.models import Agent, Flow
from flows.services import flow_update
from tests.conftest import token_for
from tests.factories import AccountFactory, AgentLogFactory, ExecutionEventFactory, ExecutionFactory
from tests.reliability.access_world import FLOW_YAML, ROLES, Side, build_world

CALLERS = ("anonymous", *ROLES)
MILLRACE_APPS = ("accounts", "flows", "executions", "vault")
#: Models other apps register on the console's site, by admin path, with their world key.
THIRD_PARTY = {
    "auth/group": "group",
    "token_blacklist/outstandingtoken": "outstanding",
    "token_blacklist/blacklistedtoken": "blacklisted",
    "django_q/schedule": "schedule",
    "django_q/success": "success",
    "django_q/failure": "failure",
    "django_q/ormq": "ormq",
}
SECOND_REVISION = FLOW_YAML + "  - name: bye\n    type: util.log\n    properties:\n      message: Bye\n"
#: Values of the other namespace that no page of the caller's own may show.
LEAK_KEYS = (
    "flow", "execution", "waiting", "paused", "approval", "trigger", "credential", "agent", "message", "member",
    "guest", "revision", "task_run", "token", "audit", "membership", "personal", "kv", "flow_name", "agent_name",
    "member_name",
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One request of the table: `expect` is "anon viewer executor editor admin / other"."""

    method: str
    path: str  # under /admin/, with {placeholders} of the side (and {me}: the caller's account)
    expect: str
    body: dict[str, Any] | None = None  # a value None drops the form's field; "file" is uploaded
    form: bool = False  # start the body from the form the page renders
    note: str = ""

    @property
    def own(self) -> dict[str, str]:
        answers = self.expect.split("/")[0].split()
        assert len(answers) == len(CALLERS), self
        return dict(zip(CALLERS, answers, strict=True))

    @property
    def other(self) -> dict[str, str] | None:
        answers = self.expect.split("/")[1].split()
        if answers == ["-"]:
            return None
        return dict(zip(ROLES, answers * len(ROLES) if len(answers) == 1 else answers, strict=True))

    @property
    def group(self) -> str:
        """The model the row is about (one world per model), `others` or `site`."""
        parts = self.path.split("/")
        if len(parts) > 2 and parts[0] in MILLRACE_APPS:
            return "/".join(parts[:2])
        return "others" if len(parts) > 2 and "/".join(parts[:2]) in THIRD_PARTY else "site"

    def id(self) -> str:
        return f"{self.method} {self.path}" + (f" ({self.note})" if self.note else "")


def G(path: str, expect: str, **kwargs: Any) -> Row:
    return Row("GET", path, expect, **kwargs)


def P(path: str, expect: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Row:
    return Row("POST", path, expect, body or {}, **kwargs)


def action(name: str, key: str, **extra: str) -> dict[str, Any]:
    """A list action on one selected row (`post` confirms a deletion)."""
    return {"action": name, "_selected_action": f"{{{key}}}", "index": "0", "post": "yes", **extra}


# --- the world -------------------------------------------------------------------------------


@dataclass
class AdminWorld:
    own: dict[str, str]
    other: dict[str, str]
    missing: dict[str, str]  # the own side's keys, valued as no object is
    accounts: dict[str, Account]
    root: Account
    forms: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)

    def client(self, caller: str) -> Client:
        """The caller's client, logged in once per world (outside the requests, which are rolled back)."""
        if caller not in self.clients:
            self.clients[caller] = Client()
            if caller in self.accounts:
                self.clients[caller].force_login(self.accounts[caller])
        return self.clients[caller]


def _extend(side: Side, tag: str, root: Account) -> dict[str, str]:
    values = dict(side.values)
    namespace = Namespace.objects.get(name=side["ns"])
    flow = Flow.objects.select_related("namespace").get(pk=side["flow"])
    flow_update(actor=root, flow=flow, source=SECOND_REVISION.format(name=flow.name))  # revision 1 is restorable
    agent = Agent.objects.get(pk=side["agent"])
    agent.flows.add(flow)
    AgentLogFactory(agent=agent, text=f"ran-{tag}")
    event = ExecutionEventFactory(
        execution=Execution.objects.get(pk=side["execution"]), type="log", message=f"event-{tag}"
    )
    paused = ExecutionFactory(flow=flow, status=ExecutionStatus.PAUSED, created_by=root)
    approval = Approval.objects.get(pk=side["approval"])
    member = Account.objects.get(pk=side["member"])
    token, _ = api_token_create(actor=root, account=member, name=f"token-{tag}")
    audit = audit_record(actor=None, action=f"audit-{tag}", resource_type="flow", namespace=namespace.name)
    values.update(
        ns_id=str(namespace.pk),
        ct_flow=str(ContentType.objects.get_for_model(Flow).pk),
        flow_name=flow.name,
        agent_name=agent.name,
        revision=str(flow.revisions.get(number=1).pk),
        task_run=str(approval.task_run_id),
        event=str(event.pk),
        paused=str(paused.pk),
        token=str(token.pk),
        audit=str(audit.pk),
        membership=str(Membership.objects.get(account_id=side["guest"], namespace=namespace).pk),
        personal=str(member.secrets.get(name="PERSONAL").pk),
        kv=str(namespace.kv_entries.get(key="greeting").pk),
        message_id=str(Message.objects.get(uuid=side["message"]).pk),
    )
    return values


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _missing(own: dict[str, str]) -> dict[str, str]:
    """The own side's keys, valued as no object is: a number, a UUID or a name nothing has."""
    values = {}
    for key, value in own.items():
        if value.isdigit():
            values[key] = "987654"
        else:
            values[key] = str(uuid.uuid4()) if _is_uuid(value) else f"missing-{key}"
    return values


def _third_party() -> dict[str, str]:
    now = timezone.now()
    done = {"func": "math.floor", "started": now, "stopped": now}
    outstanding = OutstandingToken.objects.first()  # a login token of the viewer's
    return {
        "group": str(Group.objects.create(name="operators").pk),
        "outstanding": str(outstanding.pk),
        "blacklisted": str(BlacklistedToken.objects.create(token=outstanding).pk),
        "schedule": str(Schedule.objects.create(name="nightly", func="math.floor", args="1").pk),
        "success": Task.objects.create(id=uuid.uuid4().hex, name="done", success=True, **done).pk,
        "failure": Task.objects.create(id=uuid.uuid4().hex, name="broke", success=False, **done).pk,
        "ormq": str(OrmQ.objects.create(key="default", payload="x", lock=now).pk),
    }


def build_admin_world() -> AdminWorld:
    world = build_world()
    root = AccountFactory(username="root", role=Role.ADMIN, is_superuser=True, default_namespace=None)
    token_for(world.accounts["viewer"])
    own, other = _extend(world.own, "own", root), _extend(world.other, "other", root)
    shared = _third_party()
    own.update(shared)
    other.update(shared)
    return AdminWorld(own=own, other=other, missing=_missing(own), accounts=world.accounts, root=root)


# --- forms -----------------------------------------------------------------------------------


class _FormReader(HTMLParser):
    """The fields of every form of a page, as a browser submits them unchanged."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[dict[str, str], list[tuple[str, str]]]] = []
        self.select: tuple[str, bool] | None = None
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append((a, []))
        if not self.forms:
            return
        fields = self.forms[-1][1]
        kind = a.get("type", "text")
        if tag == "input" and a.get("name") and kind not in ("submit", "button", "file", "image"):
            if kind not in ("checkbox", "radio") or "checked" in a:
                fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and a.get("name"):
            self.select, self.options = (a["name"], "multiple" in a), []
        elif tag == "option" and self.select:
            self.options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and a.get("name"):
            self.textarea, self.text = a["name"], ""

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self.select and self.forms:
            name, multiple = self.select
            chosen = [value for value, selected in self.options if selected]
            if not chosen and not multiple and self.options:
                chosen = [self.options[0][0]]
            self.forms[-1][1].extend((name, value) for value in chosen)
            self.select = None
        elif tag == "textarea" and self.textarea is not None and self.forms:
            self.forms[-1][1].append((self.textarea, self.text.removeprefix("\n")))
            self.textarea = None


def form_data(html: str) -> dict[str, list[str]]:
    """The page's change form (`<model>_form`), else its first POST form but the header's logout."""
    reader = _FormReader()
    reader.feed(html)
    forms = [f for f in reader.forms if f[0].get("method", "").lower() == "post" and f[0].get("id") != "logout-form"]
    forms.sort(key=lambda f: not f[0].get("id", "").endswith("_form"))
    data: dict[str, list[str]] = {}
    for name, value in forms[0][1] if forms else []:
        data.setdefault(name, []).append(value)
    return data


def root_form(world: AdminWorld, path: str) -> dict[str, list[str]]:
    """The form of the page at `path` as the superuser gets it (read once a world)."""
    if path not in world.forms:
        client = Client()
        client.force_login(world.root)
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        world.forms[path] = form_data(response.content.decode())
    return dict(world.forms[path])


# --- requests and answers --------------------------------------------------------------------


def fingerprint() -> str:
    """A digest of every row of every table but the sessions: equal digests, nothing written."""
    digest = hashlib.sha256()
    with connection.cursor() as cursor:
        for model in apps.get_models():
            opts = model._meta
            if opts.app_label == "sessions" or opts.proxy or not opts.managed:
                continue
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(opts.db_table)} ORDER BY 1")
            digest.update(repr(cursor.fetchall()).encode())
    return digest.hexdigest()


def answer(response: Any, wrote: bool) -> str:
    """How the table names a response: a status, or where a redirect goes; `+` if the DB changed.

    `login` is the login page, `gone` the admin's "doesn't exist" redirect to the index,
    `index` any other redirect to the index, `302` a redirect anywhere else.
    """
    code = str(response.status_code)
    if response.status_code in (301, 302):
        target = response["Location"].split("?")[0]
        code = "302"
        if target == "/admin/login/":
            code = "login"
        elif target == "/admin/":
            notes = [str(note) for note in get_messages(response.wsgi_request)]
            code = "gone" if any("doesn\N{RIGHT SINGLE QUOTATION MARK}t exist" in note for note in notes) else "index"
    return code + ("+" if wrote else "")


def values_for(world: AdminWorld, side: str, caller: str) -> dict[str, str]:
    values = dict({"own": world.own, "other": world.other, "missing": world.missing}[side])
    account = world.accounts.get(caller)
    values["me"] = str(account.pk) if account else world.missing["member"]
    values["username"] = account.username if account else "nobody"
    return values


def _body(world: AdminWorld, row: Row, values: dict[str, str]) -> dict[str, Any] | None:
    if row.body is None:
        return None
    data: dict[str, Any] = {}
    if row.form:  # the own side's form: on another namespace's URL it would overwrite that object
        data.update(root_form(world, "/admin/" + row.path.format(**values_for(world, "own", "admin"))))
    for key, value in row.body.items():
        if value is None:
            data.pop(key, None)
        elif key == "file":
            data[key] = SimpleUploadedFile("export.json", value.encode(), content_type="application/json")
        else:
            data[key] = value.format(**values)
    return data


@contextmanager
def _files_kept(world: AdminWorld) -> Iterator[None]:
    """The stored files of both namespaces as they were before the request (storage is no transaction)."""
    namespaces = (world.own["ns"], world.other["ns"])
    kept = {key: storage.open_file(key).read() for name in namespaces for key in storage.walk(name)}
    try:
        yield
    finally:
        if {key for name in namespaces for key in storage.walk(name)} != set(kept) or any(
            storage.open_file(key).read() != content for key, content in kept.items()
        ):
            for name in namespaces:
                storage.delete_prefix(name)
            for key, content in kept.items():
                storage.put(key, content)


def request(world: AdminWorld, row: Row, caller: str, side: str) -> tuple[str, str]:
    """The answer and, for a 2xx, the page. Rolled back, cookies and stored files too: the next request
    meets the same world."""
    values = values_for(world, side, caller)
    path = "/admin/" + row.path.format(**values)
    body = _body(world, row, values)
    client = world.client(caller)
    cookies = copy.deepcopy(client.cookies)
    with transaction.atomic(), _files_kept(world):
        before = fingerprint() if row.method == "POST" else ""
        response = client.post(path, body) if row.method == "POST" else client.get(path)
        wrote = row.method == "POST" and fingerprint() != before
        transaction.set_rollback(True)
    client.cookies = cookies
    content = b"".join(response.streaming_content) if response.streaming else response.content  # downloads
    page = content.decode(errors="replace") if 200 <= response.status_code < 300 else ""
    return answer(response, wrote), page


def leaks(world: AdminWorld, page: str) -> list[str]:
    """Which of the other namespace's ids and names a page shows."""
    found = [key for key in LEAK_KEYS if not world.other[key].isdigit() and world.other[key] in page]
    return found + [word for word in ("elsewhere", "stranger") if word in page]


__all__ = [
    "CALLERS", "MILLRACE_APPS", "THIRD_PARTY", "AdminWorld", "G", "P", "Row", "action", "build_admin_world", "leaks",
    "request",
]  # fmt: skip
