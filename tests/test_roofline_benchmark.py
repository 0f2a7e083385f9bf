"""benchmarks/roofline.py and benchmarks/train_step_scaling.py run, print what they say, and refuse bad input."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_roofline_prints_the_gemm_rate_and_each_models_rates_and_fractions(capsys):
    roofline = load("roofline")
    assert roofline.main(["--quick", "--models", "lstm,mingru", "--sizes", "readme", "--repeats", "1",
                          "--gemm-size", "128"]) == 0
    out = capsys.readouterr().out
    gemm = float(re.search(r"GEMM: torch.mm 128x128 float32: ([\d.]+) GFLOP/s", out).group(1))
    assert gemm > 0 and "time.thread_time, median of 1 calls" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] in (["lstm"], ["mingru"])}
    assert rows.keys() == {"lstm", "mingru"}
    assert rows["mingru"][5] == "fused" and rows["lstm"][5] == "-"
    for cells in rows.values():
        assert cells[1:5] == ["readme", "30", "64", "128"]
        forward, fraction = float(cells[6]), float(cells[7].rstrip("%")) / 100
        assert forward > 0 and fraction == pytest.approx(forward / gemm, rel=0.01, abs=0.001)


def test_roofline_refuses_an_unknown_model_in_one_line(capsys):
    assert load("roofline").main(["--models", "lsmt"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown lsmt" in err


def test_train_step_scaling_runs_the_fused_and_torch_kernels_and_prints_cost_relative_to_lstm(capsys):
    scaling = load("train_step_scaling")
    assert scaling.main(["--lengths", "8,16", "--rounds", "1", "--steps", "1", "--hidden", "8", "--batch", "2",
                         "--variants", "lstm,mingru,mamba,mamba-torch"]) == 0
    out = capsys.readouterr().out
    assert "time.thread_time" in out and "cost relative to lstm" in out
    table = out.split("cost relative to lstm")[1].splitlines()
    assert table[1].split() == ["T", "lstm", "mingru", "mamba", "mamba-torch"]
    assert table[2].split()[:2] == ["8", "1x"]
    # each other variant: the median of its per-round ratios to lstm, then their interquartile range
    medians, ranges = table[2].split()[2::2], table[2].split()[3::2]
    assert len(medians) == len(ranges) == 3 and all(m.endswith("x") for m in medians)
    assert all(r.startswith("(") and r.endswith(")") and "-" in r for r in ranges)


@pytest.mark.slow
def test_roofline_quick_runs_every_built_in_model_at_both_sizes(capsys):
    assert load("roofline").main(["--quick", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count(" readme ") >= 12 and out.count(" long ") >= 12
