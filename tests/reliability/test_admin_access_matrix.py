"""The access matrix of the operator console (`/admin/`): every page, each role.

One table lists, for every admin URL pattern and method, what each caller gets: anonymous,
then a viewer, an executor, an editor and an admin of the namespace the objects are in (the
admin by membership, as in `test_access_matrix`), and — after the slash — what those four get
for the same request on another namespace's object (one answer for all four, or one each;
`-` when the page has no object to cross). For an add page, the other namespace is where the
new object would go.

Answers: a status, or `login` (redirected to log in), `gone` (the admin's "doesn't exist"
redirect to the index), `index` (another redirect to the index), `302` (a redirect elsewhere:
saved, or back to the page with a message). `+` means the POST wrote to the database; each
POST without it is checked to have changed nothing. Another namespace's object answers exactly
as a missing one does, a POST on it never writes, and no 2xx page of either side shows the
other namespace's ids or names. A guard fails when an admin URL pattern is served that the
table lacks, or a write page (add, change, delete, list actions, POST-only views) lacks its POST.

Roles (README): viewers read; executors also run flows, control executions, decide approvals
and send agent messages; editors also write flows, triggers, agents, messages, KV and
credentials; namespace admins also manage the namespace, its members and their accounts and
tokens, and read its audit log. Adding or deleting namespaces and the models of other apps
(Django permissions, which no role grants) are for global admins and superusers.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from tests.reliability.access_world import PASSWORD, ROLES
from tests.reliability.admin_world import (
    CALLERS,
    MILLRACE_APPS,
    THIRD_PARTY,
    G,
    P,
    Row,
    action,
    build_admin_world,
    leaks,
    request,
)

NEW_PASSWORD = "another-horse-battery-9"
TASKS = "name: created\ntasks:\n  - name: a\n    type: util.log\n    properties: {{message: hi}}\n"
EXPORT = json.dumps({"name": "imported", "agents": [{"name": "echo", "type": "util.echo"}], "links": []})


ALL = "login 200 200 200 200"
NONE = "login 403 403 403 403"
EDITORS = "login 403 403 200 200"
ADMINS = "login 403 403 403 200"
MOVED = "login 302 302 302 302"  # `<id>/` redirects to `<id>/change/`, whatever the id
ONLY_POST = "login 405 405 405 405"
EDITOR_SAVES = "login 403 403 302+ 302+"
ADMIN_SAVES = "login 403 403 403 302+"
EDITOR_DELETES = "login 200 200 302+ 302+"  # viewers and executors have no delete action: the list again
EXECUTOR_ACTS = "login 302 302+ 302+ 302+"  # the service refuses a viewer: back to the page with a message
EXECUTOR_LIST_ACTS = "login 200 302+ 302+ 302+"  # a viewer is offered no action: the list again
EDITOR_DELETES_TO_INDEX = "login 403 403 index+ index+"  # no change permission, so no list to go back to

TABLE: list[Row] = [
    # --- the site ------------------------------------------------------------------------------
    G("", f"{ALL} / -"),
    G("plugins/", f"{ALL} / -"),
    G("dashboard/panels/", f"{ALL} / -"),
    G("dashboard/panels/?window=7d", f"{ALL} / -"),
    G("login/", "200 index index index index / -"),
    P(
        "login/",
        "200+ index+ index+ index+ index+ / -",  # a failed login is audited and counted (throttle)
        {"username": "{username}", "password": PASSWORD, "next": "/admin/"},
    ),
    G("logout/", "index 405 405 405 405 / -"),
    P("logout/", "index 200 200 200 200 / -"),
    G("password_change/", f"{ALL} / -"),
    P(
        "password_change/",
        "login 302+ 302+ 302+ 302+ / -",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    ),
    G("password_change/done/", f"{ALL} / -"),
    G("autocomplete/", f"{NONE} / -"),
    G("jsi18n/", f"{ALL} / -"),
    G("r/{ct_flow}/{flow}/", "login 404 404 404 404 / 404"),
    *[G(f"{app}/", f"{ALL} / -") for app in MILLRACE_APPS],
    *[G(f"{app}/", "login 404 404 404 404 / -") for app in ("auth", "token_blacklist", "django_q")],
    G("no-such-page/", "login 404 404 404 404 / -"),
    # --- accounts: namespaces (members read, their admins edit, only global admins add or delete)
    G("accounts/namespace/", f"{ALL} / -"),
    P("accounts/namespace/", f"{ALL} / 200", action("delete_selected", "ns_id")),
    G("accounts/namespace/add/", f"{NONE} / -"),
    P("accounts/namespace/add/", f"{NONE} / -", {"name": "brand-new"}, form=True),
    G("accounts/namespace/{ns_id}/", f"{MOVED} / 302"),
    G("accounts/namespace/{ns_id}/change/", f"{ALL} / gone"),
    P("accounts/namespace/{ns_id}/change/", f"{ADMIN_SAVES} / 403 403 403 gone", {"description": "new"}, form=True),
    G("accounts/namespace/{ns_id}/delete/", f"{NONE} / 403"),
    P("accounts/namespace/{ns_id}/delete/", f"{NONE} / 403", {"post": "yes"}),
    G("accounts/namespace/{ns_id}/history/", f"{ALL} / gone"),
    # --- accounts: a namespace's files (its viewers read, its editors write)
    G("accounts/namespace/{ns_id}/files/", f"{ALL} / gone"),
    G("accounts/namespace/{ns_id}/files/download/?path=notes.txt", f"{ALL} / gone"),
    G("accounts/namespace/{ns_id}/files/edit/?path=notes.txt", f"{ALL} / gone"),
    P("accounts/namespace/{ns_id}/files/edit/?path=notes.txt", f"{EDITOR_SAVES} / gone", {"content": "changed"}),
    G("accounts/namespace/{ns_id}/files/upload/", f"{ONLY_POST} / 405"),
    P("accounts/namespace/{ns_id}/files/upload/?path=docs", f"{EDITOR_SAVES} / gone", {"file": "{{}}"}),
    G("accounts/namespace/{ns_id}/files/delete/?path=notes.txt", f"{EDITORS} / gone"),
    P("accounts/namespace/{ns_id}/files/delete/?path=notes.txt", f"{EDITOR_SAVES} / gone"),
    # --- accounts: memberships (the namespace's admins)
    G("accounts/membership/", f"{ADMINS} / -"),
    P("accounts/membership/", f"{ADMIN_SAVES} / 403 403 403 302", action("delete_selected", "membership")),
    G("accounts/membership/add/", f"{ADMINS} / -"),
    P(
        "accounts/membership/add/",
        f"{ADMIN_SAVES} / 403 403 403 200",
        {"account": "{member}", "namespace": "{ns_id}", "role": "executor"},
        form=True,
    ),
    G("accounts/membership/{membership}/", f"{MOVED} / 302"),
    G("accounts/membership/{membership}/change/", f"{ADMINS} / 403 403 403 gone"),
    P("accounts/membership/{membership}/change/", f"{ADMIN_SAVES} / 403 403 403 gone", {"role": "editor"}, form=True),
    G("accounts/membership/{membership}/delete/", f"{ADMINS} / 403 403 403 gone"),
    P("accounts/membership/{membership}/delete/", f"{ADMIN_SAVES} / 403 403 403 gone", {"post": "yes"}),
    G("accounts/membership/{membership}/history/", "login gone gone gone 200 / gone"),
    # --- accounts: accounts (everyone sees itself, namespace admins the namespace's accounts)
    G("accounts/account/", f"{ALL} / -"),
    P("accounts/account/", "login 200 200 200 302+ / 200 200 200 302", action("delete_selected", "member")),
    G("accounts/account/add/", f"{ADMINS} / -"),
    P(
        "accounts/account/add/",
        f"{ADMIN_SAVES} / 403 403 403 200",
        {"username": "newcomer", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "email": "n@example.com"}
        | {"role": "viewer", "default_namespace": "{ns_id}"},
        form=True,
    ),
    G("accounts/account/{member}/", f"{MOVED} / 302"),
    G("accounts/account/{member}/change/", "login gone gone gone 200 / gone"),
    P("accounts/account/{member}/change/", f"{ADMIN_SAVES} / 403 403 403 gone", {"name": "Renamed"}, form=True),
    G("accounts/account/{me}/change/", f"{ALL} / -", note="the caller's own"),
    P("accounts/account/{me}/change/", f"{NONE} / -", {"role": "admin"}, form=True, note="the caller's own"),
    G("accounts/account/{member}/password/", f"{ADMINS} / 403 403 403 404"),
    P(
        "accounts/account/{member}/password/",
        f"{ADMIN_SAVES} / 403 403 403 404",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        form=True,
    ),
    G("accounts/account/{member}/delete/", f"{ADMINS} / 403 403 403 gone"),
    P("accounts/account/{member}/delete/", f"{ADMIN_SAVES} / 403 403 403 gone", {"post": "yes"}),
    G("accounts/account/{member}/history/", "login gone gone gone 200 / gone"),
    # --- accounts: API tokens (one's own; namespace admins also those of accounts they administer)
    G("accounts/apitoken/", f"{ALL} / -"),
    P("accounts/apitoken/", "login 302 302 302 302+ / 302", action("revoke", "token")),
    P("accounts/apitoken/", "login 302 302 302 302 / 302", action("delete_selected", "token"), note="delete"),
    G("accounts/apitoken/add/", f"{ALL} / -"),
    P("accounts/apitoken/add/", "login 200+ 200+ 200+ 200+ / -", {"account": "{me}", "name": "mine"}, form=True),
    P(
        "accounts/apitoken/add/",
        "login 200 200 200 200+ / 200",
        {"account": "{member}", "name": "theirs"},
        form=True,
        note="another account",
    ),
    G("accounts/apitoken/{token}/", f"{MOVED} / 302"),
    G("accounts/apitoken/{token}/change/", "login gone gone gone 200 / gone"),
    P("accounts/apitoken/{token}/change/", f"{NONE} / 403", {"name": "renamed"}, form=True),
    G("accounts/apitoken/{token}/delete/", f"{NONE} / 403"),
    P("accounts/apitoken/{token}/delete/", f"{NONE} / 403", {"post": "yes"}),
    G("accounts/apitoken/{token}/history/", "login gone gone gone 200 / gone"),
    G("accounts/apitoken/{token}/revoke/", f"{ONLY_POST} / 405"),
    P("accounts/apitoken/{token}/revoke/", "login 404 404 404 302+ / 404"),
    # --- accounts: the audit log (the namespace's admins; read-only)
    G("accounts/auditentry/", f"{ADMINS} / -"),
    P("accounts/auditentry/", f"{ADMINS} / 403 403 403 200", action("delete_selected", "audit")),
    G("accounts/auditentry/add/", f"{NONE} / -"),
    P("accounts/auditentry/add/", f"{NONE} / -", {"action": "forged", "resource_type": "flow"}),
    G("accounts/auditentry/{audit}/", f"{MOVED} / 302"),
    G("accounts/auditentry/{audit}/change/", f"{ADMINS} / 403 403 403 gone"),
    P("accounts/auditentry/{audit}/change/", f"{NONE} / 403", {"action": "forged"}),
    G("accounts/auditentry/{audit}/delete/", f"{NONE} / 403"),
    P("accounts/auditentry/{audit}/delete/", f"{NONE} / 403", {"post": "yes"}),
    G("accounts/auditentry/{audit}/history/", "login gone gone gone 200 / gone"),
    # --- flows: flows, their revisions, the run form
    G("flows/flow/", f"{ALL} / -"),
    P("flows/flow/", f"{EDITOR_DELETES} / 200 200 302 302", action("delete_selected", "flow")),
    G("flows/flow/add/", f"{EDITORS} / -"),
    P(
        "flows/flow/add/",
        f"{EDITOR_SAVES} / 403 403 200 200",
        {"namespace": "{ns_id}", "name": "created", "source": TASKS},
        form=True,
    ),
    G("flows/flow/validate/", f"{ONLY_POST} / -"),  # the editor's check as you type
    P("flows/flow/validate/", f"{ALL} / -", {"source": TASKS, "namespace": "{ns_id}"}),
    G("flows/flow/{flow}/", f"{MOVED} / 302"),
    G("flows/flow/{flow}/change/", f"{ALL} / gone"),
    P("flows/flow/{flow}/change/", f"{EDITOR_SAVES} / 403 403 gone gone", {"description": "new"}, form=True),
    G("flows/flow/{flow}/delete/", f"{EDITORS} / 403 403 gone gone"),
    P("flows/flow/{flow}/delete/", f"{EDITOR_SAVES} / 403 403 gone gone", {"post": "yes"}),
    G("flows/flow/{flow}/history/", f"{ALL} / gone"),
    G("flows/flow/{flow}/revisions/", f"{ALL} / gone"),
    G("flows/flow/{flow}/revisions/compare/?a=1&b=2", f"{ALL} / gone"),
    G("flows/flow/{flow}/revisions/1/restore/", f"{ONLY_POST} / 405"),
    P("flows/flow/{flow}/revisions/1/restore/", f"{EDITOR_SAVES} / gone"),
    G("flows/flow/{flow}/run/", "login 403 200 200 200 / gone"),
    G("flows/flow/{flow}/convert/?format=kestra", f"{ALL} / gone"),
    P("flows/flow/{flow}/run/", "login 403 302+ 302+ 302+ / gone", {}, form=True),
    G("flows/flowrevision/", f"{ALL} / -"),
    P("flows/flowrevision/", f"{ALL} / 200", action("delete_selected", "revision")),
    G("flows/flowrevision/add/", f"{NONE} / -"),
    P("flows/flowrevision/add/", f"{NONE} / -", {"number": "3", "source": "x"}),
    G("flows/flowrevision/{revision}/", f"{MOVED} / 302"),
    G("flows/flowrevision/{revision}/change/", f"{ALL} / gone"),
    P("flows/flowrevision/{revision}/change/", f"{NONE} / 403", {"source": "x"}),
    G("flows/flowrevision/{revision}/delete/", f"{NONE} / 403"),
    P("flows/flowrevision/{revision}/delete/", f"{NONE} / 403", {"post": "yes"}),
    G("flows/flowrevision/{revision}/history/", f"{ALL} / gone"),
    # --- flows: triggers
    G("flows/trigger/", f"{ALL} / -"),
    P("flows/trigger/", f"{EDITOR_DELETES} / 200 200 302 302", action("delete_selected", "trigger")),
    G("flows/trigger/add/", f"{EDITORS} / -"),
    P(
        "flows/trigger/add/",
        f"{EDITOR_SAVES} / 403 403 200 200",
        {"flow": "{flow}", "name": "another-hook", "type": "webhook"},
        form=True,
    ),
    G("flows/trigger/{trigger}/", f"{MOVED} / 302"),
    G("flows/trigger/{trigger}/change/", f"{ALL} / gone"),
    P("flows/trigger/{trigger}/change/", f"{EDITOR_SAVES} / 403 403 gone gone", {"name": "renamed"}, form=True),
    G("flows/trigger/{trigger}/delete/", f"{EDITORS} / 403 403 gone gone"),
    P("flows/trigger/{trigger}/delete/", f"{EDITOR_SAVES} / 403 403 gone gone", {"post": "yes"}),
    G("flows/trigger/{trigger}/history/", f"{ALL} / gone"),
    G("flows/trigger/{schedule_trigger}/backfill/", "login 403 200 200 200 / gone"),
    P(
        "flows/trigger/{schedule_trigger}/backfill/",
        "login 403 302+ 302+ 302+ / gone",
        {"start": "2026-03-01 00:00", "end": "2026-03-02 00:00"},
        form=True,
    ),
    # --- flows: agents and their pages
    G("flows/agent/", f"{ALL} / -"),
    P("flows/agent/", f"{EXECUTOR_LIST_ACTS} / 200 302 302 302", action("run_now", "agent")),
    P(
        "flows/agent/",
        f"{EXECUTOR_LIST_ACTS} / 200 302 302 302",
        action("send_manual_message", "agent", payload="{{}}"),
    ),
    P("flows/agent/", "login 200 302 302+ 302+ / 200 302 302 302", action("delete_selected", "agent"), note="delete"),
    G("flows/agent/add/", f"{EDITORS} / -"),
    P(
        "flows/agent/add/",
        f"{EDITOR_SAVES} / 403 403 200 200",
        {"namespace": "{ns_id}", "name": "new-agent", "type": "util.echo", "options": "{{}}", "schedule": "never"},
        form=True,
    ),
    G("flows/agent/{agent}/", f"{MOVED} / 302"),
    G("flows/agent/{agent}/change/", f"{ALL} / gone"),
    P("flows/agent/{agent}/change/", f"{EDITOR_SAVES} / 403 403 gone gone", {"disabled": "on"}, form=True),
    G("flows/agent/{agent}/delete/", f"{EDITORS} / 403 403 gone gone"),
    P("flows/agent/{agent}/delete/", f"{EDITOR_SAVES} / 403 403 gone gone", {"post": "yes"}),
    G("flows/agent/{agent}/history/", f"{ALL} / gone"),
    G("flows/agent/{agent}/run/", f"{ONLY_POST} / 405"),
    P("flows/agent/{agent}/run/", f"{EXECUTOR_ACTS} / 404"),
    G("flows/agent/{agent}/message/", f"{ONLY_POST} / 405"),
    P("flows/agent/{agent}/message/", f"{EXECUTOR_ACTS} / 404", {"payload": '{{"x": 1}}'}),
    G("flows/agent/{agent}/clear-logs/", f"{ONLY_POST} / 405"),
    P("flows/agent/{agent}/clear-logs/", "login 302 302 302+ 302+ / 404"),
    G("flows/agent/import/", "login 404 404 200 200 / -"),
    P("flows/agent/import/", "login 404 404 302+ 302+ / 404 404 200 200", {"namespace": "{ns_id}", "file": EXPORT}),
    G("flows/agent/workflows/", f"{ALL} / -"),
    G("flows/agent/workflows/{flow}/graph/", f"{ALL} / 404"),
    G("flows/agent/workflows/{flow}/export/", f"{ALL} / 404"),
    # --- executions: the execution page and its run control
    G("executions/execution/", f"{ALL} / -"),
    # executors have list actions (bulk cancel/retry/replay), so an unknown one sends them back to the list
    P("executions/execution/", "login 200 302 302+ 302+ / 200 302 302 302", action("delete_selected", "execution")),
    P("executions/execution/", f"{EXECUTOR_LIST_ACTS} / 200 302 302 302", action("cancel_selected", "waiting")),
    P("executions/execution/", f"{EXECUTOR_LIST_ACTS} / 200 302 302 302", action("retry_selected", "execution")),
    P("executions/execution/", f"{EXECUTOR_LIST_ACTS} / 200 302 302 302", action("replay_selected", "execution")),
    G("executions/execution/add/", f"{NONE} / -"),
    P("executions/execution/add/", f"{NONE} / -", {"flow": "{flow}"}),
    G("executions/execution/{execution}/", f"{MOVED} / 302"),
    G("executions/execution/{execution}/change/", f"{ALL} / gone"),
    P("executions/execution/{execution}/change/", f"{NONE} / 403", {"timeout_seconds": "5"}),
    G("executions/execution/{execution}/delete/", f"{EDITORS} / 403 403 gone gone"),
    P("executions/execution/{execution}/delete/", f"{EDITOR_DELETES_TO_INDEX} / 403 403 gone gone", {"post": "yes"}),
    G("executions/execution/{execution}/history/", f"{ALL} / gone"),
    G("executions/execution/{execution}/file/?uri={execution_file}", f"{ALL} / 404"),
    G("executions/execution/{execution}/live/", f"{ALL} / 404"),
    G("executions/execution/{waiting}/control/cancel/", f"{ONLY_POST} / 405"),
    P("executions/execution/{waiting}/control/cancel/", f"{EXECUTOR_ACTS} / 404"),
    P("executions/execution/{waiting}/control/pause/", f"{EXECUTOR_ACTS} / 404"),
    P("executions/execution/{paused}/control/resume/", f"{EXECUTOR_ACTS} / 404"),
    P("executions/execution/{execution}/control/retry/", f"{EXECUTOR_ACTS} / 404"),
    G("executions/execution/{execution}/rerun/", f"{ONLY_POST} / 405"),
    P("executions/execution/{execution}/rerun/", f"{EXECUTOR_ACTS} / 404"),
    G("executions/execution/{execution}/replay/{failed_run}/", f"{ONLY_POST} / 405"),
    P("executions/execution/{execution}/replay/{failed_run}/", f"{EXECUTOR_ACTS} / 404"),
    G("executions/execution/{waiting}/approvals/{approval}/approve/", f"{ONLY_POST} / 405"),
    P("executions/execution/{waiting}/approvals/{approval}/approve/", f"{EXECUTOR_ACTS} / 404", {"comment": "ok"}),
    P("executions/execution/{waiting}/approvals/{approval}/reject/", f"{EXECUTOR_ACTS} / 404", {"comment": "no"}),
    # --- executions: task runs, events and approvals (the engine's records, read-only)
    *[
        row
        for base, key in (("taskrun", "task_run"), ("executionevent", "event"), ("approval", "approval"))
        for row in (
            G(f"executions/{base}/", f"{ALL} / -"),
            G(f"executions/{base}/add/", f"{NONE} / -"),
            P(f"executions/{base}/add/", f"{NONE} / -", {"execution": "{execution}"}),
            G(f"executions/{base}/{{{key}}}/", f"{MOVED} / 302"),
            G(f"executions/{base}/{{{key}}}/change/", f"{ALL} / gone"),
            P(f"executions/{base}/{{{key}}}/change/", f"{NONE} / 403", {"status": "SUCCESS"}),
            G(f"executions/{base}/{{{key}}}/delete/", f"{NONE} / 403"),
            P(f"executions/{base}/{{{key}}}/delete/", f"{NONE} / 403", {"post": "yes"}),
            G(f"executions/{base}/{{{key}}}/history/", f"{ALL} / gone"),
        )
    ],
    P("executions/taskrun/", f"{ALL} / 200", action("delete_selected", "task_run")),
    P("executions/executionevent/", f"{ALL} / 200", action("delete_selected", "event")),
    P("executions/approval/", f"{EXECUTOR_LIST_ACTS} / 200 302 302 302", action("approve", "approval")),
    P("executions/approval/", f"{EXECUTOR_LIST_ACTS} / 200 302 302 302", action("reject", "approval")),
    P("executions/approval/", "login 200 302 302 302 / 200 302 302 302", action("delete_selected", "approval")),
    # --- executions: agent messages (executors send manual ones, editors delete)
    G("executions/message/", f"{ALL} / -"),
    P("executions/message/", f"{EDITOR_DELETES} / 200 200 302 302", action("delete_selected", "message_id")),
    G("executions/message/add/", "login 403 200 200 200 / -"),
    P(
        "executions/message/add/",
        "login 403 302+ 302+ 302+ / 403 200 200 200",
        {"agent": "{agent}", "payload": '{{"n": 2}}'},
        form=True,
    ),
    G("executions/message/{message_id}/", f"{MOVED} / 302"),
    G("executions/message/{message_id}/change/", f"{ALL} / gone"),
    P("executions/message/{message_id}/change/", f"{NONE} / 403", {"payload": '{{"n": 3}}'}),
    G("executions/message/{message_id}/delete/", f"{EDITORS} / 403 403 gone gone"),
    P("executions/message/{message_id}/delete/", f"{EDITOR_DELETES_TO_INDEX} / 403 403 gone gone", {"post": "yes"}),
    G("executions/message/{message_id}/history/", f"{ALL} / gone"),
    # --- vault: credentials (editors), an account's own secrets (itself and its administrators)
    G("vault/secret/", f"{ALL} / -"),
    P("vault/secret/", f"{EDITOR_SAVES} / 302", action("delete_selected", "credential")),
    G("vault/secret/add/", f"{ALL} / -"),
    P(
        "vault/secret/add/",
        "login 200 200 302+ 302+ / 200",
        {"name": "NEW_CRED", "namespace": "{ns_id}", "account": "", "value": "n3w-value"},
        form=True,
    ),
    P(
        "vault/secret/add/",
        "login 302+ 302+ 302+ 302+ / -",
        {"name": "MY_KEY", "namespace": "", "account": "{me}", "value": "n3w-value"},
        form=True,
        note="the caller's own",
    ),
    G("vault/secret/{credential}/", f"{MOVED} / 302"),
    G("vault/secret/{credential}/change/", f"{ALL} / gone"),
    P("vault/secret/{credential}/change/", f"{EDITOR_SAVES} / gone", {"description": "new"}, form=True),
    G("vault/secret/{personal}/change/", "login gone gone gone 200 / gone", note="an account's"),
    P("vault/secret/{personal}/change/", "login gone gone gone 302+ / gone", {"description": "new"}, form=True),
    G("vault/secret/{credential}/delete/", f"{EDITORS} / gone"),
    P("vault/secret/{credential}/delete/", f"{EDITOR_SAVES} / gone", {"post": "yes"}),
    G("vault/secret/{credential}/history/", f"{ALL} / gone"),
    # --- vault: the key-value store (editors write)
    G("vault/keyvalue/", f"{ALL} / -"),
    P("vault/keyvalue/", f"{EDITOR_DELETES} / 200 200 302 302", action("delete_selected", "kv")),
    G("vault/keyvalue/add/", f"{EDITORS} / -"),
    P(
        "vault/keyvalue/add/",
        f"{EDITOR_SAVES} / 403 403 200 200",
        {"namespace": "{ns_id}", "key": "new-key", "value": '"v"'},
        form=True,
    ),
    G("vault/keyvalue/{kv}/", f"{MOVED} / 302"),
    G("vault/keyvalue/{kv}/change/", f"{ALL} / gone"),
    P("vault/keyvalue/{kv}/change/", f"{EDITOR_SAVES} / 403 403 gone gone", {"value": '{{"n": 2}}'}, form=True),
    G("vault/keyvalue/{kv}/delete/", f"{EDITORS} / 403 403 gone gone"),
    P("vault/keyvalue/{kv}/delete/", f"{EDITOR_SAVES} / 403 403 gone gone", {"post": "yes"}),
    G("vault/keyvalue/{kv}/history/", f"{ALL} / gone"),
    # --- other apps' models on the same site: Django permissions, which no role grants
    *[
        row
        for base, key in THIRD_PARTY.items()
        for row in (
            G(f"{base}/", f"{NONE} / -"),
            P(f"{base}/", f"{NONE} / -", action("delete_selected", key)),
            G(f"{base}/add/", f"{NONE} / -"),
            P(f"{base}/add/", f"{NONE} / -", {"name": "forged"}),
            G(f"{base}/{{{key}}}/", f"{MOVED} / -"),
            G(f"{base}/{{{key}}}/change/", f"{NONE} / -"),
            P(f"{base}/{{{key}}}/change/", f"{NONE} / -", {"name": "forged"}),
            G(f"{base}/{{{key}}}/delete/", f"{NONE} / -"),
            P(f"{base}/{{{key}}}/delete/", f"{NONE} / -", {"post": "yes"}),
            G(f"{base}/{{{key}}}/history/", f"{NONE} / -"),
        )
    ],
]

#: Pages beside add/change/delete whose GET is a form that is posted.
FORM_PAGES = {"login", "password_change", "auth_user_password_change", "flows_flow_run", "flows_agent_import"}


# --- the matrix ------------------------------------------------------------------------------

GROUPS = sorted({row.group for row in TABLE})


@pytest.mark.django_db
@pytest.mark.parametrize("group", GROUPS)
def test_admin_access_matrix(group: str, settings) -> None:
    """One world per model; each request is rolled back, so every row meets the same world."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # logins by the hundred
    world = build_admin_world()
    problems: list[str] = []
    for row in (row for row in TABLE if row.group == group):
        got: dict[str, str] = {}
        for caller in CALLERS:
            got[caller], page = request(world, row, caller, "own")
            if leaks(world, page):
                problems.append(f"{row.id()}: {caller} sees another namespace's {leaks(world, page)}")
        if row.path.startswith("django_q/ormq"):
            # django-q2 registers its queue model only with the ORM broker (not on Redis), so
            # the page is the model's or the site's catch-all: either way no role may get in
            if any(status.startswith("2") for status in got.values()):
                problems.append(f"{row.id()}: {' '.join(got.values())}")
            continue
        if got != row.own:
            problems.append(f"{row.id()}: {' '.join(got.values())}")
        if row.other is None:
            continue
        crossed, missing = {}, {}
        for caller in ROLES:
            crossed[caller], page = request(world, row, caller, "other")
            missing[caller], _ = request(world, row, caller, "missing")
            if leaks(world, page):
                problems.append(f"{row.id()} on another namespace: {caller} sees {leaks(world, page)}")
        if crossed != row.other:
            problems.append(f"{row.id()} on another namespace: {' '.join(crossed.values())}")
        if crossed != missing:
            problems.append(f"{row.id()}: another namespace's object {crossed}, a missing one {missing}")
    assert not problems, "\n".join(problems)


