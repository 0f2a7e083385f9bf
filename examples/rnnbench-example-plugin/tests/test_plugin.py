"""The example plugin's own tests: rnnbench's contract checks, plus what is special to it."""

import pytest
import torch

from rnnbench.testing import ContractError, check_model, check_plugin, check_task
from rnnbench_example.model import MODEL_SPEC, MinGRUCore
from rnnbench_example.task import TASK_SPEC


def test_the_plugin_registers_its_model_and_task():
    registry = check_plugin("rnnbench_example.plugin")
    assert registry.models["mingru@example"] is MODEL_SPEC
    assert registry.tasks["parity"] is TASK_SPEC


@pytest.mark.parametrize("scan", ["parallel", "sequential"])
def test_mingru_keeps_the_model_contract(scan):
    report = check_model(MODEL_SPEC, options={"scan": scan})
    assert not report.skipped  # decoding was checked too


def test_parity_keeps_the_task_contract():
    check_task(TASK_SPEC)


def test_the_parallel_scan_computes_what_the_loop_computes():
    torch.manual_seed(0)
    core = MinGRUCore(hidden=8, layers=2, scan="parallel").double()
    x = torch.randn(3, 20, 8, dtype=torch.float64)
    parallel = core(x)
    core.scan = "sequential"
    torch.testing.assert_close(parallel, core(x), rtol=1e-10, atol=1e-10)


def test_an_unknown_scan_is_refused_before_building():
    with pytest.raises(ContractError, match="scan must be one of parallel, sequential"):
        check_model(MODEL_SPEC, options={"scan": "magic"})
