"""A tiny model whose cases take a while, so a test can kill a worker in the middle of one.

When RNNBENCH_TEST_MARKERS names a folder, each case drops a file ``<pid>-<seed>``
there as it starts, so the test knows which process is running which case.
RNNBENCH_TEST_SLEEP sets how long a case sleeps (seconds, default 1).
"""

import os
import time
from pathlib import Path

import rnnbench
from testplugins.tiny import factory as tiny_factory


def factory(config):
    markers = os.environ.get("RNNBENCH_TEST_MARKERS")
    if markers:
        (Path(markers) / f"{os.getpid()}-{config.seed}").touch()
    time.sleep(float(os.environ.get("RNNBENCH_TEST_SLEEP", "1")))
    return tiny_factory(config)


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="sleepy", backend="test", family="other", factory=factory,
                                devices=("cpu",), dtypes=("float32",)))
