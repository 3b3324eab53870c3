"""No function in ``playbook/`` is over 80 lines (the project's guide): a function that long does several jobs
and nobody can change it safely. Counted on the source with ``ast``, from its first decorator (or ``def``) to
its last line, nested functions included in the one that holds them."""

from __future__ import annotations

import ast
from pathlib import Path
from textwrap import indent

ROOT = Path(__file__).resolve().parents[1] / "playbook"
MAX_LINES = 80


def long_functions(source: str, limit: int = MAX_LINES) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length) of every function or method longer than ``limit`` lines."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                    length = child.end_lineno - first + 1
                    if length > limit:
                        found.append((name, first, length))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def test_the_count_sees_functions_methods_and_nested_functions():
    body = "".join(f"x{i} = {i}\n" for i in range(79))  # def + 79 lines = 80: allowed
    source = "\n".join([
        "def ok():", indent(body, " " * 4),
        "@staticmethod", "def long_by_its_decorator():", indent(body, " " * 4),
        "class C:", "    async def method(self):", indent(body + "y = 1\n", " " * 8),
        "def outer():", "    def inner():", indent(body, " " * 8),  # inner: 80 lines, outer: 81
    ])
    assert [(name, length) for name, _, length in long_functions(source)] == [
        ("long_by_its_decorator", 81), ("C.method", 81), ("outer", 81)]


def test_no_function_in_playbook_is_over_80_lines():
    offenders = [f"{path.relative_to(ROOT.parent)}:{line} {name} ({length} lines)"
                 for path in sorted(ROOT.rglob("*.py"))
                 for name, line, length in long_functions(path.read_text())]
    assert not offenders, f"split these into functions of at most {MAX_LINES} lines: {offenders}"
