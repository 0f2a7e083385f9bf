"""How often `rnnbench compare` raises a false alarm on A/A pairs, and how often it catches a real slowdown.

    python benchmarks/ci_noise.py --pairs 20                  # idle, then with 4 busy loops (the default)
    python benchmarks/ci_noise.py --pairs 20 --busy 0         # one condition
    python benchmarks/ci_noise.py --pairs 20 --rnnbench-python OLD/.venv/bin/python   # today's rates

Per condition (``--busy K``: K processes spinning on the CPU, started and stopped here)
and per pair, it runs in interleaved rounds (``--rounds``, the recipe of docs/ci.md): a
BASE run, an A/A run of the same code (SAME), and a run whose ``paced@test`` model
(tests/testplugins/paced.py) is slowed by a real, fixed ``--slowdown`` (its forward sleeps
that much longer: RNNBENCH_TEST_SLOWDOWN), each a fresh ``rnnbench run`` process, as a CI
job runs them. Then, with compare's exit code (1 = regression):

* recipe: ``compare B1,..,Bk S1,..,Sk`` (a false alarm when it exits 1) and
  ``compare B1,..,Bk X1,..,Xk`` (a detection when it exits 1);
* one run a side: ``compare B1 S1`` and ``compare B1 X1``, from the same runs. Such a
  comparison needs this machine's A/A history (docs/ci.md, "One run a side"): it reads it
  from the pair's other BASE and SAME runs (B2.., S2..: unchanged code, one clean commit of
  a scratch git checkout the runs are made in). The slowed runs are stored apart (the
  slowdown is an environment variable, not a commit), so they are never taken for A/A runs.

It prints, per condition and rule, the false-alarm rate, the detection rate and the wall
time of one CI comparison (the runs BASE and NEW need, plus compare), median over pairs.
Exit status: 0 when the recipe meets the targets of issue 22 (A/A false alarms at most 1 in
20 in every condition, the slowdown detected in at least 18 of 20 pairs on the idle
machine, the comparison under 5 minutes), 1 otherwise, 2 on a usage error or a run that fails.

``--rnnbench-python`` runs runs and compares with another interpreter, for instance the
virtual environment of a worktree of an older commit (``git worktree add /tmp/old 274cb8d``,
then a venv with ``pip install -e /tmp/old``): its rnnbench, this checkout's test plugin.
Timings on a shared machine are not figures: run it on a quiet one.

Duration: each run is a fresh process (about 3 s on a quiet 2-core machine, most of it
importing torch), and a pair takes 3 x ``--rounds`` runs and four compares: ``--pairs 20`` of
one condition with 3 rounds took 22 minutes idle on a 2-core AMD EPYC, and about an hour with
4 busy loops (each run then shares the cores with them).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
#: the targets of issue 22, for the recipe
MAX_FALSE_ALARM_RATE = 1 / 20
MIN_DETECTION_RATE_IDLE = 18 / 20
MAX_COMPARISON_S = 300.0


@dataclass
class Tally:
    false_alarms: int = 0
    detections: int = 0
    pairs: int = 0
    wall_s: list[float] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)  # compare's summary of each false alarm
    misses: list[str] = field(default_factory=list)  # and of each slowdown it did not catch

    def rate(self, count: int) -> str:
        return f"{count}/{self.pairs} ({count / self.pairs:.0%})" if self.pairs else "-"


def sweep_args(args: argparse.Namespace) -> list[str]:
    return ["-p", "testplugins.paced", "--models", args.models, "--tasks", "copy", "--scenarios", "forward",
            "--hidden", "32", "--batch-size", "8", "--seq-len", "16", "--min-time", str(args.min_time),
            "--threads", "1", "--no-progress"]


def environment(slowdown: float) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    env["RNNBENCH_TEST_SLOWDOWN"] = str(slowdown)
    env.setdefault("COLUMNS", "200")
    return env


def newest_run(out: Path) -> str:
    with sqlite3.connect(out / "rnnbench.db") as db:
        return db.execute("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()[0]


def clean_checkout(path: Path) -> Path:
    """A git repository with one commit and no changes: runs made in it record one clean commit,
    whatever the state of this checkout (runs of a dirty tree or outside git are no A/A history)."""
    path.mkdir(parents=True, exist_ok=True)
    git = ["git", "-C", str(path), "-c", "user.name=ci_noise", "-c", "user.email=ci_noise@localhost"]
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "A/A"], check=True)
    return path


def run_once(args: argparse.Namespace, out: Path, slowdown: float, checkout: Path) -> tuple[str, float]:
    """One ``rnnbench run`` in a fresh process: its run (the run folder, which names it from any
    ``--out``) and its wall time."""
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([args.rnnbench_python, "-m", "rnnbench", "run", "--out", str(out), *sweep_args(args)],
                          cwd=checkout, env=environment(slowdown), capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"ci_noise: rnnbench run failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")
    return str(out / newest_run(out)), time.perf_counter() - start


def compare(args: argparse.Namespace, out: Path, base: list[str], new: list[str]) -> tuple[int, str, float]:
    """compare's exit code, its summary line, and its wall time."""
    start = time.perf_counter()
    proc = subprocess.run([args.rnnbench_python, "-m", "rnnbench", "compare", "--out", str(out), ",".join(base),
                           ",".join(new), "--format", "json", *args.compare_args.split()],
                          env=environment(0.0), capture_output=True, text=True, timeout=600)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"ci_noise: rnnbench compare failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")
    return proc.returncode, json.loads(proc.stdout)["summary"], time.perf_counter() - start


