"""The built-in plugins pass the contract checks that plugin authors run (rnnbench.testing)."""

import dataclasses

import pytest

from rnnbench.manager import load_registry
from rnnbench.testing import ContractError, check_model, check_task

# Every model and task rnnbench itself registers: a new built-in is checked without being listed here.
_BUILTINS = load_registry()
BUILTIN_MODELS = sorted(n for n in _BUILTINS.models if _BUILTINS.source_of(n).distribution == "rnnbench")
BUILTIN_TASKS = sorted(n for n in _BUILTINS.tasks if _BUILTINS.source_of(n).distribution == "rnnbench")


@pytest.mark.parametrize("name", BUILTIN_MODELS)
def test_builtin_model_contract(registry, name):
    report = check_model(registry.models[name])
    assert len(report.checked) >= 4 and not report.skipped


def test_transformer_heads_option_passes_the_contract(registry):
    report = check_model(registry.models["transformer@torch"], options={"heads": 4})
    assert "'heads': 4" in report.checked[0]


@pytest.mark.parametrize("name", BUILTIN_TASKS)
def test_builtin_task_contract(registry, name):
    # lm cuts its splits by position in the corpus, not by example: at a short window the same
    # characters can recur in two splits, so lm is checked at a length where they do not.
    seq_len = 64 if name == "lm" else None
    report = check_task(registry.tasks[name], seq_len=seq_len)
    assert any("baselines are what guessing scores" in line for line in report.checked)


def test_a_model_whose_step_mutates_its_state_fails_the_check():
    from testplugins.mutating_state import rnnbench_register_models

    specs = []
    rnnbench_register_models(specs.append)
    with pytest.raises(ContractError, match="step\\(\\) changed the state"):
        check_model(specs[0], shapes=[("tokens", "classes")])


def test_a_task_with_a_wrong_baseline_fails_the_check(registry):
    from rnnbench.tasks.copy import CopyTask

    class Overclaiming(CopyTask):
        def baselines(self):
            return {**super().baselines(), "accuracy": 0.5}

    spec = dataclasses.replace(registry.tasks["copy"], factory=lambda o, T, s: Overclaiming(T, 10, 8, s))
    with pytest.raises(ContractError, match="baseline accuracy=0.5"):
        check_task(spec)


def test_option_checks_give_the_cli_s_answer(registry):
    """rnnbench.testing checks options with the code --model-opt/--task-opt go through: same refusal, same line."""
    from rnnbench.errors import UsageError
    from rnnbench.request.model_options import resolve_model_options

    spec = registry.models["transformer@torch"]
    with pytest.raises(UsageError) as cli_error:
        resolve_model_options({spec.name: {"head": 2}}, [spec], [32])
    with pytest.raises(ContractError) as check_error:
        check_model(spec, options={"head": 2})
    assert str(check_error.value).endswith(str(cli_error.value))
    assert check_model(spec, options={"heads": "4"}).checked  # a string converts as on the command line
    from rnnbench.request.sweep import convert_option

    with pytest.raises(UsageError) as cli_error:
        convert_option(registry.tasks["copy"], "delay", 3)
    with pytest.raises(ContractError) as check_error:
        check_task(registry.tasks["copy"], options={"delay": 3})
    assert str(check_error.value).endswith(str(cli_error.value)) and "delay" in str(cli_error.value)


def test_a_plugin_that_registers_only_a_study_passes_check_plugin():
    from rnnbench.testing import check_plugin

    registry = check_plugin("testplugins.tiny_study")
    assert list(registry.studies) == ["tiny-study"] and not registry.models


def test_xlstm_slstm_cell_passes_the_contract(registry):
    # the default cell (mlstm) is checked above; the sequential-only sLSTM cell here, on one shape
    report = check_model(registry.models["xlstm@torch"], options={"cell": "slstm"}, shapes=[("tokens", "classes")])
    assert "'cell': 'slstm'" in report.checked[0]
