"""The architecture contracts of pyproject.toml ([tool.importlinter]), checked with import-linter.

An editable install maps plugins/ and tasks/ into the package with an import hook that
import-linter's scanner cannot see, so the check runs on a copy of the package laid
out as it is installed: rnnbench/ with plugins/, tasks/ and studies/ inside it.
"""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def installed_layout(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "rnnbench", tmp_path / "rnnbench", ignore=ignore)
    shutil.copytree(ROOT / "plugins", tmp_path / "rnnbench" / "plugins", ignore=ignore)
    shutil.copytree(ROOT / "tasks", tmp_path / "rnnbench" / "tasks", ignore=ignore)
    shutil.copytree(ROOT / "studies", tmp_path / "rnnbench" / "studies", ignore=ignore)
    return tmp_path


@pytest.mark.parametrize("config", ["pyproject.toml", "importlinter-plugins.toml"])
def test_import_contracts_hold(tmp_path, config):
    tree = installed_layout(tmp_path)
    command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]
    proc = subprocess.run([*command, "--config", str(ROOT / config), "--no-cache"],
                          cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_no_function_local_import_of_rnnbench_in_the_core():
    """An import inside a function must not be a way to dodge the layers or a cycle: the core imports
    rnnbench modules at the top of each file, unless the line says why not ("after faulthandler"; "deferred:
    fast start" in a command's handler, so that --help and list load neither pandas nor scipy)."""
    offenders = []
    for path in (ROOT / "rnnbench").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        tree, lines = ast.parse(text), text.splitlines()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("rnnbench") \
                            and "# after faulthandler" not in lines[inner.lineno - 1] \
                            and "# deferred: fast start" not in lines[inner.lineno - 1]:
                        offenders.append(f"{path.relative_to(ROOT)}:{inner.lineno} {inner.module}")
    assert not offenders, "function-local imports of rnnbench modules:\n" + "\n".join(offenders)


def test_every_core_module_is_named_in_architecture_md():
    """docs/architecture.md names each module of rnnbench/ by its path (its "Every module" table)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = [p.relative_to(ROOT / "rnnbench").as_posix() for p in (ROOT / "rnnbench").rglob("*.py")
               if p.name not in ("__init__.py", "__main__.py") and "__pycache__" not in p.parts]
    missing = sorted(m for m in modules if f"`{m}`" not in text)
    assert not missing, "modules docs/architecture.md does not name (add a row to 'Every module'): " + ", ".join(missing)
