"""No package-level import cycle inside ``harness`` (the graph: ``tests/import_graph.py``)."""

from __future__ import annotations

from import_graph import cycles, explain, imported_modules, module_graph, unit_graph


def test_no_package_level_import_cycle() -> None:
    modules = module_graph()
    found = cycles(unit_graph(modules))
    assert not found, "\n".join(explain(c, modules) for c in found)


def test_cycle_finder_reports_a_hand_made_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"a", "e"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_collapsing_to_units_finds_a_cycle_across_packages() -> None:
    modules = {"harness.p.x": {"harness.q.y"}, "harness.q.y": set(), "harness.q.z": {"harness.p.w"}}
    modules = {**modules, "harness.p.w": set()}
    assert cycles(unit_graph(modules)) == [["harness.p", "harness.q"]]
    assert cycles(unit_graph(modules, {("harness.q.z", "harness.p.w")})) == []


def test_type_checking_imports_are_not_edges() -> None:
    source = """
from typing import TYPE_CHECKING
import harness.a
if TYPE_CHECKING:
    from harness.b import B
else:
    from harness.c import C
def f() -> None:
    from . import d
"""
    found = imported_modules(source, "harness.pkg.mod")
    assert {"harness.a", "harness.c", "harness.pkg.d"} <= found
    assert not any(name.startswith("harness.b") for name in found)
