"""No import cycle among the agent's modules, counting the imports written inside functions:
a cycle hidden by a function-local import (checks -> profiles -> checks, as issue 24 found)
still works at run time, until someone moves the import to the top, so only the written
graph can prove there is none. Walks every module's source with ast; nothing is imported.

An edge A -> B is written when A imports B (`import B`, `from B import name`, or
`from P import B` where P.B is a module). A package is not counted as importing its own
submodules through Python's machinery, only where its source names them.
"""

import ast
import os
from typing import Dict, List, Set

import wire_preflight

AGENT = os.path.dirname(wire_preflight.__file__)
PACKAGE = "wire_preflight"


def agent_modules() -> Dict[str, str]:
    """module name -> source file, for every module of the agent."""
    found = {}
    for folder, _dirs, names in os.walk(AGENT):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, os.path.dirname(AGENT))[: -len(".py")]
            module = rel.replace(os.sep, ".")
            if module.endswith(".__init__"):
                module = module[: -len(".__init__")]
            found[module] = path
    return found


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def imports_of(module: str, path: str, modules: Dict[str, str]) -> Set[str]:
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    out = set()
    for node in ast.walk(tree):  # every import, at the top or inside a function
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, path.endswith("__init__.py"), node)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                out.add(submodule if submodule in modules else base)
    return {name for name in out if name in modules and name != module}


def import_graph() -> Dict[str, Set[str]]:
    modules = agent_modules()
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index = {}  # type: Dict[str, int]
    low = {}  # type: Dict[str, int]
    stack = []  # type: List[str]
    on_stack = set()  # type: Set[str]
    found = []  # type: List[List[str]]

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_agent_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_walk_sees_function_local_imports_and_finds_a_cycle(tmp_path):
    """The test above can fail: a cycle closed only by an import inside a function is found."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("def late():\n    from pkg.a import thing\n")
    (package / "c.py").write_text("import pkg.a\n")
    modules = {f"pkg.{name}": str(package / f"{name}.py") for name in ("a", "b", "c")}
    graph = {module: imports_of(module, path, modules) for module, path in modules.items()}
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg.a"}}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


def test_the_registry_imports_nothing_of_the_agent():
    """profiles/ validates host requirements against it and checks/ runs it: it must stay
    below both."""
    graph = import_graph()
    assert graph[f"{PACKAGE}.registry"] == set()
    assert f"{PACKAGE}.checks" not in graph[f"{PACKAGE}.profiles"]


def test_checks_and_the_pure_network_logic_reach_no_facts_module():
    """Checks are pure functions of the facts: neither they nor the network-configuration
    logic they share with facts/ may import (even transitively) a module that reads files."""
    graph = import_graph()
    pure = [m for m in graph if m.startswith(f"{PACKAGE}.checks")]
    pure += [f"{PACKAGE}.netmatch", f"{PACKAGE}.netresolve", f"{PACKAGE}.registry"]
    for module in pure:
        reached, todo = set(), [module]
        while todo:
            for other in graph[todo.pop()] - reached:
                reached.add(other)
                todo.append(other)
        assert not [m for m in reached if m.startswith(f"{PACKAGE}.facts")], module
