"""No import circles in digest/ and flows/, counting imports inside functions too (they only hide a circle)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def modules(root: Path) -> dict[str, Path]:
    """Map each module name under digest/ and flows/ to its file."""
    found = {}
    for package in ("digest", "flows"):
        for path in (root / package).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module's imports of other project modules: every `import` and `from ... import`, at any depth.

    `from a import b` names the submodule a.b when there is one, else the module a. A submodule's
    implicit import of its parent package is not counted (every submodule would circle with it).
    """
    mods = modules(root)
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in mods)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target in mods:
                        graph[name].add(target)
                    elif base in mods:
                        graph[name].add(base)
        graph[name].discard(name)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_inside_functions(tmp_path: Path) -> None:
    (tmp_path / "digest" / "sub").mkdir(parents=True)
    (tmp_path / "flows").mkdir()
    (tmp_path / "digest" / "__init__.py").write_text("")
    (tmp_path / "digest" / "sub" / "__init__.py").write_text("")
    (tmp_path / "digest" / "sub" / "a.py").write_text("from digest.sub import b\n")
    (tmp_path / "digest" / "sub" / "b.py").write_text("def f():\n    from . import a\n")
    (tmp_path / "digest" / "c.py").write_text("from digest.sub.a import thing\n")
    assert circles(import_graph(tmp_path)) == [["digest.sub.a", "digest.sub.b"]]


def test_no_import_circles_in_digest() -> None:
    found = [group for group in circles(import_graph(ROOT)) if any(m.startswith("digest.") for m in group)]
    assert found == []


def test_the_leaves_are_packages_without_circles() -> None:
    graph = import_graph(ROOT)
    for package in ("digest.ingest", "digest.cli", "digest.clean"):
        assert package in graph
    assert "digest.cli.sources" not in graph["digest.cli.common"]
    assert not {m for m in graph["digest.clean.model"] if m.startswith("digest.clean.") and m != "digest.clean.picks"} - {
        "digest.clean.features"
    }
