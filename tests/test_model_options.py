"""Model options (--model-opt ARCH.KEY=VALUE, [model_opt.ARCH]) and the float16 training refusal."""

import dataclasses

import pytest

from rnnbench.errors import UsageError
from rnnbench.execution.runner import run_case
from rnnbench.records import RunSettings, TimerSettings
from rnnbench.request.model_options import refuse_untrainable
from rnnbench.request.options import RunRequest
from rnnbench.request.sweep import expand
from test_sweep_file import resolved, write


def axes(**overrides):
    fields = dict(models=["transformer", "lstm"], tasks=["copy"], hidden=[32], steps=[2], seq_len=[3])
    fields.update(overrides)
    return RunRequest(**fields)


def by_model(expansion):
    return {case.model: case for case in expansion.cases}


def test_an_option_reaches_the_factory_and_the_case_id(registry):
    default = by_model(expand(axes(), registry))
    typed_default = by_model(expand(axes(model_opt={"transformer": {"heads": "0"}}), registry))
    two = by_model(expand(axes(model_opt={"transformer@torch": {"heads": "2"}}), registry))
    assert two["transformer@torch"].model_options == (("heads", 2),)
    assert two["transformer@torch"].case_id != default["transformer@torch"].case_id
    # the default typed out is the same work, so the same case; other models are untouched
    assert typed_default["transformer@torch"].case_id == default["transformer@torch"].case_id
    assert two["lstm@torch"] == default["lstm@torch"] and two["lstm@torch"].model_options == ()
    result = run_case(two["transformer@torch"], registry,
                      RunSettings(scenarios=("forward",), thread_cap=1, timer=TimerSettings(min_run_time=0.001)))
    assert result.status == "ok", result.error
    assert result.details["n_heads"] == 2 and "[heads=2]" in two["transformer@torch"].label()


@pytest.mark.parametrize("options, message", [
    ({"transformer": {"heads": "3"}}, "model 'transformer@torch' at --hidden 32: heads=3 does not divide"),
    ({"transformer": {"heads": "many"}}, "--model-opt transformer.heads: 'many' is not a valid int"),
    ({"transformer": {"head": "2"}}, "--model-opt transformer.head: unknown option for model 'transformer' (options: transformer@torch: heads)"),
    ({"gru": {"heads": "2"}}, "--model-opt gru: not among the models of the sweep"),
])
def test_bad_options_are_refused_before_any_case_runs(registry, options, message):
    with pytest.raises(UsageError) as info:
        expand(axes(model_opt=options), registry)
    assert message in str(info.value)


def test_flags_and_sweep_file_tables_give_the_same_request(tmp_path):
    path = write(tmp_path, 'models = ["transformer"]\n[model_opt.transformer]\nheads = 2\n')
    from_file = resolved(["run", "--sweep", str(path)])
    from_flags = resolved(["run", "--models", "transformer", "--model-opt", "transformer.heads=2"])
    assert from_file.model_opt == {"transformer": {"heads": 2}} and from_flags.model_opt == {"transformer": {"heads": "2"}}
    # the flag wins over the file, per option
    both = resolved(["run", "--sweep", str(path), "--model-opt", "transformer.heads=4"])
    assert both.model_opt == {"transformer": {"heads": "4"}}
    with pytest.raises(UsageError, match="expected ARCH.KEY=VALUE"):
        resolved(["run", "--model-opt", "heads=2"])


def test_training_in_a_dtype_a_model_cannot_train_in_is_refused_with_the_alternative(registry):
    cases = expand(axes(dtype=["float32", "float16"]), registry).cases
    with pytest.raises(UsageError) as info:
        refuse_untrainable(cases, registry)
    message = str(info.value)
    assert "cannot train in float16 on cpu" in message and "bfloat16" in message and "\n" not in message
    refuse_untrainable([c for c in cases if c.dtype != "float16"], registry)  # the rest is fine


def test_the_float16_refusal_is_one_line_before_the_run_and_forward_only_is_allowed(cli, tmp_path):
    proc = cli("run", "--models", "lstm", "--dtype", "float16", "--steps", "2", "--out", tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "lstm@torch cannot train in float16 on cpu" in proc.stderr and "bfloat16" in proc.stderr
    assert not any(tmp_path.iterdir())  # refused before the run: nothing stored


def test_a_spec_declares_options_with_types_and_valid_train_dtypes(registry):
    spec = registry.models["transformer@torch"]
    with pytest.raises(ValueError, match="option 'x' default must be"):
        dataclasses.replace(spec, options={"x": [1]}).validate()
    with pytest.raises(ValueError, match="option_help names options that are not declared: nope"):
        dataclasses.replace(spec, option_help={"nope": "?"}).validate()
    with pytest.raises(ValueError, match="train_dtypes"):
        dataclasses.replace(spec, train_dtypes={"cpu": ("int8",)}).validate()
    assert spec.trains_in("cpu", "bfloat16") and not spec.trains_in("cpu", "float16")
