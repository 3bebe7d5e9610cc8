"""The repository stays small and layered: no source file over 400 lines anywhere in it (the
service, the dev stack, the model build tooling, the benches, the tests), no import loop between
the service's packages, and each part beside the service importing only what lies below it, so
the runtime image, which ships `consumer/` only, has everything the service imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import consumer

PACKAGE = Path(consumer.__file__).parent
ROOT = PACKAGE.parent
MAX_LINES = 400
# Every folder of the repository that holds code, and what counts as code in it.
CODE_FOLDERS = ("consumer", "devstack", "triton_models", "bench", "tests", "scripts")
CODE_SUFFIXES = (".py", ".sh")
# What each part beside the service may import besides itself: the service is the bottom layer;
# the build tooling reads the service's model contract; the dev stack builds the models and
# runs the service. (Benches and tests may use every part.)
MAY_IMPORT = {
    "consumer": set(),
    "triton_models": {"consumer"},
    "devstack": {"consumer", "triton_models"},
}
# The service reaches the parts beside it only lazily, inside the one function that needs
# them, and says so in one line where they are absent (the runtime image).
LAZY_IMPORTS = {"triton_models": "cli/scan.py", "devstack": "cli/dev.py"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _code_files() -> list[Path]:
    return sorted(path for folder in CODE_FOLDERS for path in (ROOT / folder).rglob("*")
                  if path.suffix in CODE_SUFFIXES and "__pycache__" not in path.parts)


def test_the_line_rule_sees_every_part_of_the_repository() -> None:
    parts = {path.relative_to(ROOT).parts[0] for path in _code_files()}
    assert parts == set(CODE_FOLDERS)
    assert ROOT / "tests" / "unit" / "test_layout.py" in _code_files()


def test_no_source_file_in_the_repository_is_over_400_lines() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in _code_files()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def _unit(module: str) -> str | None:
    """consumer.pipeline.runner -> pipeline; consumer.settings -> settings."""
    parts = module.split(".")
    return parts[1] if parts[0] == "consumer" and len(parts) > 1 else None


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imported(path: Path) -> list[tuple[str, bool]]:
    """Every module `path` imports, and whether the import is lazy: inside a function or under
    `if TYPE_CHECKING:`, so importing `path` does not run it."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, lazy))
        if _type_checking(node):
            assert isinstance(node, ast.If)
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, lazy)
            return
        inner = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return found


def _imports() -> dict[str, set[str]]:
    """Which of the service's packages (or top-level modules) each one imports, including
    imports inside functions and under TYPE_CHECKING."""
    graph: dict[str, set[str]] = {}
    for path in _modules():
        rel = path.relative_to(PACKAGE).with_suffix("")
        if rel.parts[0] == "__init__":
            continue
        source = rel.parts[0]
        for name, _ in _imported(path):
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
    assert not (PACKAGE / "triton_models").exists()


def test_each_part_imports_only_the_parts_below_it() -> None:
    parts = set(CODE_FOLDERS)
    wrong: dict[str, list[str]] = {}
    for part, allowed in MAY_IMPORT.items():
        for path in sorted((ROOT / part).rglob("*.py")):
            for name, lazy in _imported(path):
                top = name.partition(".")[0]
                if top not in parts or top == part or top in allowed:
                    continue
                declared = part == "consumer" and \
                    LAZY_IMPORTS.get(top) == str(path.relative_to(PACKAGE))
                if not (declared and lazy):
                    wrong.setdefault(str(path.relative_to(ROOT)), []).append(name)
    assert wrong == {}


def test_the_lazy_imports_of_the_service_are_the_ones_it_declares() -> None:
    """Guards the rule above: the two lazy imports exist where declared, and only lazily."""
    for top, module in LAZY_IMPORTS.items():
        imports = [(n, lazy) for n, lazy in _imported(PACKAGE / module)
                   if n.partition(".")[0] == top]
        assert imports and all(lazy for _, lazy in imports), module
