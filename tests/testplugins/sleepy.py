"""A tiny model whose cases take a while, so a test can kill a worker in the middle of one.

When RNNBENCH_TEST_MARKERS names a folder, each case drops a file ``<pid>-<seed>``
there as it starts, so the test knows which process is running which case. The first
case of a process sleeps long enough for a test to act on its marker even on a loaded
machine; later cases sleep briefly, so sweeps stay fast.
"""

import os
import time
from pathlib import Path

import rnnbench
from testplugins.tiny import factory as tiny_factory

FIRST_CASE_SLEEP_S = 3.0
LATER_CASE_SLEEP_S = 0.3
_cases_started = 0


def factory(config):
    global _cases_started
    markers = os.environ.get("RNNBENCH_TEST_MARKERS")
    if markers:
        (Path(markers) / f"{os.getpid()}-{config.seed}").touch()
    time.sleep(FIRST_CASE_SLEEP_S if _cases_started == 0 else LATER_CASE_SLEEP_S)
    _cases_started += 1
    return tiny_factory(config)


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="sleepy", backend="test", family="other", factory=factory,
                                devices=("cpu",), dtypes=("float32",)))
