"""The service package stays small and layered: no module over 400 lines, no import loop
between its packages, and the dev stack outside it (the runtime image ships `consumer/` only).
"""

from __future__ import annotations

import ast
from pathlib import Path

import consumer

PACKAGE = Path(consumer.__file__).parent
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_of_the_service_is_over_400_lines() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in _modules()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def _unit(module: str) -> str | None:
    """consumer.pipeline.runner -> pipeline; consumer.settings -> settings."""
    parts = module.split(".")
    return parts[1] if parts[0] == "consumer" and len(parts) > 1 else None


def _imports() -> dict[str, set[str]]:
    """Which of the service's packages (or top-level modules) each one imports, including
    imports inside functions and under TYPE_CHECKING."""
    graph: dict[str, set[str]] = {}
    for path in _modules():
        rel = path.relative_to(PACKAGE).with_suffix("")
        if rel.parts[0] == "__init__":
            continue
        source = rel.parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for name in names:
                target = _unit(name)
                if target is not None and target != source:
                    graph.setdefault(source, set()).add(target)
    return graph


def test_the_service_packages_import_each_other_without_a_loop() -> None:
    graph = _imports()
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                raise AssertionError(f"import loop: {' -> '.join([*path, node, nxt])}")
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert "observability" not in graph.get("pipeline", set()), "the spine reports via hooks"
    assert "wiring" not in {t for targets in graph.values() for t in targets} - \
        set(graph.get("cli", set())), "only the command line uses the composition root"


def test_the_dev_stack_is_not_part_of_the_service_package() -> None:
    assert not (PACKAGE / "devstack").exists()
    for path in _modules():
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.startswith("devstack"):
                assert path.name == "dev.py", f"{path} imports the dev stack"
