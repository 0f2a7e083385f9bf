"""``rnnbench env``: the environment record a run would store."""

from __future__ import annotations

import argparse
import json
import os

from rnnbench.commands.common import load_plugins
from rnnbench.execution.environment import collect_environment


def add_parser(sub, add_common) -> None:
    parser = sub.add_parser("env", help="print the environment record a run would store")
    add_common(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    registry = load_plugins(args.plugins)
    env = collect_environment(os.cpu_count() or 1)
    env["plugins"] = registry.plugin_versions()
    registry.notify("rnnbench_environment", env=env)
    print(json.dumps(env, indent=2, default=str))
    return 0
