"""``swallow@test``: a model whose build receives SIGTERM where Python cannot raise it.

As numba and llvmlite do while they compile, the factory runs Python code called from a place
that drops exceptions (here a ``__del__``): the SIGTERM it sends itself lands there, and its
KeyboardInterrupt is "ignored". Then the factory goes on for ``SWALLOWER_BUSY_S`` seconds of
ordinary code, where a delivered interrupt stops it.
"""

import os
import signal
import time

import rnnbench
from testplugins.tiny import factory as tiny_factory

SWALLOWER_BUSY_S = 20.0


class _SignalsInDel:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10_000):  # the handler runs between these bytecodes, inside __del__
            pass


def factory(config):
    _SignalsInDel()  # collected at once: __del__ runs now
    deadline = time.monotonic() + SWALLOWER_BUSY_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return tiny_factory(config)


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="swallow", backend="test", family="other", factory=factory,
                                devices=("cpu",), dtypes=("float32",)))
