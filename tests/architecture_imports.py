"""The import picture of Millrace, from the AST of every module outside tests/.

Run `python tests/architecture_imports.py` (add `-v` to list every offending import). It prints:

- imports between top-level packages, and those that go the wrong way: a lower layer importing
  a higher one (LAYERS below is the intended order, bottom first);
- cycles between files: groups of modules that import each other, once counting module-level
  imports only (what Python runs at import time) and once counting imports inside functions too
  (the loops such imports hide);
- imports placed inside functions, per package.

Imports under `if TYPE_CHECKING:` are layer arrows but run nothing, so they make no cycle.
Migrations are left out: they are generated and only name apps in their dependencies.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The intended layers, bottom first: a package may import its own layer and those below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("connectors",),
    ("accounts",),
    ("vault",),
    ("files",),
    ("flows",),
    ("executions",),
    ("agents",),
    ("console",),
    ("api",),
    ("config", "bench"),
)
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}
#: Sub-packages that are not the app's layer: each app's admin pages are the console, its
#: management commands are entry points like `config`.
ROLES = {"admin": RANK["console"], "management": RANK["config"]}
SKIPPED_DIRS = {"tests", "migrations", ".venv", "build", "var", "node_modules", "__pycache__"}


@dataclass(frozen=True)
class Import:
    source: str  # dotted module that imports
    target: str  # dotted project module it imports
    line: int
    in_function: bool
    type_checking: bool


def project_packages() -> set[str]:
    return {path.parent.name for path in ROOT.glob("*/__init__.py") if path.parent.name not in SKIPPED_DIRS}


def project_modules(packages: set[str]) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in sorted(packages):
        for path in (ROOT / package).rglob("*.py"):
            if SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts):
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest project module that `name` (a module or a module's attribute) lies in."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


class ImportVisitor(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, modules: dict[str, Path]) -> None:
        self.module, self.is_package, self.modules = module, is_package, modules
        self.depth = 0  # functions we are inside of
        self.type_checking = 0
        self.found: list[Import] = []
        self.seen: set[tuple[str, str, int]] = set()  # `from a import b, c` is one import of a
        self.library_in_function = 0  # imports of other libraries inside functions

    def visit_FunctionDef(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_Lambda = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        guarded = isinstance(node.test, ast.Name | ast.Attribute) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        self.type_checking += guarded
        for child in node.body:
            self.visit(child)
        self.type_checking -= guarded
        for child in node.orelse:
            self.visit(child)

    def add(self, name: str, line: int) -> None:
        target = resolve(name, self.modules)
        if target is None and self.depth and name.split(".")[0] not in self.modules:
            self.library_in_function += 1
        if target and target != self.module and (self.module, target, line) not in self.seen:
            self.seen.add((self.module, target, line))
            self.found.append(Import(self.module, target, line, self.depth > 0, self.type_checking > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = self.module.split(".")
            package = package if self.is_package else package[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        for alias in node.names:  # `from a.b import c` imports the module a.b.c when there is one
            self.add(f"{base}.{alias.name}" if alias.name != "*" else base, node.lineno)


def collect() -> tuple[list[Import], dict[str, Path], Counter[str]]:
    """Imports of project modules, the modules, and per package the library imports inside functions."""
    modules = project_modules(project_packages())
    found: list[Import] = []
    library_in_function: Counter[str] = Counter()
    for module, path in modules.items():
        visitor = ImportVisitor(module, path.name == "__init__.py", modules)
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        found.extend(visitor.found)
        library_in_function[top(module)] += visitor.library_in_function
    return found, modules, +library_in_function


def top(module: str) -> str:
    return module.split(".")[0]


def rank(module: str) -> int:
    parts = module.split(".")
    return ROLES.get(parts[1], RANK.get(parts[0], 0)) if len(parts) > 1 else RANK.get(parts[0], 0)


def wrong_way_imports() -> list[Import]:
    """Imports of a higher layer by a lower one (`LAYERS`), TYPE_CHECKING ones included."""
    found, _, _ = collect()
    return sorted((i for i in found if rank(i.source) < rank(i.target)), key=lambda i: (i.source, i.line))


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    graph: dict[str, list[str]] = defaultdict(list)
    for source, target in sorted(edges):
        graph[source].append(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted({node for edge in edges for node in edge}):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = graph[node]
            if child < len(successors):
                work.append((node, child + 1))
                nxt = successors[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(components, key=lambda c: (-len(c), c))


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    rows = [header, *rows]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def report(verbose: bool = False) -> str:
    found, modules, library_in_function = collect()
    between = Counter((top(i.source), top(i.target)) for i in found if top(i.source) != top(i.target))
    wrong = wrong_way_imports()
    wrong_pairs = Counter((top(i.source), top(i.target)) for i in wrong)
    runtime = [i for i in found if not i.type_checking]
    module_cycles = cycles({(i.source, i.target) for i in runtime if not i.in_function})
    all_cycles = cycles({(i.source, i.target) for i in runtime})
    in_function = [i for i in found if i.in_function]

    order = " < ".join("/".join(packages) for packages in LAYERS)
    out = [f"Millrace imports: {len(modules)} modules, {len(found)} imports of project modules", f"layers: {order}", ""]
    out += ["Imports between packages (an app's admin/ counts as console, its management/ as an entry point)"]
    rows = [
        (source, target, str(count), str(wrong_pairs.get((source, target), "")))
        for (source, target), count in sorted(between.items(), key=lambda kv: (RANK.get(kv[0][0], 0), kv[0]))
    ]
    out += [table(rows, ("from", "to", "imports", "wrong way")), ""]
    out += [f"Wrong-way imports: {len(wrong)} in {len(wrong_pairs)} package pairs"]
    if verbose:
        out += [f"  {i.source}:{i.line} -> {i.target}" for i in sorted(wrong, key=lambda i: (i.source, i.line))]
    out += [
        f"File cycles, module-level imports: {len(module_cycles)} ({sum(len(c) for c in module_cycles)} modules)",
        f"File cycles, with imports inside functions: {len(all_cycles)} ({sum(len(c) for c in all_cycles)} modules)",
    ]
    for component in all_cycles:
        shown = ", ".join(component) if verbose or len(component) <= 4 else ", ".join(component[:4]) + ", ..."
        out.append(f"  {len(component):3} modules: {shown}")
    per_package = Counter(top(i.source) for i in in_function)
    out += [
        f"Imports inside functions: {len(in_function)} of project modules "
        f"({', '.join(f'{package} {count}' for package, count in sorted(per_package.items()))}), "
        f"{sum(library_in_function.values())} of libraries"
    ]
    if verbose:
        out += [f"  {i.source}:{i.line} -> {i.target}" for i in sorted(in_function, key=lambda i: (i.source, i.line))]
    return "\n".join(out)


if __name__ == "__main__":
    print(report(verbose="-v" in sys.argv[1:]))
