"""No function in rnnbench/ is over 60 lines (issue 39 item 5): a long function gathers every new option
and stops having one concern; split it into named helpers instead of raising the limit."""

from __future__ import annotations

import ast
from pathlib import Path

import rnnbench

#: the most lines a function (methods and nested functions included, decorators excluded) may span
MAX_LINES = 60


def long_functions(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``path:line name (N lines)`` for every function under ``root`` spanning more than ``limit`` lines,
    named with its enclosing classes and functions (``Store.load.read``)."""
    found = []

    def visit(node: ast.AST, path: Path, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = child.end_lineno - child.lineno + 1
                if lines > limit:
                    found.append(f"{path}:{child.lineno} {prefix}{child.name} ({lines} lines)")
                visit(child, path, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, path, f"{prefix}{child.name}.")
            else:
                visit(child, path, prefix)

    for path in sorted(root.rglob("*.py")):
        visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), path.relative_to(root.parent), "")
    return found


def test_no_function_in_rnnbench_is_over_60_lines():
    found = long_functions(Path(rnnbench.__file__).parent)
    assert not found, f"functions over {MAX_LINES} lines (split them into helpers):\n" + "\n".join(found)


def test_the_check_sees_methods_and_nested_functions(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    body = "\n".join("    x = 1" for _ in range(60))
    (package / "m.py").write_text(
        f"def short():\n    pass\n\n\ndef long():\n{body}\n\n\n"
        f"class C:\n    @staticmethod\n    def method():\n    {body.replace(chr(10), chr(10) + '    ')}\n\n\n"
        f"def outer():\n    def inner():\n    {body.replace(chr(10), chr(10) + '    ')}\n    return inner\n")
    found = long_functions(package)
    assert [f.split(" ")[1] for f in found] == ["long", "C.method", "outer", "outer.inner"]
    assert all(f.startswith("pkg/m.py:") for f in found)
    assert "(61 lines)" in found[0]  # the def line and 60 body lines; 60 lines in all would pass
