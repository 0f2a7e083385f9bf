"""How much a sweep slows down when other processes compete for the cores.

    python benchmarks/contention.py [--busy 6] [--limit 300] [--env OMP_WAIT_POLICY=PASSIVE]
                                    -- rnnbench run --models lstm,gru --steps 300 --hidden 64 \
                                       --seq-len 10 --min-time 0.3 --no-progress --out /tmp/contention

Starts ``--busy`` processes that spin in a pure-Python loop (each one a whole core's worth of
demand, as a compiler or another benchmark would be), runs the command, and prints its wall
time beside the machine's load average before and after. Every busy loop ends by itself after
``--limit`` seconds and is killed when the command ends, so nothing outlives the measurement;
the command itself is killed at ``--limit`` too (the figure then says "> limit").

Use ``--busy 0`` for the idle figure, on the same machine, right before or after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

#: a busy loop that stops by itself at a deadline, so a crashed parent leaves nothing behind
_SPIN = "import time, sys\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"


def start_busy(count: int, limit: float) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", _SPIN, str(limit)]) for _ in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", type=int, default=6, help="busy-looping processes to start (default: 6)")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds before everything is stopped")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds the busy loops run before the command")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment variable for the command (repeatable)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to time, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to time after --")
    env = dict(os.environ)
    for pair in args.env:
        key, _, value = pair.partition("=")
        env[key] = value
    print(f"before: {load_line()}", flush=True)
    busy = start_busy(args.busy, args.limit + args.settle)
    try:
        time.sleep(args.settle if args.busy else 0.0)
        start = time.perf_counter()
        try:
            done = subprocess.run(command, env=env, timeout=args.limit, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            figure = f"{wall:.1f} s" + ("" if done.returncode == 0 else f" (exit code {done.returncode})")
        except subprocess.TimeoutExpired:
            figure = f"> {args.limit:.0f} s (stopped at the limit)"
    finally:
        for proc in busy:
            proc.kill()
        for proc in busy:
            proc.wait()
    settings = " ".join(args.env) or "no extra environment"
    print(f"wall time {figure} with {args.busy} busy-looping process(es); {settings}"
          " (time.perf_counter around the whole command)")
    print(f"after: {load_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
