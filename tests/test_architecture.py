"""The project's import graph, read from its source with ``ast``: no module imports itself in a circle, and the
layers below the pages never import Streamlit.

Every import counts, also one inside a function or under ``TYPE_CHECKING``: a circle that a deferred import keeps
from failing at start-up still ties the modules together, and the next import moved to the top breaks it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.conftest import PROJECT

# Folders of the project's own code; every .py file at the project's top level counts too (tests/ and .venv/ don't).
PACKAGES = ("ui", "app_pages", "metrics", "data", "bench")
WITHOUT_STREAMLIT = ("metrics", "data", "settings")

Graph = dict[str, set[str]]


def module_files(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Module name -> file, for the top-level .py files of ``root`` and every .py file under ``packages``."""
    files = sorted(root.glob("*.py"))
    for package in packages:
        files += sorted(path for path in (root / package).rglob("*.py") if "__pycache__" not in path.parts)
    return {_module_name(path.relative_to(root)): path for path in files}


def _module_name(relative: Path) -> str:
    parts = relative.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(module: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``module`` imports, project or not: a project module by its full name, any other by the name
    written. ``from x import y`` names ``x.y`` when that is a project module (a submodule), else ``x``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(_known_prefix(alias.name, known) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, path.name == "__init__.py")
            names.update(_submodule_or_base(base, alias.name, known) for alias in node.names)
    return names


def _known_prefix(name: str, known: set[str]) -> str:
    """``import a.b.c`` runs a.b.c: the longest of its prefixes that is a project module, else the name as written."""
    parts = name.split(".")
    prefixes = (".".join(parts[:end]) for end in range(len(parts), 0, -1))
    return next((prefix for prefix in prefixes if prefix in known), name)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return ".".join(part for part in (package, node.module) if part)


def _submodule_or_base(base: str, name: str, known: set[str]) -> str:
    return f"{base}.{name}" if f"{base}.{name}" in known else _known_prefix(base, known)


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> Graph:
    """Project module -> the project modules it imports."""
    files = module_files(root, packages)
    known = set(files)
    return {module: imported_names(module, path, known) & known for module, path in files.items()}


def circles(graph: Graph) -> list[list[str]]:
    """Each group of modules that import each other, directly or through the others, by name; a module that imports
    itself is a group of one."""
    return sorted(sorted(group) for group in _strongly_connected(graph) if _is_circle(graph, group))


def _is_circle(graph: Graph, group: set[str]) -> bool:
    return len(group) > 1 or group <= graph[next(iter(group))]


def _strongly_connected(graph: Graph) -> Iterator[set[str]]:
    """Tarjan's algorithm; the project is a few dozen modules, so recursion is deep enough."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> Iterator[set[str]]:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                yield from visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = {stack.pop()}
            while module not in group:
                group.add(stack.pop())
            yield group

    for module in sorted(graph):
        if module not in index:
            yield from visit(module)


def loop_through(graph: Graph, group: list[str]) -> list[str]:
    """The shortest path of imports from the group's first module back to itself, inside the group: where to cut."""
    start = group[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph[module] & set(group)):
                if target == start:
                    return [*paths[module], start]
                if target not in paths:
                    paths[target] = [*paths[module], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{group} is not a circle")  # a strongly connected group always has one


def streamlit_importers(root: Path, layers: Iterable[str] = WITHOUT_STREAMLIT) -> list[str]:
    """The modules of ``layers`` (packages or top-level modules) that import streamlit or one of its modules."""
    files = module_files(root)
    known = set(files)
    in_layers = [module for module in files if any(module == layer or module.startswith(f"{layer}.")
                                                   for layer in layers)]
    return [module for module in in_layers
            if any(name.split(".")[0] == "streamlit" for name in imported_names(module, files[module], known))]


def _write(root: Path, sources: dict[str, str]) -> None:
    for name, text in sources.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


# --- the project -----------------------------------------------------------------------------------------------------

def test_the_import_walk_finds_the_projects_modules_and_their_imports() -> None:
    graph = import_graph(PROJECT)
    assert {"dashboard", "settings", "charts", "ui", "data.ingest", "data.cli", "metrics.query", "bench.imports"} \
        <= set(graph)
    assert not any(module.startswith(("tests", ".venv")) for module in graph)
    assert {"data.ingest", "data.warehouse"} <= graph["data.cli"]
    assert "bench.imports" in graph["bench.upload_memory"]  # imported inside a function: the walk reads those too


def test_no_module_imports_itself_in_a_circle() -> None:
    graph = import_graph(PROJECT)
    found = [f"{', '.join(group)} (e.g. {' -> '.join(loop_through(graph, group))})" for group in circles(graph)]
    assert not found, "modules that import each other in a circle: " + "; ".join(found)


def test_the_shared_basics_and_privacy_modules_import_nothing_of_data_but_the_schema() -> None:
    # Every import stage uses them; importing a stage back would tie that stage to all the others.
    graph = import_graph(PROJECT)
    assert {module: graph[module] - {"data.schema"} for module in ("data.basics", "data.privacy")} == {
        "data.basics": set(), "data.privacy": set()}


def test_metrics_data_and_settings_never_import_streamlit() -> None:
    assert streamlit_importers(PROJECT) == []


# --- the checks themselves, on tiny packages written for them --------------------------------------------------------

def test_the_circle_check_finds_a_circle_in_a_package_that_has_one(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "def later():\n    from . import c\n",  # relative and nested
        "pkg/c.py": "import pkg.a\nimport json\n",
        "pkg/d.py": "from pkg.a import something\n",  # imports into the circle, is not part of it
        "main.py": "import pkg.d\n",
    })
    graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg.b"] == {"pkg.c"} and graph["pkg.d"] == {"pkg.a"}
    assert circles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert loop_through(graph, ["pkg.a", "pkg.b", "pkg.c"]) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]


def test_the_circle_check_finds_a_module_that_imports_itself(tmp_path: Path) -> None:
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "from .a import x\n"})
    assert circles(import_graph(tmp_path, ["pkg"])) == [["pkg.a"]]


def test_the_circle_check_passes_a_package_without_one(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg.a import run\n",
        "pkg/a.py": "from pkg import b\n",  # b is a submodule, not a name of pkg
        "pkg/b.py": "from pkg.sub import c\n",
        "pkg/e.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "from . import d\nfrom ..e import value\n",
        "pkg/sub/d.py": "import os.path\n",
        "main.py": "import pkg\n",
    })
    graph = import_graph(tmp_path, ["pkg"])
    assert graph == {"main": {"pkg"}, "pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.sub.c"}, "pkg.e": set(),
                     "pkg.sub": set(), "pkg.sub.c": {"pkg.sub.d", "pkg.e"}, "pkg.sub.d": set()}
    assert circles(graph) == []


def test_the_streamlit_check_finds_streamlit_imported_anywhere_in_a_lower_layer(tmp_path: Path) -> None:
    _write(tmp_path, {
        "settings.py": "",
        "charts.py": "import streamlit as st\n",  # the UI layer may
        "data/__init__.py": "",
        "data/clean.py": "import polars\n",
        "data/nested.py": "def show():\n    from streamlit.testing.v1 import AppTest\n",
        "metrics/top.py": "import streamlit.components.v1 as components\n",
    })
    assert sorted(streamlit_importers(tmp_path)) == ["data.nested", "metrics.top"]
