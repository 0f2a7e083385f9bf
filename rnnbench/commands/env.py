"""``rnnbench env``: the environment record a run would store."""

from __future__ import annotations

import argparse
import json
import os

from rnnbench.commands.common import load_plugins
from rnnbench.execution.environment import collect_environment
from rnnbench.execution.load import sample_machine
from rnnbench.execution.thread_policy import choose_threading


def add_parser(sub, add_common) -> None:
    parser = sub.add_parser("env", help="print the environment record a run would store")
    add_common(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # what a run started now would choose, sampled before the plugins import torch (as run does)
    threading = choose_threading(None, sample_machine())
    registry = load_plugins(args.plugins)
    env = collect_environment(os.cpu_count() or 1)
    # the cap is no count a case runs with: say what automatic threads would pick now, and why
    env["threads_now"] = {"threads": threading.threads, "reason": threading.reason,
                          "note": "each case then chooses its own count where it runs (docs/robustness.md)"}
    env["plugins"] = registry.plugin_versions()
    registry.notify("rnnbench_environment", env=env)
    print(json.dumps(env, indent=2, default=str))
    return 0