def busy_loops(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        p.terminate()
    for p in processes:
        p.wait(timeout=30)


def one_condition(args: argparse.Namespace, busy: int, work: Path) -> dict[str, Tally]:
    tallies = {"recipe": Tally(), "single": Tally()}
    print(f"ci_noise: {busy} busy loop(s); 1-minute load average before they start: {os.getloadavg()[0]:.2f}"
          " (0 loops is the idle condition only on a machine that is otherwise quiet)", file=sys.stderr)
    checkout = clean_checkout(work / "checkout")
    loops = busy_loops(busy)
    started = time.perf_counter()
    try:
        time.sleep(1.0 if busy else 0.0)  # let the loops take their CPUs before the first run
        for pair in range(args.pairs):
            out = work / f"busy{busy}" / f"pair{pair:02d}"
            out.mkdir(parents=True, exist_ok=True)
            runs: dict[str, list[tuple[str, float]]] = {"base": [], "same": [], "slow": []}
            for _ in range(args.rounds):  # interleaved: BASE, SAME, SLOW, BASE, SAME, SLOW, ...
                for side, slowdown in (("base", 0.0), ("same", 0.0), ("slow", args.slowdown)):
                    # the slowed runs in a store of their own: never read as A/A history
                    runs[side].append(run_once(args, out / "slowed" if side == "slow" else out, slowdown, checkout))
            ids = {side: [run_id for run_id, _ in r] for side, r in runs.items()}
            for rule, take in (("recipe", args.rounds), ("single", 1)):
                code_aa, summary_aa, wall_aa = compare(args, out, ids["base"][:take], ids["same"][:take])
                code_slow, summary_slow, _ = compare(args, out, ids["base"][:take], ids["slow"][:take])
                tally = tallies[rule]
                tally.pairs += 1
                tally.false_alarms += code_aa == 1
                tally.detections += code_slow == 1
                if code_aa == 1:
                    tally.alarms.append(summary_aa)
                if code_slow != 1:
                    tally.misses.append(summary_slow)
                tally.wall_s.append(sum(dt for side in ("base", "same") for _, dt in runs[side][:take]) + wall_aa)
            spent = time.perf_counter() - started
            recipe = tallies["recipe"]
            print(f"ci_noise: busy {busy}, pair {pair + 1}/{args.pairs}: recipe false alarms {recipe.false_alarms},"
                  f" detections {recipe.detections}; about {spent / (pair + 1) * (args.pairs - pair - 1) / 60:.1f}"
                  " min left in this condition", file=sys.stderr)
    finally:
        stop(loops)
    return tallies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=20, help="pairs per condition (default: %(default)s)")
    parser.add_argument("--busy", default="0,4", help="comma list of busy-loop counts, one condition each"
                                                      " (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="runs a side in the recipe (default: %(default)s)")
    parser.add_argument("--slowdown", type=float, default=0.2, help="NEW's real slowdown of paced@test's forward"
                                                                    " (default: %(default)s)")
    parser.add_argument("--min-time", type=float, default=0.15, help="rnnbench run --min-time (default: %(default)s)")
    parser.add_argument("--models", default="paced@test,lstm",
                        help="the sweep's models; paced@test is the one slowed (default: %(default)s)")
    parser.add_argument("--rnnbench-python", default=sys.executable,
                        help="the interpreter whose rnnbench runs and compares (default: this one)")
    parser.add_argument("--compare-args", default="", help="extra rnnbench compare flags, e.g. '--strict'")
    parser.add_argument("--work", help="scratch folder for the runs (default: a temporary one, removed)")
    args = parser.parse_args(argv)
    try:
        conditions = [int(x) for x in args.busy.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--busy: '{args.busy}' is not a comma list of counts")
    if args.pairs < 1 or args.rounds < 2 or not conditions or min(conditions) < 0:
        parser.error("--pairs must be at least 1, --rounds at least 2, --busy counts not negative")
    if "paced@test" not in args.models.split(","):
        parser.error("--models must include paced@test: it is the model NEW slows down")

    with tempfile.TemporaryDirectory(prefix="ci_noise-") as scratch:
        work = Path(args.work or scratch)
        results = {busy: one_condition(args, busy, work) for busy in conditions}

    print(f"rnnbench compare on A/A pairs and on pairs where NEW's paced@test forward is {args.slowdown:.0%} slower"
          f" (models {args.models}, --min-time {args.min_time}, --threads 1, {args.rnnbench_python})")
    print(f"{'condition':<14} {'rule':<22} {'A/A false alarms':>18} {'slowdown detected':>18} {'wall per comparison':>20}")
    ok = True
    for busy, tallies in results.items():
        for rule, tally in tallies.items():
            label = f"recipe: {args.rounds} rounds" if rule == "recipe" else "one run a side"
            wall = statistics.median(tally.wall_s)
            print(f"{f'{busy} busy loops':<14} {label:<22}"
                  f" {tally.rate(tally.false_alarms):>18} {tally.rate(tally.detections):>18} {wall:>18.0f} s")
            for summary in tally.alarms:
                print(f"    false alarm: {summary}")
            for summary in tally.misses[:3]:
                print(f"    missed slowdown: {summary}")
            if rule == "recipe":
                ok &= tally.false_alarms <= MAX_FALSE_ALARM_RATE * tally.pairs
                ok &= wall < MAX_COMPARISON_S
                if busy == 0:
                    ok &= tally.detections >= MIN_DETECTION_RATE_IDLE * tally.pairs
    print("wall per comparison: the runs of BASE and NEW one comparison needs plus compare, median over pairs;"
          " a false alarm is compare exiting 1 on an A/A pair, a detection compare exiting 1 on a slowed pair.")
    print("targets (issue 22, recipe): A/A false alarms <= 1/20 in every condition, detection >= 18/20 idle,"
          f" comparison < 5 min: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
