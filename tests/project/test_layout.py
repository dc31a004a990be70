"""The layout stays as designed: data flows one way, so no import ever closes a circle.

The graph is read from the source (every ``import`` and ``from ... import``,
also the ones inside functions, which are still dependencies), between the
packages of ``routereval`` (``records``, ``routers``, ``deploy``, ``serving``,
...; a top-level module such as ``atomic`` counts as its own package) and
between modules. A circle between packages means some package reaches back up
the flow (sources -> records -> router datasets -> routers -> policies ->
metrics -> evaluation -> reports; ``deploy`` trains, saves and loads a router,
and the proxy in ``serving`` reads what ``deploy`` saved). Figures are drawn in
``reports`` only. ``routereval/__init__.py``
is the front door (it loads the public names lazily) and ``__version__`` is
read from it, so it stays out of the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

from support.processes import REPO

SRC = REPO / "src"
PACKAGE = "routereval"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imported(path: Path, name: str, is_package: bool) -> set[str]:
    """Every routereval module named by an import in ``path`` (absolute or relative)."""
    return {m for m in _names_imported(path, name, is_package) if m == PACKAGE or m.startswith(PACKAGE + ".")}


def _names_imported(path: Path, name: str, is_package: bool) -> set[str]:
    """Every module (of any package) named by an import in ``path``, relative ones made absolute."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            found.add(stem)
            found |= {f"{stem}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    """Module -> the routereval modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if name == PACKAGE:
            continue
        targets = set()
        for imported in _imported(path, name, path.name == "__init__.py"):
            # `from pkg.mod import name` names pkg.mod.name, which is a module only sometimes.
            while imported not in modules and "." in imported:
                imported = imported.rsplit(".", 1)[0]
            # A package's __init__ re-exports its modules; a module importing its own package's
            # front door is reading a sibling, not reaching back up.
            own_front_door = name.startswith(imported + ".")
            if imported in modules and imported not in (name, PACKAGE) and not own_front_door:
                targets.add(imported)
        graph[name] = targets
    return graph


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of the directed graph, or None (iterative depth-first search)."""
    colour: dict[str, int] = {}
    for start in sorted(graph):
        if colour.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not colour.get(child):
                colour[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    return None


def test_the_reader_finds_imports_of_every_kind():
    graph = _graph()
    # Absolute at module level, absolute inside a function, and a package's own submodule.
    assert "routereval.errors" in graph["routereval.atomic"] or "routereval.interrupts" in graph["routereval.atomic"]
    assert "routereval.sources.prices" in graph["routereval.sweeps.tasks"]
    assert len(graph) > 100


def test_the_circle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_package_reaches_back_up():
    graph = _graph()
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        packages.setdefault(_package(module), set()).update(_package(t) for t in targets if _package(t) != _package(module))
    circle = _cycle(packages)
    assert circle is None, "packages import each other in a circle: " + " -> ".join(circle) + "; " + "; ".join(
        f"{a} imports {sorted(t for t in graph if _package(t) == b and any(t in graph[m] for m in graph if _package(m) == a))}"
        for a, b in zip(circle, circle[1:]))


def test_no_module_circle():
    graph = _graph()
    circle = _cycle(graph)
    assert circle is None, "modules import each other in a circle: " + " -> ".join(circle)


def test_the_saved_router_knows_nothing_of_the_proxy():
    graph = _graph()
    deploy = {m for m in graph if _package(m) == "routereval.deploy"}
    assert {"routereval.deploy.model", "routereval.deploy.train", "routereval.deploy.artifact"} <= deploy
    reached = {t for m in deploy for t in graph[m] if _package(t) == "routereval.serving"}
    assert not reached, f"deploy imports the proxy: {sorted(reached)}"
    # The proxy routes with the saved router, from its one home.
    assert any(_package(t) == "routereval.deploy" for m in graph if _package(m) == "routereval.serving" for t in graph[m])
    assert not [m for m in _modules() if m.startswith("routereval.serving.") and m.rsplit(".", 1)[1] in
                ("train", "artifact", "manifest", "model", "npz", "state", "encoder_state")]


def test_only_reports_draw():
    drawing = sorted(
        name for name, path in _modules().items()
        if _package(name) != "routereval.reports"
        and any(m.split(".")[0] == "matplotlib" for m in _names_imported(path, name, path.name == "__init__.py"))
    )
    assert not drawing, f"matplotlib imported outside routereval.reports: {drawing}"
