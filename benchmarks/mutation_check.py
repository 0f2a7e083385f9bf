"""Mutation check of the verdict rules: each one-line mistake in rnnbench/analysis/verdicts.py must fail a test.

Issue 36 found six one-line mutations that changed real verdicts and passed every test.
This script applies each (and any added to :data:`MUTATIONS`) to the module's source, runs the
verdict tests against the mutant in a fresh interpreter, and reports which tests failed. It
exits 1 when a mutant survives (every test passes), 2 when a mutation no longer applies
(its line changed: update the mutation with the code), 0 when every mutant is killed.

How a mutant is loaded: the child process imports ``rnnbench.analysis.verdicts``, executes the
mutated source in that module's own namespace (so every function, and every study module
imported afterwards, uses the mutant), then runs pytest in-process. Nothing on disk changes.

    python benchmarks/mutation_check.py                      # every mutation, tests/test_verdict_rules.py
    python benchmarks/mutation_check.py --tests tests/test_verdict_rules.py tests/test_verdict_statistics.py
    python benchmarks/mutation_check.py --only M2 M6

CI runs it through tests/test_mutation_check.py (marked slow).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TESTS = ("tests/test_verdict_rules.py",)


@dataclass(frozen=True)
class Mutation:
    key: str
    what: str
    old: str
    new: str

    def apply(self, source: str) -> str:
        if source.count(self.old) != 1:
            raise LookupError(f"{self.key}: the line to mutate occurs {source.count(self.old)} times, not once:"
                              f" {self.old!r}")
        return source.replace(self.old, self.new)


MUTATIONS = (
    Mutation("M1", "by_group decides a group at alpha instead of alpha / G",
             "p.test.verdict(alpha / len(names))", "p.test.verdict(alpha)"),
    Mutation("M2", "one-sided t quantiles (every interval 90%)",
             "special.stdtrit(df, 1 - np.asarray(alpha, float) / 2)", "special.stdtrit(df, 1 - np.asarray(alpha, float))"),
    Mutation("M3", "one_sample's standard deviation with ddof 0",
             "x.std(axis=-1, ddof=1)", "x.std(axis=-1, ddof=0)"),
    Mutation("M4", "Holm removed in corrected (every part at alpha)",
             "    decided, level = holm(p, alpha)\n", "    decided, level = p <= alpha, np.full_like(p, alpha)\n"),
    Mutation("M5", "by_group's parts decided uncorrected",
             "else holm_decided[start:start + n]",
             "else [p.test.verdict(alpha) if p.test is not None else p for p in groups[name]]"),
    Mutation("M6", "pooled df na + nb - 2 in welch",
             "df = var ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))", "df = np.full_like(var, na + nb - 2.0)"),
    Mutation("M7", "a part without spread across seeds not sent to the exact test",
             "if discrete or not float(se) > 0:\n        exact_p, splits", "if discrete:\n        exact_p, splits"),
)


def verdicts_source() -> tuple[Path, str]:
    path = ROOT / "rnnbench" / "analysis" / "verdicts.py"
    return path, path.read_text()


def run_mutant(key: str, pytest_args: list[str]) -> int:
    """In the child: load the mutant into rnnbench.analysis.verdicts, then run pytest on it."""
    import pytest

    import rnnbench.analysis.verdicts as module

    mutation = next(m for m in MUTATIONS if m.key == key)
    source = Path(module.__file__).read_text()
    exec(compile(mutation.apply(source), module.__file__, "exec"), module.__dict__)  # noqa: S102 - the point
    return int(pytest.main(pytest_args))


FAILED = re.compile(r"^FAILED (.+?)(?: - .*)?$", re.M)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", nargs="+", default=list(DEFAULT_TESTS), help="test files run against each mutant")
    parser.add_argument("--only", nargs="+", default=None, help="mutation keys (default: all)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.child:
        return run_mutant(args.child, rest)

    chosen = [m for m in MUTATIONS if args.only is None or m.key in args.only]
    unknown = set(args.only or ()) - {m.key for m in MUTATIONS}
    if unknown:
        print(f"unknown mutation(s): {', '.join(sorted(unknown))}; known: {', '.join(m.key for m in MUTATIONS)}")
        return 2
    _, source = verdicts_source()
    for m in chosen:
        try:
            m.apply(source)
        except LookupError as err:
            print(f"cannot apply: {err}")
            return 2
    pytest_args = [*args.tests, "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                   "-m", "not slow", "-rf", "--no-header"]
    survivors = []
    for m in chosen:
        child = subprocess.run([sys.executable, __file__, "--child", m.key, *pytest_args], cwd=ROOT,
                               capture_output=True, text=True)
        failed = FAILED.findall(child.stdout)
        if child.returncode == 0:
            survivors.append(m.key)
            print(f"{m.key} SURVIVED ({m.what}): every test passed")
        elif child.returncode == 1 and failed:
            print(f"{m.key} killed ({m.what}): {len(failed)} test(s) failed: {', '.join(failed)}")
        else:
            print(f"{m.key} ERROR ({m.what}): pytest exited {child.returncode}\n{child.stdout[-2000:]}{child.stderr[-2000:]}")
            survivors.append(m.key)
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} mutants killed"
          + (f"; surviving or broken: {', '.join(survivors)}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
