"""The shape of the code: the import rules of the design, checked on the source.

Every import counts, at module level or inside a function: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [ROOT / "seqkit"] + sorted(p for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in package.rglob("*.py"):
            parts = path.relative_to(package.parent).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """The project modules `path` imports (the longest known prefix of each imported name)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for imported in names:
            while imported and imported not in known:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
    return targets


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, name, known) for name, path in known.items()}


def test_no_import_cycles(graph):
    # a package's __init__ is the package's own front door, not a cycle with its members
    def edges(name):
        return {t for t in graph[name] if not (t == name.rpartition(".")[0] or name == t.rpartition(".")[0])}

    state: dict[str, int] = {}
    cycles = []

    def visit(name, trail):
        state[name] = 1
        for target in sorted(edges(name)):
            if state.get(target) == 1:
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_core_never_imports_a_plugin(graph):
    assert {(m, t) for m, ts in graph.items() if m.startswith("seqkit") and not m.startswith("seqkit_")
            for t in ts if t.startswith("seqkit_")} == set()


def test_plugins_use_the_public_core_and_not_each_other(graph):
    bad = set()
    for module, targets in graph.items():
        plugin = module.split(".")[0]
        if not plugin.startswith("seqkit_"):
            continue
        for target in targets:
            top = target.split(".")[0]
            if top.startswith("seqkit_") and top != plugin:
                bad.add((module, target))
            if top == "seqkit" and any(part.startswith("_") for part in target.split(".")[1:]):
                bad.add((module, target))
    assert bad == set()


def test_modules_stay_small_or_say_why():
    long = []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        reason = "longer than" in (ast.get_docstring(ast.parse(text)) or "").lower()  # "... is longer than ..."
        if text.count("\n") > MAX_LINES and not reason:
            long.append((name, text.count("\n")))
    assert long == []
