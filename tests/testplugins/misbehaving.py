"""Models that fail the hard way, for the ``process`` executor's tests.

Each fails in its factory, before any work, so the tests stay fast:

* ``segfault@test`` reads address 0 (SIGSEGV),
* ``hang@test`` sleeps forever,
* ``hog@test`` allocates until MemoryError, under an address-space limit it sets
  itself so that it cannot eat the machine's memory (and restores afterwards),
* ``exit@test`` calls ``os._exit(3)``,
* ``torchhog@test`` asks torch's CPU allocator for more than an address-space limit it sets
  itself allows, so the allocator fails ("DefaultCPUAllocator: can't allocate memory"),
* ``slow@test`` is the tiny model after a pause of ``RNNBENCH_TEST_SLOW_S`` seconds
  (default 0), so that a test can interrupt a sweep between cases.
"""

import ctypes
import os
import resource
import time

import rnnbench
from testplugins.tiny import factory as tiny_factory

#: headroom above the current address space before MemoryError: small, so the test is quick
HOG_HEADROOM_BYTES = 256 * 2**20
HOG_CHUNK_BYTES = 16 * 2**20


def segfault(config):
    ctypes.string_at(0)


def hang(config):
    while True:
        time.sleep(60)


def _address_space_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def hog(config):
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space_bytes() + HOG_HEADROOM_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    chunks = []
    try:
        while True:  # bytearray pages are mapped but mostly untouched: little real memory is used
            chunks.append(bytearray(HOG_CHUNK_BYTES))
    finally:
        chunks.clear()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def torch_hog(config):
    import torch

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_address_space_bytes() + HOG_HEADROOM_BYTES, hard))
    try:  # twice the headroom: refused at once by the allocator, nothing is touched
        torch.empty(2 * HOG_HEADROOM_BYTES, dtype=torch.uint8)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    raise AssertionError("the allocation should have failed")


def exit_early(config):
    os._exit(3)


def slow(config):
    time.sleep(float(os.environ.get("RNNBENCH_TEST_SLOW_S", "0")))
    log = os.environ.get("RNNBENCH_TEST_COMPUTED_LOG")
    if log:  # a test counts how often each case is computed
        with open(log, "a") as f:
            f.write(f"{config.seed}\n")
    return tiny_factory(config)


@rnnbench.hookimpl
def rnnbench_register_models(register):
    for arch, factory in [("segfault", segfault), ("hang", hang), ("hog", hog), ("exit", exit_early),
                          ("slow", slow), ("torchhog", torch_hog)]:
        register(rnnbench.ModelSpec(arch=arch, backend="test", family="other", factory=factory,
                                    description=f"test model: {factory.__name__}"))
