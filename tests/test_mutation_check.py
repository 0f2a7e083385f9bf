"""CI runs the mutation check of the verdict rules: every listed one-line mistake must fail a test (issue 36)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_every_mutant_of_the_verdict_rules_fails_a_test():
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mutation_check.py")], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SURVIVED" not in run.stdout and "7 of 7 mutants killed" in run.stdout, run.stdout


def test_the_mutations_still_apply_to_the_code():
    """A mutation whose line was rewritten no longer tests anything: it must be updated with the code."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import mutation_check
    finally:
        sys.path.pop(0)
    _, source = mutation_check.verdicts_source()
    for mutation in mutation_check.MUTATIONS:
        assert mutation.apply(source) != source
    assert {"M1", "M2", "M3", "M4", "M5", "M6"} <= {m.key for m in mutation_check.MUTATIONS}
