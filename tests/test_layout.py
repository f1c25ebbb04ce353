"""The library's layout rules: small files, no import cycles (type-only imports included), no Dagster in pintel/."""

from __future__ import annotations

import ast
from pathlib import Path

PINTEL = Path(__file__).resolve().parents[1] / "pintel"
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(PINTEL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The pintel modules ``path`` imports, at any level of the file (functions and TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import module`` loads that module; ``from pkg import name`` loads the package
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for name in names:
            if name in modules:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PINTEL.rglob("*.py")}
    return {name: _imports(path, set(files)) - {name} for name, path in files.items()}


def test_no_file_in_the_library_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(PINTEL)): n
        for p in PINTEL.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_no_import_cycle_between_library_modules() -> None:
    """A package's ``__init__`` may import its modules; a module importing its own package's ``__init__`` back,
    or two modules importing each other (even only for typing), is a cycle."""
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep) :], node, dep] if dep in stack else [node, dep]))
            elif dep not in state:
                visit(dep, [*stack, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
    assert "pintel.simulate.engine" not in graph["pintel.simulate.truth"]  # truth is derived without the engine


def test_the_library_never_imports_dagster() -> None:
    offenders = [
        str(path.relative_to(PINTEL))
        for path in PINTEL.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            name.split(".")[0].startswith("dagster")
            for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
        )
    ]
    assert not offenders, f"pintel/ imports dagster in {offenders}"
