"""CPU out-of-memory is stored as ``oom``, as CUDA's is (issue 13, item 4)."""

from __future__ import annotations

import errno

import pytest

from rnnbench.store import ResultsStore

FAST = ["--steps", "6", "--hidden", "8", "--batch-size", "4", "--seq-len", "3", "--min-time", "0.01",
        "--scenarios", "forward", "--no-progress"]


def test_torch_cpu_allocator_failure_is_oom(cli_process, tmp_path):
    proc = cli_process("run", "-p", "testplugins.misbehaving", "--models", "torchhog@test", "--out", tmp_path, *FAST)
    assert proc.returncode == 1, proc.stderr
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [run_id] = store.run_ids()
        [result] = store.results(run_id)
    assert result.status == "oom", result.error
    assert "DefaultCPUAllocator: can't allocate memory" in result.error


@pytest.mark.parametrize("exc,status", [
    (MemoryError(), "oom"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory:"
                  " you tried to allocate 10000 bytes. Error code 12 (Cannot allocate memory)"), "oom"),
    (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "oom"),
    (OSError(errno.ENOMEM, "Cannot allocate memory"), "oom"),
    (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), "error"),
    (ValueError("memory layout must be contiguous"), "error"),
])
def test_classification(exc, status):
    from rnnbench.execution.runner import classify_error

    assert classify_error(exc) == status
