"""drf-spectacular hooks: where each schema's paths are served, and one copy of each operation
in the whole-server schema (`manage.py spectacular`)."""

from typing import Any

from django.conf import settings
from django.urls import get_script_prefix

from api.docs import DOCUMENTED

#: The two dialects served in full under their own prefix as well as at the root (DIALECTS.md, "Mounting").
PREFIXED = ("flowrunner", "workflowdev")


def dialect_servers(slug: str | None) -> list[dict[str, str]]:
    """The base URLs a dialect's schema paths are served under, the first one preferred.

    FlowRunner's and workflowdev's paths are written without their prefix: the dialect owning
    the root (MILLRACE_ROOT_DIALECT) is served in full there and under its prefix, the other
    one in full only under its prefix. The other schemas write their paths as served.
    """
    root = get_script_prefix()
    if slug not in PREFIXED:
        return [{"url": root, "description": "This server"}]
    prefixed = {"url": f"{root}{slug}", "description": f"Under the /{slug} prefix"}
    if slug != settings.MILLRACE_ROOT_DIALECT:
        return [prefixed]
    return [{"url": root, "description": "At the server root (MILLRACE_ROOT_DIALECT)"}, prefixed]


def add_servers(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: the `servers` of the schema of `generator.urlconf`, so that Swagger's
    "Try it out" calls the dialect where it is served."""
    urlconfs = {urlconf: slug for slug, (_title, urlconf) in DOCUMENTED.items()}
    result["servers"] = dialect_servers(urlconfs.get(generator.urlconf))
    return result


def drop_prefixed_copies(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """Preprocessing hook of the whole-server schema: an operation served both at the root and
    under a dialect's prefix (FlowRunner's and workflowdev's trees) is kept once, at the root,
    so no two operations share an operation id."""
    served = {(path, method, _view(callback)) for path, _regex, method, callback in endpoints}
    kept = []
    for path, regex, method, callback in endpoints:
        unprefixed = "/" + path.lstrip("/").partition("/")[2]
        if unprefixed != path and (unprefixed, method, _view(callback)) in served:
            continue
        kept.append((path, regex, method, callback))
    return kept


def _view(callback: Any) -> Any:
    return getattr(callback, "cls", callback)
