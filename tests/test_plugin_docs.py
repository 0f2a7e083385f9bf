"""Issue 40: docs/plugins.md's example package, written out file by file from its code blocks, imports as
its section 1 lays it out and passes its own section 6 tests."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).parents[1] / "docs" / "plugins.md"
#: a fenced Python block whose first line names the file it is: ``# src/rnnbench_mymodel/model.py``
FILE_BLOCK = re.compile(r"```python\n# ((?:src|tests)/[\w/]+\.py)\n(.*?)```", re.S)


def package_files() -> dict[str, str]:
    return {path: code for path, code in FILE_BLOCK.findall(DOC.read_text(encoding="utf-8"))}


def test_the_docs_give_every_file_of_the_layout():
    files = package_files()
    assert set(files) == {"src/rnnbench_mymodel/plugin.py", "src/rnnbench_mymodel/model.py",
                          "src/rnnbench_mymodel/task.py", "tests/test_plugin.py"}
    layout = DOC.read_text(encoding="utf-8").split("## 1.")[1].split("```")[1]
    for path in files:  # the layout's tree names each file the blocks are
        assert Path(path).name in layout, path
    # every rnnbench_mymodel module a block imports is one of the blocks
    for code in files.values():
        for module in re.findall(r"from (rnnbench_mymodel\.\w+) import", code):
            assert f"src/{module.replace('.', '/')}.py" in files, module


@pytest.mark.slow
def test_the_example_package_of_the_docs_passes_its_own_tests(tmp_path):
    for path, code in package_files().items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code, encoding="utf-8")
    (tmp_path / "src" / "rnnbench_mymodel" / "__init__.py").write_text("", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
                           str(tmp_path / "tests" / "test_plugin.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "5 passed" in proc.stdout
