"""A fast start: ``rnnbench --help`` and ``rnnbench list`` load neither scipy nor pandas.

scipy.stats and pandas cost most of the CPU of a bare start (issue 39: 49% and 15% of the import
time of ``--help``); the commands that need them (run, compare, history, report, export, study) import
them inside their handlers, and the study plugins that ``list`` loads reach scipy only when a claim
is evaluated.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import cli_env

HEAVY = ("scipy", "pandas")

# --help exits through SystemExit; list then runs in the same process, so the second answer includes the first's
_PROBE = """
import contextlib, io, json, sys
from rnnbench.cli import main
loaded = {}
for argv in (["--help"], ["list"]):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
    loaded[argv[0]] = sorted(m for m in %r if m in sys.modules)
print(json.dumps(loaded))
""" % (HEAVY,)


def test_help_and_list_import_neither_scipy_nor_pandas():
    proc = subprocess.run([sys.executable, "-c", _PROBE], env=cli_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == {"--help": [], "list": []}
