"""The static import graph of the ``harness`` package, for the tests that assert on it.

Every module collapses to its unit under ``harness`` (``harness.backends.base`` -> ``harness.backends``,
``harness.bench`` stays ``harness.bench``); every import is an edge, function-level ones included,
except those under ``if TYPE_CHECKING:``. The units must form a directed acyclic graph.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Container, Iterator, Mapping
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "harness"

Graph = Mapping[str, Collection[str]]
Edge = tuple[str, str]


def _module_name(path: Path) -> str:
    """``harness/measure/speed.py`` -> ``harness.measure.speed``; a package is its ``__init__``."""
    parts = list(path.relative_to(HARNESS.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
    return name == "TYPE_CHECKING"


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` (their ``else`` is kept)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Modules (or ``module.name`` candidates) ``source`` imports at run time."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, is_package)
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def module_graph(root: Path = HARNESS) -> dict[str, set[str]]:
    """Each harness module -> the harness modules it imports (names that are not modules dropped)."""
    paths = {_module_name(path): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets = imported_modules(path.read_text(), name, path.name == "__init__.py")
        graph[name] = {target for target in targets if target in paths and target != name}
    return graph


def unit(module: str) -> str:
    """The top-level unit under harness: ``harness.measure.speed`` -> ``harness.measure``."""
    return ".".join(module.split(".")[:2])


def unit_graph(modules: Graph, ignored: Container[Edge] = frozenset()) -> dict[str, set[str]]:
    """``modules`` collapsed to units, without self-edges and without the ``ignored`` module edges."""
    graph: dict[str, set[str]] = {unit(name): set() for name in modules}
    for name, targets in modules.items():
        graph[unit(name)] |= {unit(t) for t in targets if (name, t) not in ignored} - {unit(name)}
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = stack[stack.index(node) :]
            del stack[stack.index(node) :]
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def explain(component: list[str], modules: Graph, ignored: Container[Edge] = frozenset()) -> str:
    """The module imports that join the units of ``component``."""
    members = set(component)
    edges = sorted(
        f"  {name} -> {target}"
        for name, targets in modules.items()
        for target in targets
        if (name, target) not in ignored and unit(name) in members and unit(target) in members
        if unit(name) != unit(target)
    )
    return f"cycle between {', '.join(component)}:\n" + "\n".join(edges)


def closure(modules: Graph, start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in modules.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen
