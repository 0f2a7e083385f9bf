"""A tiny model whose cases take a while, so a test can kill a worker in the middle of one.

When RNNBENCH_TEST_MARKERS names a folder, each case drops a file ``<pid>-<seed>``
there as it starts, so the test knows which process is running which case. A case
that finds the folder empty (the first of a sweep, when the test empties the folder
before it) sleeps long enough for the test to act on its marker even on a loaded
machine; the others sleep briefly, so sweeps stay fast.
"""

import os
import time
from pathlib import Path

import rnnbench
from testplugins.tiny import factory as tiny_factory

FIRST_CASE_SLEEP_S = 3.0
LATER_CASE_SLEEP_S = 0.3


def factory(config):
    sleep = LATER_CASE_SLEEP_S
    markers = os.environ.get("RNNBENCH_TEST_MARKERS")
    if markers:
        folder = Path(markers)
        if not any(folder.iterdir()):
            sleep = FIRST_CASE_SLEEP_S
        (folder / f"{os.getpid()}-{config.seed}").touch()
    time.sleep(sleep)
    return tiny_factory(config)


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="sleepy", backend="test", family="other", factory=factory,
                                devices=("cpu",), dtypes=("float32",)))