def test_another_namespace_is_never_written() -> None:
    assert [row.id() for row in TABLE if "+" in row.expect.split("/")[1]] == []


# --- the table covers every admin URL pattern ------------------------------------------------


def _served() -> dict[str, str | None]:
    """Every URL pattern of the admin site, by route, with its name."""
    found: dict[str, str | None] = {}

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("admin/"):
                found[route.replace("^", "")] = pattern.name

    walk(get_resolver().url_patterns, "")
    return found


def _route_of(row: Row) -> str:
    path = row.path.format_map(defaultdict(lambda: "1")).split("?")[0]
    return resolve("/admin/" + path).route.replace("^", "")


def test_every_admin_page_is_in_the_table() -> None:
    covered = {(_route_of(row), row.method) for row in TABLE}
    served = _served()
    assert [route for route in served if (route, "GET") not in covered] == []
    writes = {route for route, name in served.items() if re.search(r"_(add|change|delete|changelist)$", name or "")}
    writes |= {_route_of(row) for row in TABLE if row.method == "GET" and row.own["viewer"] == "405"}
    writes |= {route for route, name in served.items() if name in FORM_PAGES}
    assert sorted(route for route in writes if (route, "POST") not in covered) == []


def test_the_table_names_only_served_pages() -> None:
    served = _served()
    assert [row.id() for row in TABLE if _route_of(row) not in served] == []
