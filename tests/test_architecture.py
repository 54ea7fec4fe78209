"""Layering rules that keep a sixth dialect from touching any app, and plugins model-free."""

import ast
import re
from pathlib import Path

import pytest

from tests.architecture_imports import wrong_way_imports

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "agents", "connectors", "console", "core", "executions", "flows", "vault")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_of(package: str) -> list[Path]:
    return [path for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts]


@pytest.mark.parametrize("app", APPS)
def test_apps_do_not_import_the_dialects(app):
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.split(".")[0] == "api")
        for path in modules_of(app)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_plugins_know_no_models():
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.endswith(".models"))
        for path in (ROOT / "connectors" / "plugins").glob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def first_party_packages() -> set[str]:
    return {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests"}


def dotted_names(path: Path) -> set[str]:
    """String constants that name a module path (`"console.admin_site.MillraceAdminSite"`)."""
    strings = (node.value for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Constant))
    return {value for value in strings if isinstance(value, str) and re.fullmatch(r"[a-z_]+(\.\w+)+", value)}


def test_core_imports_no_app():
    """`core` is the ground floor (errors, ids, time formats, broker, metrics registry, health,
    database backend): it imports no other Millrace package, not even by a dotted path."""
    above = first_party_packages() - {"core"}
    assert {"accounts", "flows", "executions", "console", "api"} <= above
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) | dotted_names(path) if name.split(".")[0] in above
        )
        for path in modules_of("core")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


# --- the engine, the plugin library and the connector proxy dialect ---------------------------


def _packages_above(*floors: str) -> set[str]:
    return {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", *floors}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, `from a import b` counted as `a` and as `a.b`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _source_files() -> list[Path]:
    return [path for package in sorted(_packages_above()) for path in modules_of(package)]


def test_the_engine_imports_no_services():
    """The engine is called by services, never the other way round (no loop services → engine →
    services): what follows an end lives in `executions/engine/lifecycle.py`."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in _imports(path) if "services" in name.split("."))
        for path in modules_of("executions/engine")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_connectors_import_no_app():
    """`connectors` is the plugin library: it stands on `core` and Django only."""
    above = _packages_above("connectors", "core")
    assert {"accounts", "api", "executions", "flows", "vault"} <= above
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in _imports(path) if name.split(".")[0] in above)
        for path in modules_of("connectors")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


SPIFF_WIRE = ("spiff__callback_url", "command_response_version", "spiffCallbackUrl")
#: The connector proxy dialect, and the plugin that calls another proxy as SpiffWorkflow does.
SPIFF_HOMES = ("api/connector_proxy/", "connectors/plugins/connector.py")


def test_spiff_wire_details_stay_in_the_connector_proxy():
    """The engine's callback outbox is neutral: the dialect registers where its URL is kept and
    what body it is owed (`api/connector_proxy/run_flow.py`)."""
    offenders = {
        relative: sorted(word for word in SPIFF_WIRE if word in path.read_text())
        for path in _source_files()
        if not (relative := str(path.relative_to(ROOT))).startswith(SPIFF_HOMES)
    }
    assert {path: words for path, words in offenders.items() if words} == {}


_WRITES = {"update", "update_or_create", "get_or_create", "create", "bulk_create", "save", "bulk_update"}


def _writes_status(node: ast.AST) -> bool:
    """`x.status = ...`, `.update(status=...)`, `defaults={"status": ...}`, `update_fields=["status"]`."""
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Attribute) and t.attr == "status" for t in targets)
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _WRITES):
        return False
    values = [keyword.value for keyword in node.keywords if keyword.arg != "status"] + list(node.args)
    if any(keyword.arg == "status" for keyword in node.keywords):
        return True
    for value in values:
        if isinstance(value, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "status" for k in value.keys):
            return True
        if isinstance(value, ast.List | ast.Tuple | ast.Set) and any(
            isinstance(item, ast.Constant) and item.value == "status" for item in value.elts
        ):
            return True
    return False


def test_only_the_transition_function_writes_a_status():
    """Execution, TaskRun and Approval statuses change in `executions/engine/transitions.py`
    only, checked against its tables (no other model of the project has a `status` field)."""
    owner = ROOT / "executions" / "engine" / "transitions.py"
    offenders = {
        str(path.relative_to(ROOT)): [
            node.lineno for node in ast.walk(ast.parse(path.read_text())) if _writes_status(node)
        ]
        for path in _source_files()
        if path != owner
    }
    assert {path: lines for path, lines in offenders.items() if lines} == {}


def _unexplained_inner_imports(path: Path) -> list[int]:
    """Lines of imports inside a function with no comment on the line or above it; a comment
    right above a block of imports (blank lines between its groups too) explains the block."""
    lines = path.read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    import_lines = {line for node in imports for line in range(node.lineno, node.end_lineno + 1)}
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import | ast.ImportFrom) and "#" not in lines[node.lineno - 1]:
                above = node.lineno - 1
                while above in import_lines or (not lines[above - 1].strip() and above - 1 in import_lines):
                    above -= 1
                if not lines[above - 1].strip().startswith("#"):
                    found.append(node.lineno)
    return sorted(set(found))


#: Every top-level package of the project, found in the tree.
PACKAGES = sorted(first_party_packages())


def test_every_package_is_checked():
    expected = {"accounts", "agents", "api", "bench", "config", "connectors", "console", "core", "executions"}
    assert expected | {"flows", "vault"} <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_inside_a_function_without_a_reason(package):
    """An import inside a function hides a cycle; the few that must wait for Django's app
    loading say why in a comment."""
    offenders = {str(path.relative_to(ROOT)): _unexplained_inner_imports(path) for path in modules_of(package)}
    assert {path: lines for path, lines in offenders.items() if lines} == {}


def test_no_import_goes_the_wrong_way():
    """A package imports its own layer and those below (`tests/architecture_imports.py`'s
    LAYERS: core < connectors < accounts < vault < flows < executions < agents < console < api
    < config/bench; an app's admin is the console, its management commands entry points).
    Code that needs a higher layer belongs in it: firing a trigger starts an execution, so it
    is `executions.triggers`, not flows."""
    assert [f"{i.source}:{i.line} -> {i.target}" for i in wrong_way_imports()] == []


def test_no_import_inside_the_execution_services_without_a_reason():
    assert _unexplained_inner_imports(ROOT / "executions" / "services.py") == []


# --- agents in one place -------------------------------------------------------------------


def test_agents_sit_above_flows_and_executions():
    """The agent code (`agents/`) uses flows, executions and their models; nothing below it
    imports it back (their admin modules included: the agent pages are `agents.admin`). Only
    entry points may name it: `manage.py worker` registers the agents' schedules."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) | dotted_names(path) if name.split(".")[0] == "agents"
        )
        for package in ("accounts", "connectors", "core", "executions", "flows", "vault")
        for path in modules_of(package)
        if "management" not in path.parts
    }
    assert {path: names for path, names in offenders.items() if names} == {}
