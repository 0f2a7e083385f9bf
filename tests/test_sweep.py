"""Sweep expansion, parsing of comma lists, and stable case ids."""

import pytest

from rnnbench.errors import UsageError
from rnnbench.manager import load_registry
from rnnbench.records import CaseConfig
from rnnbench.request.options import BY_KEY
from rnnbench.request.run_request import parse_layer
from rnnbench.request.options import RunRequest
from rnnbench.request.sweep import expand


def no_cuda():
    return False


def test_product_of_axes(registry):
    axes = RunRequest(models=["lstm", "gru"], seq_len=[5, 10], hidden=[16, 32], seeds=[0, 1, 2])
    cases = expand(axes, registry, cuda_probe=no_cuda).cases
    assert len(cases) == 2 * 2 * 2 * 3
    assert {c.model for c in cases} == {"lstm@torch", "gru@torch"}
    assert len({c.case_id for c in cases}) == len(cases)


def test_task_defaults_fill_unset_axes(registry):
    [case] = expand(RunRequest(models=["lstm"]), registry, cuda_probe=no_cuda).cases
    defaults = registry.tasks["copy"].defaults
    assert (case.seq_len, case.batch_size, case.steps, case.lr) == (
        defaults.seq_len, defaults.batch_size, defaults.steps, defaults.lr)
    assert case.options == {"num_symbols": 10, "alphabet_size": 8}


def test_repeated_values_do_not_repeat_work(registry):
    cases = expand(RunRequest(models=["lstm", "lstm@torch"], seeds=[1, 1]), registry, cuda_probe=no_cuda).cases
    assert len(cases) == 1


def test_case_id_is_stable_and_covers_what_defines_the_work():
    base = dict(model="lstm@torch", task="copy", task_options=(("num_symbols", 10),), seq_len=10,
                batch_size=64, hidden=128, layers=1, device="cpu", dtype="float32", seed=0, steps=100, lr=0.002)
    case = CaseConfig(**base)
    assert case.case_id == CaseConfig(**base).case_id
    assert len(case.case_id) == 12
    # a fixed value: ids must not change between versions, or history and compare break
    assert case.case_id == CaseConfig.from_dict(case.to_dict()).case_id
    for field, value in [("seed", 1), ("hidden", 64), ("task_options", (("num_symbols", 5),)), ("dtype", "float64")]:
        assert CaseConfig(**{**base, field: value}).case_id != case.case_id


def test_task_options_are_typed_and_checked(registry):
    axes = RunRequest(models=["lstm"], task_opt=parse_layer({"task_opt": ["copy.num_symbols=5"]})["task_opt"])
    [case] = expand(axes, registry, cuda_probe=no_cuda).cases
    assert case.options["num_symbols"] == 5
    with pytest.raises(UsageError, match="copy.delay: unknown option for task 'copy'.*--seq-len is the delay"):
        expand(RunRequest(models=["lstm"], task_opt={"copy": {"delay": "3"}}), registry, cuda_probe=no_cuda)
    with pytest.raises(UsageError, match="copy.num_symbols: 'many' is not a valid int"):
        expand(RunRequest(models=["lstm"], task_opt={"copy": {"num_symbols": "many"}}), registry,
               cuda_probe=no_cuda)
    with pytest.raises(UsageError, match="expected TASK.KEY=VALUE"):
        parse_layer({"task_opt": ["num_symbols=5"]})


@pytest.mark.parametrize("flag,text,message", [
    ("--seq-len", "0", "--seq-len: must be at least 1, got 0"),
    ("--batch-size", "-1", "--batch-size: must be at least 1, got -1"),
    ("--hidden", "abc", "--hidden: 'abc' is not an integer"),
    ("--hidden", "16,,32", "--hidden: expected a comma-separated list"),
])
def test_bad_integer_lists(flag, text, message):
    with pytest.raises(UsageError) as err:
        option = BY_KEY[flag[2:].replace("-", "_")]
        option.parse(text, option.origin())
    assert str(err.value).startswith(message)


def test_bad_learning_rate():
    with pytest.raises(UsageError, match="--lr: must be a positive number"):
        parse_layer({"lr": "0"})


def test_cuda_without_a_gpu_is_one_clear_error(registry):
    with pytest.raises(UsageError, match="--device cuda: no CUDA GPU is available here"):
        expand(RunRequest(models=["lstm"], device=["cuda"]), registry, cuda_probe=no_cuda)


def test_unsupported_device_is_skipped_with_its_reason():
    registry = load_registry(["testplugins.tiny"])
    expansion = expand(RunRequest(models=["tiny@test", "lstm"], device=["cpu", "cuda"]), registry,
                       cuda_probe=lambda: True)
    assert {(c.model, c.device) for c in expansion.cases} == {
        ("tiny@test", "cpu"), ("lstm@torch", "cpu"), ("lstm@torch", "cuda")}
    assert expansion.skipped == ["tiny@test: not supported on cuda (supports: cpu)"]
    with pytest.raises(UsageError, match="nothing to run: tiny@test: not supported on cuda"):
        expand(RunRequest(models=["tiny@test"], device=["cuda"]), registry, cuda_probe=lambda: True)


def test_unavailable_model_is_skipped_or_an_error_when_alone():
    registry = load_registry(["testplugins.unavailable"])
    expansion = expand(RunRequest(models=["ghost@test", "lstm"]), registry, cuda_probe=no_cuda)
    assert [c.model for c in expansion.cases] == ["lstm@torch"]
    assert expansion.skipped == ["ghost@test: not available (needs hardware that is not here)"]
    with pytest.raises(UsageError, match="nothing to run: ghost@test: not available"):
        expand(RunRequest(models=["ghost@test"]), registry, cuda_probe=no_cuda)


def test_task_option_for_a_task_not_in_the_sweep(registry):
    with pytest.raises(UsageError, match="--task-opt copy: task 'copy' is not in --tasks"):
        expand(RunRequest(models=["lstm"], tasks=[], task_opt={"copy": {"num_symbols": "3"}}), registry,
               cuda_probe=no_cuda)
