"""Rooms with one purpose, dependencies one way: static checks of the ``src`` tree.

Read from the source text (``ast``), nothing is imported:

- layers point one way: cli -> commands -> runner -> page -> export -> serving / plots -> decisioning / loop ->
  models (estimators only) -> features -> data, with the bottom modules (paths, fileio,
  layout, params, vocabulary) importable from anywhere and importing no layer above them;
- no import cycles between modules, and no function-level imports of project modules (the
  usual way a cycle is hidden);
- no private (underscore) names imported from another project module;
- no module-level mutable cache switched on as a side effect (``global`` statements);
- no source file over 600 lines unless its docstring says why it is one thing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 600

#: rank of each top-level package: a module may import only from its own rank or lower
RANKS = {
    "paths": 0, "fileio": 0, "moved": 0,
    "data": 1,
    "params": 2, "layout": 2, "vocabulary": 2,
    "features": 3,
    "models": 4,
    "decisioning": 5, "loop": 5,
    "serving": 6, "plots": 6,
    "export": 7,
    "page": 8,
    "runner": 9,
    "commands": 10,
    "cli": 11,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, list[str], bool, int]]:
    """(module imported, names, at module level?, line) for every ``src`` import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(n) for n in tree.body}
    for node in tree.body:  # imports under `if TYPE_CHECKING:` are for type hints only
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            top_level |= {id(n) for n in ast.walk(node)}
        if isinstance(node, ast.Try):
            top_level |= {id(n) for n in node.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("src"):
            out.append((node.module, [a.name for a in node.names], id(node) in top_level,
                        node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("src"):
                    out.append((a.name, [], id(node) in top_level, node.lineno))
    return out


def _package(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else module


def _resolve(module: str, name: str) -> str:
    """``from src.models import churn`` imports the module src.models.churn."""
    sub = f"{module}.{name}"
    return sub if sub in MODULES else module


def test_layers_point_one_way():
    wrong = []
    for mod, path in MODULES.items():
        if mod == "src":
            continue
        rank = RANKS[_package(mod)]
        for target, names, _, line in _imports(path):
            for t in {_resolve(target, n) for n in names} or {target}:
                if t == "src":
                    continue
                if RANKS[_package(t)] > rank:
                    wrong.append(f"{path.relative_to(SRC.parent)}:{line} imports {t}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_function_level_project_imports():
    # the CLI is the top of the stack (nothing imports it): its lazy per-command imports keep
    # `crm --help` fast and cannot hide a cycle
    hidden = [f"{path.relative_to(SRC.parent)}:{line} imports {target} inside a function"
              for mod, path in MODULES.items() if mod != "src.cli"
              for target, _, top, line in _imports(path) if not top]
    assert not hidden, "\n".join(hidden)


def test_no_import_cycles():
    graph = {mod: {t for target, names, _, _ in _imports(path)
                   for t in ({_resolve(target, n) for n in names} or {target})
                   if t in MODULES and t != mod and not mod.startswith(t + ".")}
             for mod, path in MODULES.items()}
    # a package __init__ re-exporting its submodules is not a cycle with them
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if m.startswith(n + ".") or n.startswith(m + "."):
                continue
            if state.get(n) == 1:
                cycles.append(" -> ".join(stack[stack.index(n):] + [n]))
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_private_names_across_modules():
    leaks = [f"{path.relative_to(SRC.parent)}:{line} imports {n} from {target}"
             for mod, path in MODULES.items()
             for target, names, _, line in _imports(path)
             for n in names if n.startswith("_") and target != mod]
    assert not leaks, "\n".join(leaks)


def test_no_module_level_state_switched_by_functions():
    found = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Global):
                found.append(f"{path.relative_to(SRC.parent)}:{node.lineno} global {node.names}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small_or_say_why(module):
    path = MODULES[module]
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    if lines <= MAX_LINES:
        return
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert "one coherent" in doc.lower() or "one thing" in doc.lower(), (
        f"{path.relative_to(SRC.parent)} has {lines} lines: split it by responsibility, or say "
        "in its docstring why it is one coherent thing")
