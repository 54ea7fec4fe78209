"""Which dialect owns a path (DIALECTS.md, "Mounting")."""

from django.conf import settings

PREFIXES = (
    ("/flowrunner/", "flowrunner"),
    ("/workflowdev/", "workflowdev"),
    ("/workflowsvc/", "workflowsvc"),
    ("/v1/", "connector"),
    ("/ws/", "flowrunner"),
    ("/api/v1/auth/", "flowrunner"),
    ("/api/v1/accounts", "flowrunner"),
    ("/api/v1/agents", "activeworkflow"),
    ("/api/v1/messages", "activeworkflow"),
    ("/api/v1/workflows", "activeworkflow"),
)
SHARED_ROOT_TREES = ("/api/v1/flows", "/api/v1/executions")
WORKFLOWDEV_ROOT = ("/api/v1/", "/auth/", "/healthz", "/readyz", "/metrics")


def dialect_for_path(path: str) -> str | None:
    """The dialect name owning `path`, or None for the admin, docs and other pages."""
    for prefix, name in PREFIXES:
        if path.startswith(prefix):
            return name
    if path.startswith(SHARED_ROOT_TREES):
        return settings.MILLRACE_ROOT_DIALECT
    if path.startswith(WORKFLOWDEV_ROOT):
        return "workflowdev"
    return None
