"""Layering rules that keep a sixth dialect from touching any app, and plugins model-free."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "connectors", "core", "executions", "flows", "vault")


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
