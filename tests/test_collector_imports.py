"""The collector's modules import one another without a cycle: each module's imports, lazy ones
inside functions included, form a graph with no loop (issue 24: storage.py and
storage_postgres.py imported each other)."""

import ast
import os
import subprocess
import sys
from typing import Dict, List, Set

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_DIR = os.path.join(ROOT, "collector", "wire_preflight_collector")
PACKAGE = "wire_preflight_collector"


def module_names() -> Dict[str, str]:
    """Dotted module name -> file, for every module of the collector's package."""
    found = {}
    for directory, _, files in os.walk(PACKAGE_DIR):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            dotted = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[:-3].replace(os.sep, ".")
            found[dotted[: -len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
    return found


def imports_of(path: str, modules: Set[str]) -> Set[str]:
    """The package's modules that `path` imports, wherever in the file the import is."""
    targets = set()
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` names a module; `from module import name` does not.
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        targets.update(name for name in names if name in modules)
    return targets


def cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One cycle of the graph (its modules in order, the first repeated last), or []."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: List[str]) -> List[str]:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target, [*path, target])
                if found:
                    return found
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return []


def import_graph() -> Dict[str, Set[str]]:
    modules = module_names()
    graph = {}
    for name, path in modules.items():
        # A module importing its own package's __init__ (or a package its child) is no loop.
        graph[name] = {
            t for t in imports_of(path, set(modules)) if t != name and not name.startswith(t + ".")
        }
    return graph


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_the_graph_sees_the_store_package():
    graph = import_graph()
    assert "wire_preflight_collector.store.postgres" in graph
    assert "wire_preflight_collector.store.base" in graph["wire_preflight_collector.store.sqlite"]
    assert "wire_preflight_collector.store.postgres" in graph["wire_preflight_collector.store"]


def test_the_collector_has_no_import_cycle():
    assert cycle(import_graph()) == []


def test_every_module_imports_alone():
    """Each module first in a fresh interpreter: a cycle hidden from the graph (an import made
    by a name the graph does not see) fails here as an ImportError."""
    pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
    names = sorted(name for name in module_names() if not name.endswith("__main__"))
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('wire_preflight_collector')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *names],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
